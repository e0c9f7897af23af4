"""Tests for speechbrain_mmspeech.convert.weights.

Strict matching, through both official layouts (see ``official_layouts``).
"""

import json
import shutil

import pytest
import torch

from official_layouts import TINY, load_asr, noise
from speechbrain_mmspeech.convert.modelscope import convert_modelscope
from speechbrain_mmspeech.convert.official import unused_official_tensors
from speechbrain_mmspeech.convert.reading import ConversionError
from speechbrain_mmspeech.lobes.models.decoder import relative_position_buckets


def test_both_layouts_give_the_source_weights(converted):
    expected = converted["model"].state_dict()
    for layout in ("modelscope", "fairseq"):
        folder = converted[layout]
        assert sorted(p.name for p in folder.iterdir()) == [
            "conversion.json",
            "hyperparams.yaml",
            "model.ckpt",
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
            feats = asr.hparams.compute_features(wavs, lens)
            feats = asr.hparams.normalize(feats, lens)
            memory = asr.mods.transformer.encode(feats, lens)
            hidden, _ = asr.mods.transformer.decode(tokens, memory)
            outputs.append(asr.mods.transformer.output_projection(hidden))
    assert torch.equal(outputs[0], outputs[1])
    with torch.no_grad():
        memory = converted["model"].encode(feats, lens)
        hidden, _ = converted["model"].decode(tokens, memory)
        source = converted["model"].output_projection(hidden)
    assert torch.equal(outputs[1], source)


def test_official_relative_position_table(converted, tmp_path):
    # Built for 1024 positions, as OFA does, though max_positions is 16.
    asr = load_asr(converted["fairseq"], tmp_path / "save")
    decoder = asr.mods.transformer.decoder
    official = relative_position_buckets(TINY["rel_pos_bucket_size"], 1024)
    assert torch.equal(decoder.token_rp_bucket, official)
    assert decoder.max_positions == TINY["max_positions"]
    architecture = converted["reports"]["fairseq"]["hyperparameters"][
        "architecture"
    ]
    assert architecture["rel_pos_max_positions"] == 1024
    # A saved table that spans max_positions only is not OFA's: refused.
    folder = tmp_path / "ms"
    shutil.copytree(converted["root"] / "ms", folder)
    state = torch.load(folder / "pytorch_model.bin")
    own = relative_position_buckets(TINY["rel_pos_bucket_size"], 16)
    state["model.decoder.token_rp_bucket"] = own
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(
        ConversionError,
        match=r"decoder.token_rp_bucket: the checkpoint's relative-position "
        r"buckets differ",
    ):
        convert_modelscope(folder, tmp_path / "out")
