"""Self-made official MMSpeech checkpoints for the converter tests.

Nothing can be downloaded, so a random tiny MMSpeech is written in both
official layouts (a ModelScope folder and a fairseq ``.pt``, with the
official tensor names, including the tensors ASR does not use) and
converted back. This checks the name mapping, the strict matching, the
vocabularies, the front end and the decoding settings; it cannot check that
the real files use these names and values (see the README section "Using
the official MMSpeech weights").

The checkpoints are written as the official scripts train them (OFA
``run_scripts/mmspeech/mmspeech_cn_base_stage*.sh``): the decoder's
``code_layernorm_embedding`` on and saved, a ``text2phone_path`` in the
task, the relative-position buckets saved for 1024 positions (the source
model is built with that table), and ``fbank_config.yaml`` with a ``test``
split. The writers take configuration overrides for the variants the tests
convert (a 142-row phone table, ``disable_entangle``,
``encoder_normalize_before``, beam keys left out).

The test files import this module by name, as ``tiny_models``; the
``converted`` fixture of ``tests/conftest.py`` calls ``convert_both``.

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import json

import numpy as np
import torch
from speechbrain.inference.ASR import EncoderDecoderASR

from speechbrain_mmspeech.convert.fairseq import convert_fairseq
from speechbrain_mmspeech.convert.modelscope import convert_modelscope
from speechbrain_mmspeech.convert.official import (
    REL_POS_MAX_POSITIONS,
    unused_official_tensors,
)
from speechbrain_mmspeech.lobes.models.mmspeech import MMSpeech
from speechbrain_mmspeech.tokenizers import default_phone_dict_symbols
from tiny_models import folder_values

# A tiny BERT-style vocabulary (the official one has 21128 lines).
BERT_LINES = ["[PAD]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BERT_LINES += ["\u2028", "##s", *"今天气很好我们去公园你世界"]
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
TEXT_VOCAB = len(SPECIALS) + len(BERT_LINES) + 2  # + <mask> <blank>
AUDIO_CODES = 5
TINY = {
    "d_model": 16,
    "nhead": 2,
    "num_encoder_layers": 7,  # phones join before layer 6, as officially
    "num_decoder_layers": 2,
    "d_ffn": 32,
    "subsample_channels": 16,
    "pos_conv_depth": 2,
    "pos_conv_kernel": 3,  # max(3, conv_pos 7 // depth 2)
    "pos_conv_groups": 2,
    "max_positions": 16,
    # Half of it exact, the rest log-spaced: the table's span matters.
    "rel_pos_bucket_size": 8,
    "text_vocab_size": TEXT_VOCAB,
    "code_vocab_size": AUDIO_CODES,
}
CONV_POS = 7
# The phone table of OFA's task without text2phone_path: + <blank>.
PHONES_WITH_BLANK = 142
MODELSCOPE_CONFIG = {
    "model_type": "mmspeech",
    "architectures": ["MMSpeechModel"],
    "vocab_size": TEXT_VOCAB + AUDIO_CODES,
    "d_model": 16,
    "encoder_layers": 7,
    "decoder_layers": 2,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 32,
    "decoder_ffn_dim": 32,
    "scale_embedding": True,
    "entangle_position_embedding": True,
    "disable_entangle": False,
    "code_layernorm_embedding": False,  # the tensor is saved all the same
    "encoder_normalize_before": True,
    "decoder_normalize_before": True,
    "share_attn_bias": False,
    "use_ofasys": False,
    "normformer": True,
    "phone_vocab_size": 141,
    "phone_dict_size": 124,
    "encoder_pos_conv_depth": 2,
    "encoder_conv_pos": CONV_POS,
    "encoder_conv_pos_groups": 2,
    "max_position_embeddings": 16,
    "token_bucket_size": 8,
    "image_bucket_size": 42,
}
CONFIGURATION = {
    "framework": "pytorch",
    "task": "auto-speech-recognition",
    "model": {
        "type": "ofa",
        "beam_search": {
            "beam_size": 5,
            "max_len_b": 128,
            "min_len": 1,
            "no_repeat_ngram_size": 5,
            "constraint_range": f"4,{TEXT_VOCAB}",
        },
        "seed": 7,
        "max_src_length": 256,
        "language": "zh",
        "gen_type": "generation",
        "multimodal_type": "mmspeech",
    },
    "pipeline": {"type": "ofa-asr"},
}
FAIRSEQ_MODEL_CFG = {
    "_name": "ofa_speech",
    "arch": "ofa_speech_base",
    "encoder_embed_dim": 16,
    "decoder_embed_dim": 16,
    "encoder_layers": 7,
    "decoder_layers": 2,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_embed_dim": 32,
    "decoder_ffn_embed_dim": 32,
    "no_scale_embedding": False,
    "layernorm_embedding": True,
    "code_layernorm_embedding": True,  # --code-layernorm-embedding
    "entangle_position_embedding": True,
    "disable_entangle": False,
    "phone_dict_size": None,
    "scale_attn": True,
    "scale_fc": True,
    "scale_heads": True,
    "layer_norm_first": True,
    "decoder_normalize_before": True,
    "attn_scale_factor": 2,
    "activation_fn": "gelu",
    "pos_conv_depth": 2,
    "conv_pos": CONV_POS,
    "conv_pos_groups": 2,
    "max_target_positions": 16,
    "token_bucket_size": 8,
    "dropout": 0.1,
}
FAIRSEQ_TASK_CFG = {
    "_name": "unify_speech_text_task",
    "audio_code_dict_size": AUDIO_CODES,
    "code_dict_size": 0,
    "num_bins": 0,
    "phone_dict_path": "../../utils/phone/zh/phone_dict.txt",
    "text2phone_path": "../../utils/phone/zh/text2phone_dict.txt",
    "config_yaml_path": "../../dataset/aishell1/fbank_config.yaml",
}
FBANK_CONFIG = """\
input_channels: 1
input_feat_per_channel: 80
specaugment:
  freq_mask_F: 30
  freq_mask_N: 2
  time_mask_N: 2
  time_mask_T: 40
  time_mask_p: 1.0
  time_wrap_W: 0
