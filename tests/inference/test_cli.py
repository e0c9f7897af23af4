"""Tests for speechbrain_mmspeech.inference.cli: the mmspeech-transcribe CLI."""

import json
import re

import numpy as np
import pytest
import torch

from speech_audio import PHRASES, SAMPLE_RATE, speak, white_noise, write_wav
from speechbrain_mmspeech.export.folders import LM_FILE, write_model_folder
from speechbrain_mmspeech.inference import cli as transcribe
from speechbrain_mmspeech.inference.cli import main, parse_args
from speechbrain_mmspeech.tokenizers import CharTokenizer
from tiny_models import FOLDER_SETTINGS as TINY
from tiny_models import FOLDER_TEXT_VOCAB as TEXT_VOCAB
from tiny_models import FOLDER_TEXTS as TEXTS
from tiny_models import (
    LM_TEMPLATE_SIZES,
    folder_values,
    model_from_template,
    tiny_language_model,
)

SRT_CUE = re.compile(
    r"^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n.+\n\n"
)


def write_folder(folder, language_model=None, **values):
    tokenizer = CharTokenizer()
    tokenizer.build(TEXTS, TEXT_VOCAB)
    values = {**TINY, **values}
    if language_model is not None:
        values.update(LM_TEMPLATE_SIZES)
    return write_model_folder(
        folder,
        model_from_template(values),
        tokenizer,
        folder_values(values),
        language_model=language_model,
    )


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("model"))


def utterance(phrase, seconds_around=0.5):
    """16 kHz speech with silence around it."""
    pause = torch.zeros(round(seconds_around * SAMPLE_RATE))
    speech = speak(phrase)
    return torch.cat([pause, 0.5 * speech / speech.abs().max(), pause])


@pytest.fixture(scope="module")
def audio_folder(tmp_path_factory):
    """Speech in wav and flac (one nested), silence, and a corrupt file."""
    folder = tmp_path_factory.mktemp("audio")
    (folder / "sub").mkdir()
    write_wav(folder / "a.wav", utterance(PHRASES[0]).numpy())
    write_wav(folder / "sub" / "b.flac", utterance(PHRASES[2]).numpy())
    write_wav(folder / "quiet.wav", np.zeros(SAMPLE_RATE, np.float32))
    write_wav(folder / "noise.wav", white_noise(2, 0.3).numpy())
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x01not really a wav")
    (folder / "notes.txt").write_text("not audio")
    return folder


def run(capsys, *argv):
    """Runs the CLI; returns exit code, stdout and stderr."""
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_folder_with_a_corrupt_file_in_every_format(
    model_folder, audio_folder, tmp_path, capsys
):
    broken = audio_folder / "broken.wav"
    code, out, err = run(
        capsys, model_folder, audio_folder, "--batch-size", 2, "--threads", 1
    )
    assert code == 1
    assert f"FAILED {broken}: " in err and "files failed" in err
    assert "file/s" in err or "it/s" in err or "%" in err  # progress bar
    lines = dict(line.split("\t") for line in out.splitlines())
    speech = [audio_folder / "a.wav", audio_folder / "sub" / "b.flac"]
    silent = [audio_folder / "noise.wav", audio_folder / "quiet.wav"]
    assert set(lines) == {str(path) for path in speech + silent}
    assert all(lines[str(path)] for path in speech)
    assert all(lines[str(path)] == "" for path in silent)

    jsonl = tmp_path / "out" / "all.jsonl"
    code, out, err = run(
        capsys, model_folder, audio_folder, "--format", "jsonl",
        "--output", jsonl, "--no-progress",
    )  # fmt: skip
    assert code == 1 and out == "" and str(broken) in err
    records = {
        record["id"]: record
        for record in map(json.loads, jsonl.read_text("utf-8").splitlines())
    }
    assert set(records) == set(lines)
    for path in speech:
        record = records[str(path)]
        assert record["text"] == lines[str(path)]
        (segment,) = record["segments"]
        assert 0 <= segment["start"] < segment["end"] <= record["duration"]
        assert "".join(c["char"] for c in segment["chars"]) == record["text"]
        for char in segment["chars"]:
            assert segment["start"] <= char["start"] <= char["end"]
            assert char["end"] <= segment["end"]
            assert 0 < char["confidence"] <= 1 and "pinyin" in char
    assert records[str(silent[1])]["segments"] == []

    subtitles = tmp_path / "srt"
    code, _, err = run(
        capsys, model_folder, audio_folder, "--format", "srt",
        "--output", subtitles,
    )  # fmt: skip
    assert code == 1 and str(broken) in err
    written = sorted(
        p.relative_to(subtitles).as_posix() for p in subtitles.rglob("*")
    )
    assert written == ["a.srt", "noise.srt", "quiet.srt", "sub", "sub/b.srt"]
    assert SRT_CUE.match((subtitles / "a.srt").read_text("utf-8"))
    assert (subtitles / "quiet.srt").read_text("utf-8") == ""


