"""Tests for speechbrain_mmspeech.inference.quantization: int8 and bf16."""

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
from speechbrain_mmspeech.nnet.precision import (
    BFloat16Convolution,
    BFloat16Linear,
)
from speechbrain_mmspeech.tokenizers import CharTokenizer
from tiny_models import (
    TEMPLATE_SIZES,
    folder_values,
    load_folder,
    model_from_template,
)

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


def transcribe(asr):
    """Token ids of ``speech_batch`` (audio without speech is not decoded)."""
    words, tokens = asr.transcribe_batch(*speech_batch())
    assert len(words) == 2 and all(tokens)
    return [[int(t) for t in hyp] for hyp in tokens]


def test_int8_folder_loads_through_from_hparams(folders, tmp_path):
    text = (folders["int8"] / "hyperparams.yaml").read_text(encoding="utf-8")
    assert '\nquantize: "int8"\n' in text
    asr = load_folder(EncoderDecoderASR, folders["int8"], tmp_path)
    model = asr.mods.transformer
    assert is_int8(model.decoder.layers[0].fc1)
    assert is_int8(model.encoder.encoder.layers[0].self_attn.q_proj)
    assert is_int8(model.decoder.output_projection)
    # Only the text ids are kept and scored.
    assert model.decoder.output_projection.weight().shape[0] == TEXT_VOCAB
    for hyp in transcribe(asr):
        assert all(2 < t < TEXT_VOCAB for t in hyp)


def test_int8_by_override_and_fp32_by_default(folders, tmp_path):
    fp32 = load_folder(EncoderDecoderASR, folders["fp32"], tmp_path / "a")
    assert isinstance(
        fp32.mods.transformer.decoder.layers[0].fc1, torch.nn.Linear
    )
    int8 = load_folder(
        EncoderDecoderASR, folders["fp32"], tmp_path / "b", quantize="int8"
    )
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
    back = load_folder(
        EncoderDecoderASR, folders["int8"], tmp_path / "c", quantize="none"
    )
    assert isinstance(
        back.mods.transformer.decoder.layers[0].fc1, torch.nn.Linear
    )


def test_use_cache_override_gives_the_same_hypotheses(folders, tmp_path):
    cached = load_folder(EncoderDecoderASR, folders["fp32"], tmp_path / "a")
    # modules.decoder decodes segments with the searcher, hparams.decoder.
    assert cached.mods.decoder.searcher is cached.hparams.decoder
    assert cached.hparams.decoder.use_cache
    uncached = load_folder(
        EncoderDecoderASR, folders["fp32"], tmp_path / "b", use_cache=False
    )
    assert not uncached.hparams.decoder.use_cache
    assert transcribe(cached) == transcribe(uncached)


def test_bad_mode_is_refused(folders, tmp_path):
    model = model_from_template(TINY)
    with pytest.raises(ValueError, match="quantize is 'int4'"):
        quantize_model(model, "int4")
    with pytest.raises(ValueError, match="quantize is 'fp16'"):
        load_model(model, folders["fp32"] / "model.ckpt", quantize="fp16")


# ------------------------------------------------------------------ bf16 ---
def weight_tensors(model):
    """Every parameter and buffer of ``model`` (packed bf16 weights too)."""
    return [*model.parameters(), *model.buffers()]


class CastRecorder(torch.utils._python_dispatch.TorchDispatchMode):
    """Records the tensors that dtype conversions read."""

    def __init__(self):
        super().__init__()
        self.cast = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._to_copy.default:
            self.cast.append(args[0])
        return func(*args, **(kwargs or {}))


def casts_weights(model, run):
    """Whether ``run()`` converts any parameter or buffer of ``model``."""
    with CastRecorder() as recorder:
        run()
    weights = {id(t) for t in weight_tensors(model)}
    pointers = {t.data_ptr() for t in weight_tensors(model) if not t.is_mkldnn}
    return any(
        id(t) in weights or (not t.is_mkldnn and t.data_ptr() in pointers)
        for t in recorder.cast
    )


def teacher_forced_logits(asr, tokens):
    """Encoder memory and logits of ``tokens`` on ``speech_batch``."""
    memory = encode_whole(asr, *speech_batch())
    model = asr.mods.transformer
    with torch.no_grad():
        hidden, _ = model.decode(tokens, memory)
        return memory, model.decoder.project(hidden, TEXT_VOCAB)


