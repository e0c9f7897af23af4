"""Tests for speechbrain_mmspeech.inference.quantization: int8 inference option."""

import pytest
import torch
from speechbrain.inference.ASR import EncoderDecoderASR

from speech_audio import speech_batch
from speechbrain_mmspeech.export.folders import write_model_folder
from speechbrain_mmspeech.inference.ASR import encode_whole
from speechbrain_mmspeech.inference.quantization import (
    load_model,
    quantize_model,
)
from speechbrain_mmspeech.tokenizers import CharTokenizer
from tiny_models import TEMPLATE_SIZES, folder_values, model_from_template

TEXTS = ["今天天气很好", "我们去公园", "你好世界"]
TEXT_VOCAB = 24
TINY = {
    **TEMPLATE_SIZES,
    "max_positions": 16,
    "rel_pos_bucket_size": 4,
    "text_vocab_size": TEXT_VOCAB,
    "code_vocab_size": 5,
    "beam_size": 3,
    "no_repeat_ngram_size": 2,
}


def is_int8(module):
    """Whether a Linear-like module holds int8 weights."""
    weight = getattr(module, "weight", None)
    return callable(weight) and weight().dtype == torch.qint8


def write_folder(folder, **values):
    tokenizer = CharTokenizer()
    tokenizer.build(TEXTS, TEXT_VOCAB)
    model = model_from_template(TINY)
    return write_model_folder(
        folder, model, tokenizer, folder_values({**TINY, **values})
    )


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("folders")
    return {
        "fp32": write_folder(root / "fp32"),
        "int8": write_folder(root / "int8", quantize="int8"),
    }


def load(folder, savedir, **overrides):
    return EncoderDecoderASR.from_hparams(
        source=str(folder),
        savedir=str(savedir),
        run_opts={"device": "cpu"},
        overrides=overrides,
    )


def transcribe(asr):
    """Token ids of ``speech_batch`` (audio without speech is not decoded)."""
    words, tokens = asr.transcribe_batch(*speech_batch())
    assert len(words) == 2 and all(tokens)
    return [[int(t) for t in hyp] for hyp in tokens]


def test_int8_folder_loads_through_from_hparams(folders, tmp_path):
    text = (folders["int8"] / "hyperparams.yaml").read_text(encoding="utf-8")
    assert '\nquantize: "int8"\n' in text
    asr = load(folders["int8"], tmp_path)
    model = asr.mods.transformer
    assert is_int8(model.decoder.layers[0].fc1)
    assert is_int8(model.encoder.encoder.layers[0].self_attn.q_proj)
    assert is_int8(model.decoder.output_projection)
    # Only the text ids are kept and scored.
    assert model.decoder.output_projection.weight().shape[0] == TEXT_VOCAB
    for hyp in transcribe(asr):
        assert all(2 < t < TEXT_VOCAB for t in hyp)


def test_int8_by_override_and_fp32_by_default(folders, tmp_path):
    fp32 = load(folders["fp32"], tmp_path / "a")
    assert isinstance(
        fp32.mods.transformer.decoder.layers[0].fc1, torch.nn.Linear
    )
    int8 = load(folders["fp32"], tmp_path / "b", quantize="int8")
    assert is_int8(int8.mods.transformer.decoder.layers[0].fc1)
    # The int8 model decodes the same noise to the same kind of output,
    # and its encoder states stay close to the fp32 ones.
    transcribe(int8)
    wavs, lens = speech_batch()
    expected = encode_whole(fp32, wavs, lens)
    actual = encode_whole(int8, wavs, lens)
    d_model = TINY["d_model"]
    error = (actual - expected)[..., :d_model].abs().max()
    assert error < 0.1 * expected[..., :d_model].abs().max()
    back = load(folders["int8"], tmp_path / "c", quantize="none")
    assert isinstance(
        back.mods.transformer.decoder.layers[0].fc1, torch.nn.Linear
    )


def test_use_cache_override_gives_the_same_hypotheses(folders, tmp_path):
    cached = load(folders["fp32"], tmp_path / "a")
    # modules.decoder decodes segments with the searcher, hparams.decoder.
    assert cached.mods.decoder.searcher is cached.hparams.decoder
    assert cached.hparams.decoder.use_cache
    uncached = load(folders["fp32"], tmp_path / "b", use_cache=False)
    assert not uncached.hparams.decoder.use_cache
    assert transcribe(cached) == transcribe(uncached)


def test_bad_mode_is_refused(folders, tmp_path):
    model = model_from_template(TINY)
    with pytest.raises(ValueError, match="quantize is 'int4'"):
        quantize_model(model, "int4")
    with pytest.raises(ValueError, match="quantize is 'fp16'"):
        load_model(model, folders["fp32"] / "model.ckpt", quantize="fp16")