def test_wav_scp_csv_and_files(model_folder, audio_folder, tmp_path, capsys):
    scp = tmp_path / "wav.scp"
    scp.write_text(f"utt1 {audio_folder / 'a.wav'}\nutt2 missing.wav\n")
    manifest = tmp_path / "test.csv"
    manifest.write_text(
        "ID,duration,wav,transcript\n"
        f"utt3,1.0,{audio_folder / 'sub' / 'b.flac'},你好\n"
    )
    single = audio_folder / "quiet.wav"
    code, out, err = run(
        capsys, model_folder, scp, manifest, single, "--beam-size", 3
    )
    assert code == 1
    assert f"FAILED {tmp_path / 'missing.wav'}: FileNotFoundError" in err
    ids = [line.split("\t")[0] for line in out.splitlines()]
    assert ids == ["utt1", "utt3", str(single)]
    # Nothing to do with a good list: exit code 0.
    scp.write_text(f"utt1 {audio_folder / 'a.wav'}\n")
    assert run(capsys, model_folder, scp)[0] == 0


def test_decoding_options_reach_the_model(
    model_folder, tmp_path, capsys, monkeypatch
):
    loaded = []
    load_model = transcribe.load_asr

    def recording_load_model(args, workdir):
        loaded.append(load_model(args, workdir))
        return loaded[-1]

    monkeypatch.setattr(transcribe, "load_asr", recording_load_model)
    wav = write_wav(tmp_path / "a.wav", utterance(PHRASES[1]).numpy())
    assert run(capsys, model_folder, wav, "--beam-size", 3)[0] == 0
    assert loaded[-1].hparams.decoder.beam_size == 3
    # Settings the folder does not have are refused, naming them.
    code, _, err = run(capsys, model_folder, wav, "--phone-ctc-weight", 0.3)
    assert code == 2 and "phone_ctc_weight" in err
    code, _, err = run(capsys, model_folder, wav, "--lm", tmp_path)
    assert code == 2 and "--lm" in err
    phone = write_folder(tmp_path / "phone", phone_ctc_weight=0.5)
    assert run(capsys, phone, wav, "--phone-ctc-weight", 0.2)[0] == 0
    assert loaded[-1].hparams.decoder.ctc_weight == pytest.approx(0.2)
    with_lm = write_folder(
        tmp_path / "lm", language_model=tiny_language_model(TEXT_VOCAB)
    )
    other_lm = tiny_language_model(TEXT_VOCAB, seed=1)
    (tmp_path / "other").mkdir()
    torch.save(other_lm.state_dict(), tmp_path / "other" / LM_FILE)
    argv = [with_lm, wav, "--lm", tmp_path / "other", "--lm-weight", 0.1]
    assert run(capsys, *argv)[0] == 0
    assert loaded[-1].hparams.lm_weight == pytest.approx(0.1)
    for key, value in loaded[-1].mods.lm_model.state_dict().items():
        assert torch.equal(value, other_lm.state_dict()[key]), key


def test_command_line_errors(model_folder, tmp_path, capsys):
    with pytest.raises(SystemExit):
        parse_args([str(model_folder), "a.wav", "--format", "srt"])
    assert "--output" in capsys.readouterr().err
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("name,duration\nu1,1.0\n")
    code, _, err = run(capsys, model_folder, bad_csv)
    assert code == 2 and "audio column" in err