def test_bf16_folder_loads_through_from_hparams(tmp_path, monkeypatch):
    folder = write_folder(tmp_path / "bf16", precision="bf16")
    text = (folder / "hyperparams.yaml").read_text(encoding="utf-8")
    assert '\nprecision: "bf16"\n' in text
    asr = load_folder(EncoderDecoderASR, folder, tmp_path / "save")
    model = asr.mods.transformer
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    bf16 = [m for m in model.modules() if isinstance(m, BFloat16Linear)]
    assert linears == [] and len(bf16) > 10  # every Linear, once
    assert all(m.weight.dtype == torch.bfloat16 for m in bf16)
    assert model.decoder.output_projection.out_features == TEXT_VOCAB
    convs = [m for m in model.modules() if isinstance(m, BFloat16Convolution)]
    assert all(m.conv.weight.dtype == torch.bfloat16 for m in convs)
    # What is not a Linear or a convolution stays fp32.
    assert model.decoder.layer_norm.weight.dtype == torch.float32
    assert model.decoder.embed_tokens.weight.dtype == torch.float32
    # Decoding: the searcher's log-probs are fp32, and no weight is cast.
    searcher = asr.hparams.decoder
    step, log_prob_dtypes = searcher.forward_step, set()

    def recording_step(*args):
        log_probs, memory, attn = step(*args)
        log_prob_dtypes.add(log_probs.dtype)
        return log_probs, memory, attn

    monkeypatch.setattr(searcher, "forward_step", recording_step)
    hyps = []
    assert not casts_weights(model, lambda: hyps.extend(transcribe(asr)))
    assert log_prob_dtypes == {torch.float32}
    assert all(2 < t < TEXT_VOCAB for hyp in hyps for t in hyp)
    assert all(m.weight.dtype == torch.bfloat16 for m in bf16)
    # The phone head reads the fp32 phone table: fp32 log-probs.
    memory = encode_whole(asr, *speech_batch())
    phones = model.encoder.phone_logits(memory[..., : TINY["d_model"]])
    assert phones.log_softmax(-1).dtype == torch.float32


def test_the_weight_cast_check_sees_autocast(folders, tmp_path):
    """``casts_weights`` catches what autocast does at every step."""
    asr = load_folder(EncoderDecoderASR, folders["fp32"], tmp_path)
    model = asr.mods.transformer
    tokens = torch.tensor([[0, 5, 6], [0, 7, 8]])

    def autocast_decode():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            teacher_forced_logits(asr, tokens)

    assert casts_weights(model, autocast_decode)
    assert not casts_weights(model, lambda: teacher_forced_logits(asr, tokens))


# bf16 keeps 8 significant bits (each rounding is off by at most 2**-9,
# 0.2%); between the fbank and the logits the tiny model rounds the inputs
# and outputs of about 20 Linear layers and convolutions in sequence,
# LayerNorms in between keeping the errors relative. Measured: 0.6% of the largest state
# and of the largest logit; bounded at 2%.
BF16_RELATIVE_TOLERANCE = 0.02


def test_bf16_logits_match_fp32(folders, tmp_path):
    fp32 = load_folder(EncoderDecoderASR, folders["fp32"], tmp_path / "a")
    bf16 = load_folder(
        EncoderDecoderASR, folders["fp32"], tmp_path / "b", precision="bf16"
    )
    decoder = bf16.mods.transformer.decoder
    assert isinstance(decoder.layers[0].fc1, BFloat16Linear)
    tokens = torch.tensor([[0, 5, 6, 7, 9, 11], [0, 7, 8, 4, 12, 13]])
    memory, logits = teacher_forced_logits(fp32, tokens)
    memory_bf16, logits_bf16 = teacher_forced_logits(bf16, tokens)
    assert memory_bf16.dtype == logits_bf16.dtype == torch.float32
    d_model = TINY["d_model"]
    hidden, hidden_bf16 = memory[..., :d_model], memory_bf16[..., :d_model]
    error = (hidden_bf16 - hidden).abs().max()
    assert error < BF16_RELATIVE_TOLERANCE * hidden.abs().max()
    logit_error = (logits_bf16 - logits).abs().max()
    assert logit_error < BF16_RELATIVE_TOLERANCE * logits.abs().max()
    # A log-softmax moves by the logit's change plus at most the largest
    # change of any logit (that of the log-sum-exp).
    log_probs, log_probs_bf16 = (
        logits.log_softmax(-1),
        logits_bf16.log_softmax(-1),
    )
    assert (log_probs_bf16 - log_probs).abs().max() <= 2 * logit_error + 1e-6


def test_bad_precision_is_refused(folders, tmp_path):
    model = model_from_template(TINY)
    path = folders["fp32"] / "model.ckpt"
    with pytest.raises(ValueError, match="precision is 'fp16'"):
        load_model(model, path, precision="fp16")
    with pytest.raises(ValueError, match="int8 and precision: bf16 cannot"):
        load_model(model, path, quantize="int8", precision="bf16")
    with pytest.raises(ValueError, match="precision is 'half'"):
        load_folder(
            EncoderDecoderASR, folders["fp32"], tmp_path / "a", precision="half"
        )
    with pytest.raises(ValueError, match="cannot be combined"):
        load_folder(
            EncoderDecoderASR, folders["int8"], tmp_path / "b", precision="bf16"
        )
