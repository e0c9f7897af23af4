"""Tests of the AISHELL-1 data preparation (``speechbrain_mmspeech.dataio.aishell_prepare``).

They run on the tiny mini-AISHELL corpus, in its downloaded form (tars) and
in its extracted form.

Authors
 * MMSpeech plugin contributors 2026
"""

import csv
import doctest
import logging
import shutil

import pytest
import soundfile as sf

from speechbrain_mmspeech.dataio import aishell_prepare

HEADER = ["ID", "duration", "wav", "spk_id", "transcript"]


@pytest.fixture
def data_folder(tiny_corpus, tmp_path):
    """A private copy of the tiny corpus's ``data_aishell`` (tars)."""
    return shutil.copytree(tiny_corpus / "data_aishell", tmp_path / "data")


@pytest.fixture
def extracted_folder(data_folder):
    """The tiny corpus with its tars extracted by hand and removed."""
    wav = data_folder / "wav"
    for archive in sorted(wav.glob("*.tar.gz")):
        aishell_prepare.unpack(archive, wav)
        archive.unlink()
    return data_folder


def read_csv(path):
    """Header and rows (dicts) of a CSV."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def read_transcripts(data_folder):
    """Utterance id -> transcript, from the transcript file."""
    path = data_folder / aishell_prepare.TRANSCRIPT_RELPATH
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split(" ", 1) for line in lines)


def check_csvs(save_folder, data_folder, tiny_settings):
    """Asserts the three CSVs are complete and consistent with the data."""
    transcripts = read_transcripts(data_folder)
    seen = set()
    for split in ("train", "dev", "test"):
        header, rows = read_csv(save_folder / f"{split}.csv")
        assert header == HEADER
        n_speakers = tiny_settings[f"n_{split}_speakers"]
        assert len(rows) == n_speakers * tiny_settings["utts_per_speaker"]
        for row in rows:
            wav = (
                data_folder / "wav" / split / row["spk_id"] / f"{row['ID']}.wav"
            )
            assert row["wav"] == str(wav.resolve())
            info = sf.info(row["wav"])
            assert float(row["duration"]) == pytest.approx(
                info.frames / info.samplerate
            )
            assert row["transcript"] == transcripts[row["ID"]]
            assert row["ID"][6:11] == row["spk_id"]
        seen.update(row["ID"] for row in rows)
    assert seen == set(transcripts)


def test_prepare_from_tars(data_folder, tmp_path, tiny_settings):
    """Downloaded form: tars are unpacked (and kept), CSVs are right."""
    save = tmp_path / "prep"
    aishell_prepare.prepare_aishell(data_folder, save)
    check_csvs(save, data_folder, tiny_settings)
    assert list((data_folder / "wav").glob("*.tar.gz"))
    assert aishell_prepare.extract_archives(data_folder / "wav") == 0


def test_prepare_from_extracted(extracted_folder, tmp_path, tiny_settings):
    """Extracted form: the same CSVs without any archive."""
    save = tmp_path / "prep"
    aishell_prepare.prepare_aishell(extracted_folder, save)
    check_csvs(save, extracted_folder, tiny_settings)


def test_existing_csvs_are_kept(data_folder, tmp_path, caplog):
    """A second call skips (and says so) unless asked to overwrite."""
    save = tmp_path / "prep"
    aishell_prepare.prepare_aishell(data_folder, save)
    mtime = (save / "train.csv").stat().st_mtime_ns
    with caplog.at_level(logging.INFO):
        aishell_prepare.prepare_aishell(data_folder, save)
    assert "skipping" in caplog.text
    assert (save / "train.csv").stat().st_mtime_ns == mtime
    aishell_prepare.prepare_aishell(data_folder, save, overwrite=True)
    assert (save / "train.csv").stat().st_mtime_ns != mtime


def test_skip_prep_does_nothing(tmp_path):
    """skip_prep=True touches nothing, even with a missing data folder."""
    aishell_prepare.prepare_aishell(
        tmp_path / "nowhere", tmp_path / "prep", True
    )
    assert not (tmp_path / "prep").exists()


def test_missing_transcript_is_counted(extracted_folder, tmp_path, caplog):
    """A wav without transcript and a transcript without wav are counted."""
    transcript = extracted_folder / aishell_prepare.TRANSCRIPT_RELPATH
    lines = transcript.read_text(encoding="utf-8").splitlines()
    dropped = lines.pop(0)  # the first train utterance loses its text
    transcript.write_text("\n".join(lines) + "\n", encoding="utf-8")
    orphan = lines[-1].split()[0]  # the last test utterance loses its audio
    next((extracted_folder / "wav").glob(f"test/*/{orphan}.wav")).unlink()

    save = tmp_path / "prep"
    with caplog.at_level(logging.INFO):
        aishell_prepare.prepare_aishell(extracted_folder, save)
    assert "train: skipped 1 wavs without a transcript" in caplog.text
    assert "1 transcripts have no (usable) wav" in caplog.text
    ids = {
        r["ID"]
        for s in ("train", "test")
        for r in read_csv(save / f"{s}.csv")[1]
    }
    assert dropped.split()[0] not in ids and orphan not in ids


def test_unreadable_audio_is_named_and_counted(
    extracted_folder, tmp_path, caplog
):
    """A corrupt or empty wav is skipped, named and counted."""
    bad = sorted((extracted_folder / "wav").glob("dev/*/*.wav"))
    bad[0].write_bytes(b"not a wav file")
    sf.write(bad[1], [], 16000, subtype="PCM_16")
    save = tmp_path / "prep"
    with caplog.at_level(logging.INFO):
        aishell_prepare.prepare_aishell(extracted_folder, save)
    assert str(bad[0]) in caplog.text and str(bad[1]) in caplog.text
    assert "dev: skipped 2 unreadable or empty wavs" in caplog.text
    ids = {r["ID"] for r in read_csv(save / "dev.csv")[1]}
    assert not ids & {bad[0].stem, bad[1].stem}


def test_missing_transcript_file_is_an_error(data_folder, tmp_path):
    """No transcript file: an error naming the expected path."""
    path = data_folder / aishell_prepare.TRANSCRIPT_RELPATH
    path.unlink()
    with pytest.raises(FileNotFoundError, match=str(path)):
        aishell_prepare.prepare_aishell(data_folder, tmp_path / "prep")


def test_missing_wav_folder_is_an_error(data_folder, tmp_path):
    """No wav folder: an error naming it."""
    shutil.rmtree(data_folder / "wav")
    with pytest.raises(FileNotFoundError, match="wav folder"):
        aishell_prepare.prepare_aishell(data_folder, tmp_path / "prep")


def test_missing_split_is_an_error(extracted_folder, tmp_path):
    """A split folder missing after extraction: an error naming it."""
    shutil.rmtree(extracted_folder / "wav" / "dev")
    with pytest.raises(FileNotFoundError, match="split folder"):
        aishell_prepare.prepare_aishell(extracted_folder, tmp_path / "prep")


def test_docstring_examples(request):
    """The module's ``>>>`` examples run."""
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(
        aishell_prepare,
        extraglobs={"getfixture": request.getfixturevalue},
        optionflags=flags,
    )
    assert result.failed == 0
