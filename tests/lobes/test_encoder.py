"""Tests for speechbrain_mmspeech.lobes.models.encoder: the MMSpeech speech encoder."""

import pytest
import torch

import tiny_models
from speechbrain_mmspeech.lobes.models.encoder import (
    Conv2dSubsampling,
    ConvPositionalEmbedding,
    conv_output_length,
)

D_MODEL = tiny_models.D_MODEL
NUM_LAYERS = 3
CONTEXT_LAYER = tiny_models.ENCODER_SIZES["context_layer"]


def tiny_encoder(**overrides):
    """A tiny encoder of ``NUM_LAYERS`` layers; ``overrides`` as keywords."""
    return tiny_models.tiny_encoder(num_layers=NUM_LAYERS, **overrides)


def one_stage(length):
    return (length - 3) // 2 + 1


@pytest.mark.parametrize("length", [7, 8, 9, 10, 11, 60, 99, 100, 1001])
def test_conv_output_length(length):
    assert conv_output_length(length) == one_stage(one_stage(length))
    assert conv_output_length(length, n_convs=1) == one_stage(length)


def test_conv_output_length_equals_real_conv_output():
    sub = Conv2dSubsampling(n_mels=80, channels=2, d_model=4)
    for length in (7, 8, 13, 50):
        assert sub(torch.rand(1, length, 80)).shape[1] == conv_output_length(
            length
        )
    assert conv_output_length(80) == 19


def test_output_lengths_follow_conv_output_length():
    enc = tiny_encoder().eval()
    lens = torch.tensor([1.0, 0.5, 0.31])
    out = enc(torch.rand(3, 100, 80), lens)
    abs_frames = [100, 50, 31]
    expected = [one_stage(one_stage(n)) for n in abs_frames]
    assert out.speech_lengths.tolist() == expected == [24, 11, 7]
    assert out.hidden.shape == (3, 24, D_MODEL)
    assert out.positions.shape == (3, 24, D_MODEL)
    for row, length in enumerate(expected):
        assert not out.padding_mask[row, :length].any()
        assert out.padding_mask[row, length:].all()


def assert_padding_invariant(enc):
    enc.eval()
    feats = torch.randn(1, 60, 80)
    padded = torch.cat([feats, torch.zeros(1, 40, 80)], dim=1)
    with torch.no_grad():
        alone = enc(feats, torch.ones(1))
        batch = enc(padded, torch.tensor([0.6]))
    n = int(alone.speech_lengths)
    assert int(batch.speech_lengths) == n == 14
    torch.testing.assert_close(
        batch.hidden[0, :n], alone.hidden[0], atol=1e-5, rtol=0
    )


def test_padding_invariance_with_one_pos_conv_block():
    assert_padding_invariant(tiny_encoder(pos_conv_depth=1))


def test_padding_invariance_with_official_pos_conv_depth():
    assert_padding_invariant(
        tiny_encoder(pos_conv_depth=5, pos_conv_kernel=19, pos_conv_groups=16)
    )


def test_phone_stream_joins_at_context_layer():
    enc = tiny_encoder().eval()
    feats, phones = torch.rand(2, 60, 80), torch.randint(4, 124, (2, 5))
    out = enc(feats, torch.tensor([1.0, 0.5]), phones, torch.tensor([1.0, 0.6]))
    assert out.hidden.shape == (2, 14 + 5, D_MODEL)
    assert out.positions.shape == (2, 14 + 5, D_MODEL)
    assert out.padding_mask[1].tolist() == (
        [False] * 6 + [True] * 8 + [False] * 3 + [True] * 2
    )
    # The phones enter before layer `context_layer`, not at the input:
    # layers below it see the speech frames only.
    seen = []
    for layer in enc.encoder.layers:
        layer.register_forward_pre_hook(
            lambda module, args: seen.append(args[0].shape[1])
        )
    enc(feats, torch.tensor([1.0, 0.5]), phones, torch.tensor([1.0, 0.6]))
    assert seen == [14] * CONTEXT_LAYER + [19] * (NUM_LAYERS - CONTEXT_LAYER)


