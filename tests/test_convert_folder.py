"""Tests for speechbrain_mmspeech.convert.folder.

The written model folder loads and decodes through ``from_hparams`` (see
``official_layouts``).
"""

import pytest
from speechbrain.inference.ASR import EncoderDecoderASR

from official_layouts import (
    BERT_LINES,
    SPECIALS,
    TEXT_VOCAB,
    TINY,
    fairseq_inputs,
    load_asr,
)
from speech_audio import speech_batch
from speechbrain_mmspeech.convert import ConversionError, convert_fairseq


def test_hyperparameters_follow_the_checkpoints(converted):
    ms = dict(converted["reports"]["modelscope"]["hyperparameters"])
    fs = dict(converted["reports"]["fairseq"]["hyperparameters"])
    # Only the official maximum length differs (MS 128, fairseq eval 256).
    assert ms.pop("max_decode_length") == 128
    assert fs.pop("max_decode_length") == 256
    assert ms == fs
    architecture = fs["architecture"]
    for key, value in TINY.items():
        assert architecture[key] == value, key
    assert architecture["context_layer"] == 6
    assert architecture["phone_vocab_size"] == 141
    assert architecture["scale_embedding"]
    assert architecture["entangle_position_embedding"]
    assert fs["norm_type"] == "sentence" and architecture["n_mels"] == 80
    assert fs["beam_size"] == 5 and fs["no_repeat_ngram_size"] == 5
    assert fs["min_decode_length"] == 1
    text = (converted["modelscope"] / "hyperparams.yaml").read_text()
    assert "\nmax_decode_length: 128\n" in text
    assert f"text_vocab_size: {TEXT_VOCAB}," in text


def test_decoding_through_from_hparams(converted, tmp_path):
    asr = load_asr(converted["fairseq"], tmp_path / "save")
    assert asr.tokenizer.tokens == [
        *SPECIALS,
        *BERT_LINES,
        "<mask>",
        "<blank>",
    ]
    other = load_asr(converted["modelscope"], tmp_path / "save_ms")
    assert other.tokenizer.tokens == asr.tokenizer.tokens
    # Speech: audio without any is not decoded at all.
    wavs, lens = speech_batch()
    words, tokens = asr.transcribe_batch(wavs, lens)
    assert len(words) == 2 and all(isinstance(w, str) for w in words)
    for hyp in tokens:
        assert 1 <= len(hyp) < TINY["max_positions"]
        assert all(2 <= int(t) < TEXT_VOCAB for t in hyp)
    # Official lengths: at least one token, at most max_len_b (here the
    # 15 learned positions bind first).
    assert asr.hparams.decoder.change_max_decoding_length(0, 1000) == (1, 15)
    short = EncoderDecoderASR.from_hparams(
        source=str(converted["fairseq"]),
        savedir=str(tmp_path / "short"),
        overrides={"max_decode_length": 3},
        run_opts={"device": "cpu"},
    )
    assert short.hparams.decoder.change_max_decoding_length(0, 1000) == (1, 3)
    _, tokens = short.transcribe_batch(wavs, lens)
    assert all(1 <= len(hyp) <= 3 for hyp in tokens)


def test_existing_output_needs_overwrite(converted, tmp_path):
    inputs = fairseq_inputs(converted["root"] / "fs")
    output = tmp_path / "out"
    output.mkdir()
    (output / "old.txt").write_text("old")
    with pytest.raises(ConversionError, match="already exists"):
        convert_fairseq(**inputs, output=output)
    assert (output / "old.txt").is_file()
    convert_fairseq(**inputs, output=output, overwrite=True)
    assert not (output / "old.txt").exists()
    assert (output / "model.ckpt").is_file()
