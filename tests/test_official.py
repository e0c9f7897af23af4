"""Tests for speechbrain_mmspeech.convert.official and the Base/Large presets.

The models are built on the meta device: nothing is allocated.
"""

import math

import pytest
import torch
import yaml
from hyperpyyaml import load_hyperpyyaml

from speechbrain_mmspeech.convert.official import unused_official_tensors
from speechbrain_mmspeech.export.folders import (
    INFERENCE_TEMPLATE,
    render_hparams,
)
from tiny_models import PRESETS

# Published sizes of the official models, in millions of parameters.
PUBLISHED = {
    "base": {"total": 210.97, "encoder": 109.88, "decoder": 101.08},
    "large": {"total": 608.95, "encoder": 346.39, "decoder": 262.56},
}


def build_preset(name):
    """A model folder's YAML with a preset's values, built on the meta device."""
    preset = yaml.safe_load((PRESETS / f"{name}.yaml").read_text("utf-8"))
    template = INFERENCE_TEMPLATE.read_text(encoding="utf-8")
    text = render_hparams(template, {"architecture": preset})
    with torch.device("meta"):
        return load_hyperpyyaml(text)


def n_elements(shapes):
    return sum(math.prod(shape) for shape in shapes)


def official_count(module, unused, prefix):
    own = sum(p.numel() for p in module.parameters())
    extra = n_elements(
        shape for key, shape in unused.items() if key.startswith(prefix)
    )
    return own + extra


@pytest.mark.parametrize("name", ["base", "large"])
def test_preset_parameter_counts_match_published_sizes(name):
    hparams = build_preset(name)
    model = hparams["model"]
    assert all(p.is_meta for p in model.parameters())
    architecture = hparams["architecture"]
    unused = unused_official_tensors(
        architecture["d_model"],
        architecture["nhead"],
        architecture["num_decoder_layers"],
    )
    total = sum(p.numel() for p in model.parameters()) + n_elements(
        unused.values()
    )
    expected = PUBLISHED[name]
    assert abs(total / 1e6 - expected["total"]) < 0.005
    encoder = official_count(model.encoder, unused, "encoder.")
    decoder = official_count(model.decoder, unused, "decoder.")
    assert encoder + decoder == total
    assert abs(encoder / 1e6 - expected["encoder"]) < 0.005
    assert abs(decoder / 1e6 - expected["decoder"]) < 0.005
    # The unused tensors are exactly the ones the model does not build.
    assert not set(unused) & set(model.state_dict())


def test_base_preset_shapes():
    hparams = build_preset("base")
    state = hparams["model"].state_dict()
    assert state["decoder.embed_tokens.weight"].shape == (51134, 768)
    assert state["decoder.embed_positions.weight"].shape == (1026, 768)
    assert state["decoder.token_rel_pos_table_list.5.weight"].shape == (511, 12)
    assert state["encoder.subsample.out.0.weight"].shape == (768, 14592)
    assert state["encoder.encoder.pos_conv.4.0.weight"].shape == (768, 48, 19)
    assert state["encoder.phone_item_embedding.weight"].shape == (141, 768)
    assert "encoder.encoder.layers.11.fc2.weight" in state
    assert "encoder.encoder.layers.12.fc2.weight" not in state


def test_unused_official_tensors():
    shapes = unused_official_tensors(768, 12, 6)
    assert shapes["decoder.embed_image_positions.weight"] == (1765, 768)
    assert shapes["decoder.image_rel_pos_table_list.5.weight"] == (6892, 12)
    assert "decoder.image_rel_pos_table_list.6.weight" not in shapes
    assert shapes["encoder.final_proj.weight"] == (768, 768)
    assert shapes["encoder.encoder.phone_layer_norm.bias"] == (768,)
    assert shapes["decoder.code_layernorm_embedding.weight"] == (768,)
    assert len(shapes) == 9 + 6
    large = unused_official_tensors(1024, 16, 12)
    assert large["decoder.image_rel_pos_table_list.11.weight"] == (6892, 16)
    assert len(large) == 9 + 12