def assert_lower_layers_get_no_gradient(out, enc):
    out.hidden.sum().backward()
    for index, layer in enumerate(enc.encoder.layers):
        grads = [p.grad for p in layer.parameters()]
        if index < CONTEXT_LAYER:
            assert all(g is None for g in grads), f"layer {index} was run"
        else:
            assert all(g is not None and g.abs().sum() > 0 for g in grads)
    assert enc.phone_item_embedding.weight.grad.abs().sum() > 0


def test_empty_speech_skips_layers_below_context_layer():
    enc = tiny_encoder().eval()
    phones = torch.randint(4, 124, (2, 5))
    out = enc(
        torch.zeros(2, 20, 80),
        torch.zeros(2),
        phones,
        torch.tensor([1.0, 0.6]),
    )
    assert out.speech_lengths.tolist() == [0, 0]
    assert out.padding_mask[:, :3].all()
    assert_lower_layers_get_no_gradient(out, enc)


def test_phone_only_input_skips_layers_below_context_layer():
    enc = tiny_encoder().eval()
    phones = torch.randint(4, 124, (2, 5))
    out = enc(None, None, phones, torch.tensor([1.0, 0.6]))
    assert out.hidden.shape == (2, 5, D_MODEL)
    assert out.padding_mask[1].tolist() == [False] * 3 + [True] * 2
    assert_lower_layers_get_no_gradient(out, enc)


def test_time_mask_replaces_frames_with_mask_emb():
    enc = tiny_encoder().eval()
    feats, lens = torch.rand(2, 60, 80), torch.ones(2)
    inputs = []
    enc.encoder.register_forward_pre_hook(
        lambda module, args: inputs.append(args[0].detach().clone())
    )
    mask = torch.zeros(2, 14, dtype=torch.bool)
    mask[0, 3:7] = True
    clean = enc(feats, lens)
    masked = enc(feats, lens, time_mask=mask)
    x_clean, x_masked = inputs
    assert torch.equal(masked.time_mask, mask)
    for frame in range(3, 7):
        torch.testing.assert_close(x_masked[0, frame], enc.mask_emb.detach())
    torch.testing.assert_close(x_masked[~mask], x_clean[~mask])
    assert not torch.allclose(masked.hidden[0], clean.hidden[0])
    torch.testing.assert_close(masked.hidden[1], clean.hidden[1])
    # No mask at all unless asked for.
    assert not clean.time_mask.any()


def test_time_mask_prob_draws_a_mask_inside_real_frames():
    enc = tiny_encoder().eval()
    torch.manual_seed(1)
    out = enc(
        torch.rand(2, 200, 80), torch.tensor([1.0, 0.5]), time_mask_prob=0.5
    )
    assert out.time_mask.shape == (2, 49)
    assert out.time_mask[0].any() and out.time_mask[1].any()
    assert not out.time_mask[1, int(out.speech_lengths[1]) :].any()


def test_phone_logits_are_tied_to_phone_embedding_rows():
    enc = tiny_encoder()
    assert enc.num_phone_classes == 121
    hidden = torch.randn(2, 4, D_MODEL)
    logits = enc.phone_logits(hidden)
    expected = hidden @ enc.phone_item_embedding.weight[3:124].t()
    torch.testing.assert_close(logits, expected)
    logits.sum().backward()
    grad = enc.phone_item_embedding.weight.grad
    assert grad[3:124].abs().sum(dim=1).gt(0).all()
    assert grad[:3].abs().sum() == 0 and grad[124:].abs().sum() == 0


def test_phone_logits_detach_weights_stops_gradients():
    enc = tiny_encoder()
    hidden = torch.randn(2, 4, D_MODEL, requires_grad=True)
    enc.phone_logits(hidden, detach_weights=True).sum().backward()
    assert enc.phone_item_embedding.weight.grad is None
    assert hidden.grad is not None