transforms:
  '*':
  - utterance_cmvn
  _train:
  - utterance_cmvn
  - specaugment
  test:
  - utterance_cmvn
"""
# ModelScope name -> fairseq name, inside decoder.layers.N.
FAIRSEQ_LAYER_NAMES = {
    "self_attn_mid_layer_norm": "self_attn_ln",
    "cross_attn": "encoder_attn",
    "cross_attn_layer_norm": "encoder_attn_layer_norm",
    "cross_attn_mid_layer_norm": "cross_attn_ln",
    "ffn_layer_norm": "ffn_layernorm",
}
TIED_KEY = "decoder.output_projection.weight"
# Marks a configuration key the writers leave out.
OMIT = object()


def source_architecture(**overrides):
    """``TINY`` as an architecture mapping, with the official bucket table."""
    architecture = folder_values(TINY)["architecture"]
    architecture["rel_pos_max_positions"] = REL_POS_MAX_POSITIONS
    return {**architecture, **overrides}


def source_model(**overrides):
    """A random tiny MMSpeech (every parameter random, LayerNorms too).

    ``overrides`` are architecture keys (``phone_vocab_size``,
    ``entangle_position_embedding`` ...).
    """
    model = MMSpeech.from_architecture(source_architecture(**overrides))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            parameter.copy_(0.5 * noise)
    return model.eval()


def official_extras(model, fairseq):
    """Unused tensors and saved buffers, as the official checkpoints hold."""
    generator = torch.Generator().manual_seed(1)
    unused = unused_official_tensors(16, 2, 2)
    extras = {
        key: torch.randn(shape, generator=generator)
        for key, shape in unused.items()
    }
    extras["decoder.token_rp_bucket"] = model.decoder.token_rp_bucket.clone()
    extras["decoder.image_rp_bucket"] = torch.zeros(5, 5, dtype=torch.long)
    n_image_positions = 1026 if fairseq else 1025
    extras["decoder.image_position_idx"] = torch.arange(n_image_positions)
    if fairseq:
        extras["decoder.version"] = torch.tensor([3.0])
    return extras


def fairseq_name(key):
    parts = key.split(".")
    if parts[:2] == ["decoder", "layers"] and parts[3] in FAIRSEQ_LAYER_NAMES:
        parts[3] = FAIRSEQ_LAYER_NAMES[parts[3]]
    return ".".join(parts)


def write_lines(path, lines):
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def write_phone_dict(path):
    lines = [f"{symbol} 1" for symbol in default_phone_dict_symbols()]
    return write_lines(path, lines)


def write_modelscope(folder, model, config=None, beam_search=None):
    """A ModelScope model folder: HF state dict under ``model.``.

    ``config`` updates ``config.json``; ``beam_search`` replaces
    ``model.beam_search`` of ``configuration.json`` (None: keep it; a key
    set to ``OMIT`` is left out, the whole block too).
    """
    folder.mkdir(parents=True)
    state = {k: v for k, v in model.state_dict().items() if k != TIED_KEY}
    state.update(official_extras(model, fairseq=False))
    torch.save(
        {f"model.{key}": value for key, value in state.items()},
        folder / "pytorch_model.bin",
    )
    config = {**MODELSCOPE_CONFIG, **(config or {})}
    (folder / "config.json").write_text(json.dumps(config))
    configuration = json.loads(json.dumps(CONFIGURATION))
    if beam_search is OMIT:
        del configuration["model"]["beam_search"]
    elif beam_search is not None:
        configuration["model"]["beam_search"] = beam_search
    (folder / "configuration.json").write_text(json.dumps(configuration))
    write_lines(folder / "vocab.txt", [*SPECIALS, *BERT_LINES, "<mask>"])
    write_phone_dict(folder / "phone_dict.txt")
    (folder / "fbank_config.yaml").write_text(FBANK_CONFIG)
    write_lines(folder / "text2phone_dict.txt", ["你\tn i3"])
    return folder


def without_omitted(values):
    return {key: value for key, value in values.items() if value is not OMIT}


def write_fairseq(folder, model, use_args=False, model_cfg=None, task_cfg=None):
    """A fairseq checkpoint with its vocabulary files.

    ``model_cfg`` and ``task_cfg`` update ``cfg.model`` and ``cfg.task`` (a
    key set to ``OMIT`` is left out).
    """
    folder.mkdir(parents=True)
    state = dict(model.state_dict())
    state.update(official_extras(model, fairseq=True))
    checkpoint = {
        "model": {fairseq_name(key): value for key, value in state.items()},
        "extra_state": {"previous_best": np.float64(1.5), "epoch": 3},
        "optimizer_history": [{"num_updates": 10}],
    }
    model_cfg = without_omitted({**FAIRSEQ_MODEL_CFG, **(model_cfg or {})})
    task_cfg = without_omitted({**FAIRSEQ_TASK_CFG, **(task_cfg or {})})
    if use_args:
        fields = {**task_cfg, **model_cfg}
        checkpoint.update(args=argparse.Namespace(**fields), cfg=None)
    else:
        cfg = {"model": model_cfg, "task": task_cfg}
        checkpoint.update(args=None, cfg=cfg)
    torch.save(checkpoint, folder / "ofa_mmspeech_tiny.pt")
    write_lines(folder / "vocab.txt", BERT_LINES)
    write_phone_dict(folder / "phone_dict.txt")
    (folder / "fbank_config.yaml").write_text(FBANK_CONFIG)
    return folder


def fairseq_inputs(folder):
    return {
        "checkpoint": folder / "ofa_mmspeech_tiny.pt",
        "vocab": folder / "vocab.txt",
        "phone_dict": folder / "phone_dict.txt",
        "fbank_config": folder / "fbank_config.yaml",
    }


def convert_both(root):
    """Writes one random tiny model in both layouts and converts each."""
    model = source_model()
    modelscope = write_modelscope(root / "ms", model)
    fairseq = write_fairseq(root / "fs", model)
    reports = {
        "modelscope": convert_modelscope(modelscope, root / "out_ms"),
        "fairseq": convert_fairseq(
            **fairseq_inputs(fairseq), output=root / "out_fs"
        ),
    }
    return {
        "root": root,
        "model": model,
        "modelscope": root / "out_ms",
        "fairseq": root / "out_fs",
        "reports": reports,
    }


def load_asr(folder, savedir):
    return EncoderDecoderASR.from_hparams(
        source=str(folder), savedir=str(savedir), run_opts={"device": "cpu"}
    )


LOGIT_TOKENS = torch.tensor([[0, 5, 9, 12], [0, 7, 7, 20]])


def logits(asr):
    """Decoder logits of a loaded folder on fixed noise and tokens."""
    wavs = torch.stack([noise(16000, 1), noise(16000, 2)])
    lens = torch.tensor([1.0, 0.7])
    with torch.no_grad():
        feats = asr.hparams.compute_features(wavs, lens)
        feats = asr.hparams.normalize(feats, lens)
        memory = asr.mods.transformer.encode(feats, lens)
        hidden, _ = asr.mods.transformer.decode(LOGIT_TOKENS, memory)
        converted = asr.mods.transformer.output_projection(hidden)
    return converted, feats, lens


def source_logits(model, feats, lens):
    """The unconverted network's logits on the same features."""
    with torch.no_grad():
        memory = model.encode(feats, lens)
        hidden, _ = model.decode(LOGIT_TOKENS, memory)
        return model.output_projection(hidden)


def assert_same_logits(folder, model, savedir):
    """The converted folder gives the source model's logits, bit for bit."""
    converted, feats, lens = logits(load_asr(folder, savedir))
    assert torch.equal(converted, source_logits(model, feats, lens))


def noise(n_samples, seed):
    generator = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(n_samples, generator=generator).clamp(-3, 3)


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def transpose_fc1(state, prefix="model."):
    key = f"{prefix}decoder.layers.0.fc1.weight"
    state[key] = state[key].t().contiguous()
