"""Tests for speechbrain_mmspeech.convert on self-made official checkpoints.

Nothing can be downloaded, so a random tiny MMSpeech is written in both
official layouts (a ModelScope folder and a fairseq ``.pt``, with the
official tensor names of the fact sheet, section 6.2, including the tensors
ASR does not use) and converted back. This checks the name mapping, the
strict matching, the vocabularies, the front end and the decoding settings;
it cannot check that the real files use these names and values (see the
README section "Using the official MMSpeech weights").
"""

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from speechbrain.inference.ASR import EncoderDecoderASR

from speechbrain_mmspeech.convert import (
    ConversionError,
    convert_fairseq,
    convert_modelscope,
    read_modelscope,
)
from speechbrain_mmspeech.convert.cli import main, summary
from speechbrain_mmspeech.convert.folder import report
from speechbrain_mmspeech.convert.official import unused_official_tensors
from speechbrain_mmspeech.tokenizers import (
    PinyinTokenizer,
    default_phone_dict_symbols,
)
from tiny_models import model_from_template

REPO_ROOT = Path(__file__).resolve().parents[1]
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
    "rel_pos_bucket_size": 4,
    "text_vocab_size": TEXT_VOCAB,
    "code_vocab_size": AUDIO_CODES,
}
CONV_POS = 7
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
    "code_layernorm_embedding": False,
    "normformer": True,
    "phone_vocab_size": 141,
    "phone_dict_size": 124,
    "encoder_pos_conv_depth": 2,
    "encoder_conv_pos": CONV_POS,
    "encoder_conv_pos_groups": 2,
    "max_position_embeddings": 16,
    "token_bucket_size": 4,
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
    "code_layernorm_embedding": False,
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
    "token_bucket_size": 4,
    "dropout": 0.1,
}
FAIRSEQ_TASK_CFG = {
    "_name": "unify_speech_text_task",
    "audio_code_dict_size": AUDIO_CODES,
    "code_dict_size": 0,
    "num_bins": 0,
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
"""
# ModelScope name -> fairseq name, inside decoder.layers.N (fact sheet 6.2).
FAIRSEQ_LAYER_NAMES = {
    "self_attn_mid_layer_norm": "self_attn_ln",
    "cross_attn": "encoder_attn",
    "cross_attn_layer_norm": "encoder_attn_layer_norm",
    "cross_attn_mid_layer_norm": "cross_attn_ln",
    "ffn_layer_norm": "ffn_layernorm",
}
TIED_KEY = "decoder.output_projection.weight"


def source_model():
    """A random tiny MMSpeech (every parameter random, LayerNorms too)."""
    model = model_from_template(TINY, seed=None)
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


def write_modelscope(folder, model):
    """A ModelScope model folder: HF state dict under ``model.``."""
    folder.mkdir(parents=True)
    state = {k: v for k, v in model.state_dict().items() if k != TIED_KEY}
    state.update(official_extras(model, fairseq=False))
    torch.save(
        {f"model.{key}": value for key, value in state.items()},
        folder / "pytorch_model.bin",
    )
    (folder / "config.json").write_text(json.dumps(MODELSCOPE_CONFIG))
    (folder / "configuration.json").write_text(json.dumps(CONFIGURATION))
    write_lines(folder / "vocab.txt", [*SPECIALS, *BERT_LINES, "<mask>"])
    write_phone_dict(folder / "phone_dict.txt")
    (folder / "fbank_config.yaml").write_text(FBANK_CONFIG)
    write_lines(folder / "text2phone_dict.txt", ["你\tn i3"])
    return folder


def write_fairseq(folder, model, use_args=False):
    """A fairseq checkpoint with its vocabulary files."""
    folder.mkdir(parents=True)
    state = dict(model.state_dict())
    state.update(official_extras(model, fairseq=True))
    checkpoint = {
        "model": {fairseq_name(key): value for key, value in state.items()},
        "extra_state": {"previous_best": np.float64(1.5), "epoch": 3},
        "optimizer_history": [{"num_updates": 10}],
    }
    if use_args:
        fields = {**FAIRSEQ_TASK_CFG, **FAIRSEQ_MODEL_CFG}
        checkpoint.update(args=argparse.Namespace(**fields), cfg=None)
    else:
        cfg = {"model": FAIRSEQ_MODEL_CFG, "task": FAIRSEQ_TASK_CFG}
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


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("convert")
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


def noise(n_samples, seed):
    generator = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(n_samples, generator=generator).clamp(-3, 3)


def test_both_layouts_give_the_source_weights(converted):
    expected = converted["model"].state_dict()
    for layout in ("modelscope", "fairseq"):
        folder = converted[layout]
        assert sorted(p.name for p in folder.iterdir()) == [
            "conversion.json",
            "hyperparams.yaml",
            "model.ckpt",
            "phone_tokenizer.ckpt",
            "tokenizer.ckpt",
        ]
        state = torch.load(folder / "model.ckpt")
        assert state.keys() == expected.keys()
        for key, value in expected.items():
            assert torch.equal(state[key], value), (layout, key)


def test_only_unused_tensors_and_buffers_are_skipped(converted):
    unused = set(unused_official_tensors(16, 2, 2))
    buffers = {
        "decoder.token_rp_bucket",
        "decoder.image_rp_bucket",
        "decoder.image_position_idx",
    }
    ms, fs = converted["reports"]["modelscope"], converted["reports"]["fairseq"]
    assert set(ms["skipped_tensors"]) == unused | buffers
    assert set(fs["skipped_tensors"]) == unused | buffers | {"decoder.version"}
    reasons = {info["reason"] for info in fs["skipped_tensors"].values()}
    assert reasons == {"unused for ASR", "recomputed buffer"}
    written = json.loads((converted["fairseq"] / "conversion.json").read_text())
    assert written["skipped_tensors"] == fs["skipped_tensors"]
    # Keys our test config.json leaves out: assumed, and reported.
    assert ms["defaulted_config_keys"] == {
        "activation_function": "gelu",
        "attn_scale_factor": 2,
        "layernorm_embedding": True,
    }
    assert ms["vocab_layout"] == "modelscope" and fs["vocab_layout"] == "bert"
    assert ms["defaulted_beam_search_keys"] == []


def test_hyperparameters_follow_the_checkpoints(converted):
    ms = dict(converted["reports"]["modelscope"]["hyperparameters"])
    fs = dict(converted["reports"]["fairseq"]["hyperparameters"])
    # Only the official maximum length differs (MS 128, fairseq eval 256).
    assert ms.pop("max_decode_length") == 128
    assert fs.pop("max_decode_length") == 256
    assert ms == fs
    for key, value in TINY.items():
        assert fs[key] == value, key
    assert fs["context_layer"] == 6 and fs["phone_vocab_size"] == 141
    assert fs["scale_embedding"] and fs["entangle_position_embedding"]
    assert fs["norm_type"] == "sentence" and fs["n_mels"] == 80
    assert fs["beam_size"] == 5 and fs["no_repeat_ngram_size"] == 5
    assert fs["min_decode_length"] == 1
    text = (converted["modelscope"] / "hyperparams.yaml").read_text()
    assert "\nmax_decode_length: 128\n" in text
    assert f"\ntext_vocab_size: {TEXT_VOCAB}\n" in text


def test_identical_logits_from_both_conversions(converted, tmp_path):
    asrs = [
        load_asr(converted[layout], tmp_path / layout)
        for layout in ("modelscope", "fairseq")
    ]
    wavs = torch.stack([noise(16000, 1), noise(16000, 2)])
    lens = torch.tensor([1.0, 0.7])
    tokens = torch.tensor([[0, 5, 9, 12], [0, 7, 7, 20]])
    outputs = []
    for asr in asrs:
        with torch.no_grad():
            feats = asr.mods.encoder(wavs, lens)
            memory = asr.mods.transformer.encode(feats, lens)
            hidden, _ = asr.mods.transformer.decode(tokens, memory)
            outputs.append(asr.mods.transformer.output_projection(hidden))
    assert torch.equal(outputs[0], outputs[1])
    with torch.no_grad():
        memory = converted["model"].encode(feats, lens)
        hidden, _ = converted["model"].decode(tokens, memory)
        source = converted["model"].output_projection(hidden)
    assert torch.equal(outputs[1], source)


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
    wavs = torch.stack([noise(16000, 3), noise(16000, 4)])
    words, tokens = asr.transcribe_batch(wavs, torch.tensor([1.0, 0.8]))
    assert len(words) == 2 and all(isinstance(w, str) for w in words)
    for hyp in tokens:
        assert 1 <= len(hyp) < TINY["max_positions"]
        assert all(2 <= int(t) < TEXT_VOCAB for t in hyp)
    # Official lengths: at least one token, at most max_len_b (here the
    # 15 learned positions bind first).
    assert asr.mods.decoder.change_max_decoding_length(0, 1000) == (1, 15)
    short = EncoderDecoderASR.from_hparams(
        source=str(converted["fairseq"]),
        savedir=str(tmp_path / "short"),
        overrides={"max_decode_length": 3},
        run_opts={"device": "cpu"},
    )
    assert short.mods.decoder.change_max_decoding_length(0, 1000) == (1, 3)
    _, tokens = short.transcribe_batch(wavs, torch.tensor([1.0, 0.8]))
    assert all(1 <= len(hyp) <= 3 for hyp in tokens)
    phones = PinyinTokenizer()
    phones.load(converted["fairseq"] / "phone_tokenizer.ckpt")
    assert phones.tokens == PinyinTokenizer().tokens


def test_old_checkpoints_with_args_namespace(converted, tmp_path):
    folder = write_fairseq(tmp_path / "fs", converted["model"], use_args=True)
    report = convert_fairseq(**fairseq_inputs(folder), output=tmp_path / "o")
    assert (
        report["hyperparameters"]
        == (converted["reports"]["fairseq"]["hyperparameters"])
    )
    state = torch.load(tmp_path / "o" / "model.ckpt")
    reference = torch.load(converted["fairseq"] / "model.ckpt")
    assert all(torch.equal(state[k], v) for k, v in reference.items())


def test_modelscope_absent_flags_take_mmspeechconfig_defaults(
    converted, tmp_path
):
    folder = tmp_path / "ms"
    shutil.copytree(converted["root"] / "ms", folder)
    config = dict(MODELSCOPE_CONFIG)
    del config["scale_embedding"], config["entangle_position_embedding"]
    (folder / "config.json").write_text(json.dumps(config))
    read = read_modelscope(folder)
    assert read.values["scale_embedding"] is False
    assert read.values["entangle_position_embedding"] is False
    defaulted = read.notes["defaulted_config_keys"]
    assert defaulted["scale_embedding"] is False
    assert defaulted["entangle_position_embedding"] is False
    printed = summary(report(read, {}, []), "out")
    assert "'scale_embedding': False" in printed
    assert "unlike the fairseq model" in printed


def test_global_cmvn_statistics(converted, tmp_path):
    folder = tmp_path / "ms"
    shutil.copytree(converted["root"] / "ms", folder)
    mean = np.linspace(-1.0, 1.0, 80).astype(np.float32)
    std = np.linspace(0.5, 2.0, 80).astype(np.float32)
    np.savez(folder / "global_cmvn.npz", mean=mean, std=std)
    (folder / "fbank_config.yaml").write_text(
        "global_cmvn:\n  stats_npz_path: global_cmvn.npz\n"
        "transforms:\n  _eval: [global_cmvn]\n  _train: [global_cmvn]\n"
    )
    report = convert_modelscope(folder, tmp_path / "out")
    assert report["hyperparameters"]["norm_type"] == "global"
    asr = load_asr(tmp_path / "out", tmp_path / "save")
    feats = torch.randn(1, 20, 80)
    normalized = asr.mods.encoder.normalize(feats, torch.ones(1))
    expected = (feats - torch.from_numpy(mean)) / torch.from_numpy(std)
    assert torch.allclose(normalized, expected)


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


def test_command_line(converted, tmp_path, capsys):
    inputs = fairseq_inputs(converted["root"] / "fs")
    output = tmp_path / "out"
    argv = ["fairseq", str(inputs["checkpoint"]), str(output)]
    argv += ["--vocab", str(inputs["vocab"])]
    argv += ["--phone-dict", str(inputs["phone_dict"])]
    argv += ["--fbank-config", str(inputs["fbank_config"])]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Skipped 13 tensor(s)" in printed
    assert "decoder.embed_image_positions.weight (1765, 16)" in printed
    assert main(argv) == 1
    assert "already exists" in capsys.readouterr().err
    ms_folder = str(converted["root"] / "ms")
    assert main(["modelscope", ms_folder, str(output)]) == 1
    capsys.readouterr()
    result = subprocess.run(
        [sys.executable, "-m", "speechbrain_mmspeech.convert", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "modelscope" in result.stdout and "publish" in result.stdout


def edit_weights(folder, edit, name="pytorch_model.bin"):
    state = torch.load(folder / name)
    edit(state)
    torch.save(state, folder / name)


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def edit_json(path, **changes):
    content = json.loads(path.read_text())
    content.update(changes)
    path.write_text(json.dumps(content))


def transpose_fc1(state, prefix="model."):
    key = f"{prefix}decoder.layers.0.fc1.weight"
    state[key] = state[key].t().contiguous()


MODELSCOPE_FAILURES = {
    "truncated weights": (
        lambda f: truncate(f / "pytorch_model.bin"),
        r"pytorch_model.bin: cannot be read .*truncated or corrupt",
    ),
    "wrong shape": (
        lambda f: edit_weights(f, transpose_fc1),
        r"wrong shape: decoder.layers.0.fc1.weight is \(16, 32\) in the "
        r"checkpoint, \(32, 16\) in the model",
    ),
    "unexpected tensor": (
        lambda f: edit_weights(
            f, lambda s: s.update({"model.decoder.extra.weight": torch.ones(2)})
        ),
        r"unexpected tensor: decoder.extra.weight \(2,\)",
    ),
    "missing tensor": (
        lambda f: edit_weights(
            f, lambda s: s.pop("model.encoder.post_subsample_proj.bias")
        ),
        r"missing: encoder.post_subsample_proj.bias \(16,\)",
    ),
    "mis-shaped unused tensor": (
        lambda f: edit_weights(
            f,
            lambda s: s.update(
                {"model.encoder.final_proj.bias": torch.ones(3)}
            ),
        ),
        r"wrong shape: encoder.final_proj.bias is \(3,\)",
    ),
    "code layernorm": (
        lambda f: edit_json(f / "config.json", code_layernorm_embedding=True),
        r"config.json: code_layernorm_embedding = True is not supported",
    ),
    "no normformer": (
        lambda f: edit_json(f / "config.json", normformer=False),
        r"normformer = False is not supported",
    ),
    "unequal heads": (
        lambda f: edit_json(f / "config.json", decoder_attention_heads=4),
        r"encoder_attention_heads = 2 differs from decoder_attention_heads = 4",
    ),
    "missing size": (
        lambda f: edit_json(f / "config.json", d_model=None),
        r"d_model = None should be of type int",
    ),
    "not mmspeech": (
        lambda f: edit_json(
            f / "configuration.json",
            model={**CONFIGURATION["model"], "multimodal_type": "caption"},
        ),
        r"multimodal_type is 'caption', not 'mmspeech': unknown architecture",
    ),
    "wrong constraint range": (
        lambda f: edit_json(
            f / "configuration.json",
            model={
                **CONFIGURATION["model"],
                "beam_search": {"constraint_range": "4,21134"},
            },
        ),
        r"constraint_range '4,21134' does not match the vocabulary",
    ),
    "missing vocab.txt": (
        lambda f: (f / "vocab.txt").unlink(),
        r"Missing input file\(s\): .*vocab.txt \(vocab.txt\)",
    ),
    "missing phone_dict.txt": (
        lambda f: (f / "phone_dict.txt").unlink(),
        r"Missing input file\(s\): .*phone_dict.txt",
    ),
    "missing config.json": (
        lambda f: (f / "config.json").unlink(),
        r"Missing input file\(s\): .*config.json",
    ),
    "specaugment at inference": (
        lambda f: (f / "fbank_config.yaml").write_text(
            "transforms:\n  '*': [utterance_cmvn, specaugment]\n"
        ),
        r"transform\(s\) \['specaugment'\] at inference are not supported",
    ),
    "missing global stats": (
        lambda f: (f / "fbank_config.yaml").write_text(
            "global_cmvn:\n  stats_npz_path: stats.npz\n"
            "transforms:\n  '*': [global_cmvn]\n"
        ),
        r"stats.npz: no such file \(global_cmvn stats\)",
    ),
    "vocabulary size mismatch": (
        lambda f: write_lines(f / "vocab.txt", [*SPECIALS, "好", "<mask>"]),
        rf"constraint_range '4,{TEXT_VOCAB}' does not match the vocabulary "
        r"\(expected '4,7'\)",
    ),
}


@pytest.mark.parametrize("case", sorted(MODELSCOPE_FAILURES))
def test_modelscope_failures_name_the_problem(case, converted, tmp_path):
    edit, message = MODELSCOPE_FAILURES[case]
    folder = tmp_path / "ms"
    shutil.copytree(converted["root"] / "ms", folder)
    edit(folder)
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    with pytest.raises(ConversionError, match=message):
        convert_modelscope(folder, outputs / "model")
    assert list(outputs.iterdir()) == []  # nothing partial, no temp folder


def rename_arch(folder):
    path = folder / "ofa_mmspeech_tiny.pt"
    checkpoint = torch.load(path, weights_only=False)
    checkpoint["cfg"]["model"]["arch"] = "ofa_large"
    torch.save(checkpoint, path)


def edit_fairseq_state(folder, edit):
    path = folder / "ofa_mmspeech_tiny.pt"
    checkpoint = torch.load(path, weights_only=False)
    edit(checkpoint["model"])
    torch.save(checkpoint, path)


FAIRSEQ_FAILURES = {
    "truncated checkpoint": (
        lambda f: truncate(f / "ofa_mmspeech_tiny.pt"),
        r"ofa_mmspeech_tiny.pt: cannot be read .*truncated or corrupt",
    ),
    "unknown architecture": (
        rename_arch,
        r"unknown architecture 'ofa_large'",
    ),
    "wrong shape": (
        lambda f: edit_fairseq_state(f, lambda s: transpose_fc1(s, "")),
        r"wrong shape: decoder.layers.0.fc1.weight",
    ),
    "unrenamed layer": (
        lambda f: edit_fairseq_state(
            f,
            lambda s: s.update(
                {"decoder.layers.0.attn_ln.weight": torch.ones(16)}
            ),
        ),
        r"unexpected tensor: decoder.layers.0.attn_ln.weight",
    ),
    "untied output": (
        lambda f: edit_fairseq_state(
            f, lambda s: s.update({TIED_KEY: s[TIED_KEY] + 1.0})
        ),
        r"decoder.output_projection.weight differs from "
        r"decoder.embed_tokens.weight",
    ),
    "missing vocab": (
        lambda f: (f / "vocab.txt").unlink(),
        r"Missing input file\(s\): .*vocab.txt \(vocabulary\)",
    ),
    "missing phone dict": (
        lambda f: (f / "phone_dict.txt").unlink(),
        r"phone_dict.txt \(phone dictionary\)",
    ),
}


@pytest.mark.parametrize("case", sorted(FAIRSEQ_FAILURES))
def test_fairseq_failures_name_the_problem(case, converted, tmp_path):
    edit, message = FAIRSEQ_FAILURES[case]
    folder = tmp_path / "fs"
    shutil.copytree(converted["root"] / "fs", folder)
    edit(folder)
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    with pytest.raises(ConversionError, match=message):
        convert_fairseq(**fairseq_inputs(folder), output=outputs / "model")
    assert list(outputs.iterdir()) == []


def test_command_line_reports_failures(converted, tmp_path, capsys):
    folder = tmp_path / "ms"
    shutil.copytree(converted["root"] / "ms", folder)
    (folder / "config.json").unlink()
    output = tmp_path / "out"
    assert main(["modelscope", str(folder), str(output)]) == 1
    assert "config.json" in capsys.readouterr().err
    assert not output.exists()