def test_state_dict_uses_official_names():
    enc = tiny_encoder(pos_conv_depth=5)
    state = enc.state_dict()
    expected_shapes = {
        "subsample.conv.0.weight": (4, 1, 3, 3),
        "subsample.conv.2.weight": (4, 4, 3, 3),
        "subsample.out.0.weight": (D_MODEL, 4 * 19),
        "post_subsample_proj.weight": (D_MODEL, D_MODEL),
        "phone_item_embedding.weight": (141, D_MODEL),
        "mask_emb": (D_MODEL,),
        "encoder.pos_conv.0.0.weight": (D_MODEL, D_MODEL // 2, 3),
        "encoder.phone_pos_conv.4.0.weight": (D_MODEL, D_MODEL // 2, 3),
        "encoder.layers.0.self_attn.q_proj.weight": (D_MODEL, D_MODEL),
        "encoder.layers.0.self_attn_layer_norm.weight": (D_MODEL,),
        "encoder.layers.0.fc1.weight": (32, D_MODEL),
        "encoder.layers.0.final_layer_norm.weight": (D_MODEL,),
        "encoder.layer_norm.weight": (D_MODEL,),
    }
    for key, shape in expected_shapes.items():
        assert tuple(state[key].shape) == shape, key
    # Exactly the official keys (minus the unused final_proj and
    # phone_layer_norm), nothing else.
    expected = {"mask_emb", "phone_item_embedding.weight"}
    weight_and_bias = [
        "subsample.conv.0",
        "subsample.conv.2",
        "subsample.out.0",
        "post_subsample_proj",
        "encoder.layer_norm",
    ]
    weight_and_bias += [f"encoder.pos_conv.{i}.0" for i in range(5)]
    weight_and_bias += [f"encoder.phone_pos_conv.{i}.0" for i in range(5)]
    for n in range(NUM_LAYERS):
        prefix = f"encoder.layers.{n}."
        weight_and_bias += [
            prefix + "self_attn.q_proj",
            prefix + "self_attn.k_proj",
            prefix + "self_attn.v_proj",
            prefix + "self_attn.out_proj",
            prefix + "self_attn_layer_norm",
            prefix + "fc1",
            prefix + "fc2",
            prefix + "final_layer_norm",
        ]
    for name in weight_and_bias:
        expected |= {name + ".weight", name + ".bias"}
    assert set(state) == expected


def test_phone_padding_row_is_zero():
    enc = tiny_encoder()
    assert enc.phone_item_embedding.padding_idx == 1
    assert enc.phone_item_embedding.weight[1].abs().sum() == 0


def test_conv_positional_embedding_keeps_shape_and_rejects_even_kernel():
    pos = ConvPositionalEmbedding(D_MODEL, depth=2, kernel_size=5, groups=4)
    assert pos(torch.rand(2, 9, D_MODEL)).shape == (2, 9, D_MODEL)
    with pytest.raises(ValueError, match="odd"):
        ConvPositionalEmbedding(D_MODEL, kernel_size=4)


def test_context_layer_out_of_range_raises():
    with pytest.raises(ValueError, match="context_layer"):
        tiny_models.tiny_encoder(seed=None, num_layers=2, context_layer=2)


def test_building_blocks_stay_importable_from_the_encoder_module():
    """Code and folders written before the split name them at the old path."""
    from speechbrain_mmspeech.lobes.models import (
        encoder,
        speech_transformer,
        subsampling,
    )

    for module in (speech_transformer, subsampling):
        for name in vars(module):
            if not name.startswith("_") and name in encoder.__all__:
                assert getattr(encoder, name) is getattr(module, name)
    moved = {"SpeechTransformer", "SpeechEncoderLayer", "Conv2dSubsampling"}
    assert moved <= set(encoder.__all__)
