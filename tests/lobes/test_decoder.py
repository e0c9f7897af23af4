"""Tests for speechbrain_mmspeech.lobes.models.decoder: the OFA text decoder."""

import math

import pytest
import torch

import tiny_models
from speechbrain_mmspeech.lobes.models.decoder import relative_position_buckets

VOCAB = 20
D_MODEL = tiny_models.D_MODEL
NHEAD = tiny_models.DECODER_SIZES["nhead"]
NUM_LAYERS = 3
MAX_POSITIONS = tiny_models.DECODER_SIZES["max_positions"]
BUCKET_SIZE = tiny_models.DECODER_SIZES["rel_pos_bucket_size"]


def tiny_decoder(**overrides):
    """A tiny decoder in eval mode, ``NUM_LAYERS`` layers unless overridden."""
    options = {"num_layers": NUM_LAYERS, **overrides}
    return tiny_models.tiny_decoder(VOCAB, **options).eval()


def memory_inputs(batch=2, time=7):
    torch.manual_seed(1)
    return torch.randn(batch, time, D_MODEL), torch.randn(batch, time, D_MODEL)


def test_relative_position_buckets_official_sizes():
    buckets = relative_position_buckets(256, 1024)
    assert buckets.shape == (1024, 1024) and buckets.dtype == torch.long
    assert buckets.min() == 0 and buckets.max() == 510
    offsets = torch.arange(1024)[:, None] - torch.arange(1024)[None, :]
    near = offsets.abs() <= 128
    assert torch.equal(buckets[near], offsets[near] + 255)
    # Depends only on the offset, and is monotone in it.
    by_offset = buckets[1023, :].flip(0)  # offsets 0..1023
    assert torch.equal(buckets[:, 0], by_offset)
    assert (by_offset.diff() >= 0).all()
    assert torch.equal(buckets[0, :], 510 - by_offset)
    spot = {0: 255, 1: 256, -1: 254, 128: 383, -128: 127, 129: 384}
    # Beyond +-128: 128 + ceil(log(d / 128) / log(1023 / 128) * 127), signed.
    spot.update({-129: 126, 200: 411, -200: 99, 500: 467, 1023: 510, -1023: 0})
    for offset, bucket in spot.items():
        query, key = max(offset, 0), max(-offset, 0)
        assert int(buckets[query, key]) == bucket, offset


def test_relative_position_buckets_recipe_size_in_range():
    # The AISHELL-1 recipe sizes stay inside the table.
    recipe = relative_position_buckets(64, 256)
    assert recipe.min() == 0 and recipe.max() == 126


@pytest.mark.parametrize("bucket_size, max_positions", [(4, 12), (8, 15)])
def test_relative_position_buckets_stay_in_range(bucket_size, max_positions):
    buckets = relative_position_buckets(bucket_size, max_positions)
    assert buckets.min() == 0 and buckets.max() == 2 * bucket_size - 2
    dec = tiny_decoder(
        rel_pos_bucket_size=bucket_size, max_positions=max_positions
    )
    memory, positions = memory_inputs()
    tokens = torch.zeros(2, max_positions, dtype=torch.long)
    assert dec(tokens, memory, positions).shape == (2, max_positions, D_MODEL)


def test_relative_position_table_span():
    # The official table spans 1024 positions whatever max_positions is;
    # the decoder then stops at the shorter of the two.
    dec = tiny_decoder(
        rel_pos_bucket_size=8, max_positions=12, rel_pos_max_positions=1024
    )
    assert torch.equal(dec.token_rp_bucket, relative_position_buckets(8, 1024))
    assert dec.max_positions == 12
    own = tiny_decoder(rel_pos_bucket_size=8, max_positions=12)
    assert torch.equal(own.token_rp_bucket, relative_position_buckets(8, 12))
    assert not torch.equal(own.token_rp_bucket, dec.token_rp_bucket[:12, :12])
    short = tiny_decoder(max_positions=12, rel_pos_max_positions=10)
    assert short.max_positions == 10
    memory, positions = memory_inputs()
    with pytest.raises(ValueError, match="at most 10 tokens"):
        short(torch.zeros(2, 11, dtype=torch.long), memory, positions)


def test_causality():
    dec = tiny_decoder()
    memory, positions = memory_inputs()
    tokens = torch.randint(3, VOCAB, (2, 6))
    changed = tokens.clone()
    changed[:, 3] = (tokens[:, 3] + 1 - 3) % (VOCAB - 3) + 3
    out = dec(tokens, memory, positions)
    out_changed = dec(changed, memory, positions)
    torch.testing.assert_close(out[:, :3], out_changed[:, :3])
    assert not torch.allclose(out[:, 3], out_changed[:, 3])
    # A prefix decodes to the prefix of the full output.
    torch.testing.assert_close(
        dec(tokens[:, :4], memory, positions), out[:, :4], atol=1e-5, rtol=0
    )


def test_only_causal_relative_buckets_matter():
    dec = tiny_decoder()
    memory, positions = memory_inputs()
    tokens = torch.randint(3, VOCAB, (2, 5))
    out = dec(tokens, memory, positions)
    center = BUCKET_SIZE - 1  # bucket of offset 0
    with torch.no_grad():
        # Buckets of keys after the query are hidden by causality.
        for table in dec.token_rel_pos_table_list:
            table.weight[:center] = 5.0
    torch.testing.assert_close(dec(tokens, memory, positions), out)
    with torch.no_grad():
        # Offset +1 (previous token) matters from position 1 on only.
        dec.token_rel_pos_table_list[0].weight[center + 1] = 5.0
    changed = dec(tokens, memory, positions)
    torch.testing.assert_close(changed[:, 0], out[:, 0])
    assert not torch.allclose(changed[:, 1:], out[:, 1:])


def test_output_projection_is_tied_to_embed_tokens():
    dec = tiny_decoder()
    assert dec.output_projection.weight is dec.embed_tokens.weight
    assert dec.output_projection.bias is None
    n_params = sum(p.numel() for p in dec.parameters())
    n_unique = sum(
        p.numel()
        for name, p in dec.named_parameters()
        if name != "output_projection.weight"
    )
    assert n_params == n_unique


def test_embed_scales_tokens_and_adds_positions():
    dec = tiny_decoder()
    tokens = torch.tensor([[0, 5, 7]])
    raw = dec.embed_tokens(tokens) * math.sqrt(D_MODEL)
    raw = raw + dec.embed_positions.weight[:3]
    torch.testing.assert_close(dec.embed(tokens), dec.layernorm_embedding(raw))
    plain = tiny_decoder(
        scale_embedding=False, entangle_position_embedding=False
    )
    torch.testing.assert_close(
        plain.embed(tokens),
        plain.layernorm_embedding(plain.embed_tokens(tokens)),
    )


def test_state_dict_uses_official_names():
    dec = tiny_decoder()
    state = dec.state_dict()
    n_buckets = 2 * BUCKET_SIZE - 1
    expected_shapes = {
        "embed_tokens.weight": (VOCAB, D_MODEL),
        "output_projection.weight": (VOCAB, D_MODEL),
        "embed_positions.weight": (MAX_POSITIONS + 2, D_MODEL),
        "token_rel_pos_table_list.0.weight": (n_buckets, NHEAD),
        "layers.0.self_attn.c_attn": (NHEAD,),
        "layers.0.self_attn_mid_layer_norm.weight": (D_MODEL,),
        "layers.0.cross_attn.k_proj.weight": (D_MODEL, D_MODEL),
        "layers.0.cross_attn.c_attn": (NHEAD,),
        "layers.0.cross_attn_layer_norm.weight": (D_MODEL,),
        "layers.0.cross_attn_mid_layer_norm.weight": (D_MODEL,),
        "layers.0.ffn_layer_norm.weight": (32,),
        "pos_ln.weight": (D_MODEL,),
        "self_pos_q_linear.weight": (D_MODEL, D_MODEL),
        "cross_pos_k_linear.weight": (D_MODEL, D_MODEL),
        "layernorm_embedding.weight": (D_MODEL,),
        "layer_norm.weight": (D_MODEL,),
    }
    for key, shape in expected_shapes.items():
        assert tuple(state[key].shape) == shape, key
    for table in dec.token_rel_pos_table_list:
        assert table.weight.abs().sum() == 0
    # Exactly the official (ModelScope) names, image tables excepted.
    expected = {"embed_tokens.weight", "output_projection.weight"}
    expected |= {"embed_positions.weight"}
    expected |= {
        f"token_rel_pos_table_list.{i}.weight" for i in range(NUM_LAYERS)
    }
    weight_and_bias = [
        "layernorm_embedding",
        "pos_ln",
        "self_pos_q_linear",
        "self_pos_k_linear",
        "cross_pos_q_linear",
        "cross_pos_k_linear",
        "layer_norm",
    ]
    for i in range(NUM_LAYERS):
        prefix = f"layers.{i}."
        expected |= {prefix + "self_attn.c_attn", prefix + "cross_attn.c_attn"}
        for attn in ("self_attn", "cross_attn"):
            for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                weight_and_bias.append(f"{prefix}{attn}.{proj}")
        weight_and_bias += [
            prefix + name
            for name in (
                "self_attn_layer_norm",
                "self_attn_mid_layer_norm",
                "cross_attn_layer_norm",
                "cross_attn_mid_layer_norm",
                "ffn_layer_norm",
                "fc1",
                "fc2",
                "final_layer_norm",
            )
        ]
    for name in weight_and_bias:
        expected |= {name + ".weight", name + ".bias"}
    assert set(state) == expected


def test_padded_memory_frames_do_not_change_the_output():
    dec = tiny_decoder()
    memory, positions = memory_inputs()
    padding = torch.zeros(2, 7, dtype=torch.bool)
    padding[0, 4:] = True
    tokens = torch.randint(3, VOCAB, (2, 5))
    out = dec(tokens, memory, positions, padding)
    memory2, positions2 = memory.clone(), positions.clone()
    memory2[0, 4:] = 50 * torch.randn(3, D_MODEL)
    positions2[0, 4:] = 50 * torch.randn(3, D_MODEL)
    torch.testing.assert_close(dec(tokens, memory2, positions2, padding), out)
    # Equal to decoding against the real frames alone.
    alone = dec(tokens[:1], memory[:1, :4], positions[:1, :4])
    torch.testing.assert_close(out[:1], alone, atol=1e-5, rtol=0)
    # Without the mask the same change matters.
    assert not torch.allclose(dec(tokens, memory2, positions2)[0], out[0])


def test_too_long_input_raises_a_clear_error():
    dec = tiny_decoder()
    memory, positions = memory_inputs()
    assert dec(
        torch.zeros(2, MAX_POSITIONS, dtype=torch.long), memory, positions
    ).shape == (2, MAX_POSITIONS, D_MODEL)
    tokens = torch.zeros(2, MAX_POSITIONS + 1, dtype=torch.long)
    with pytest.raises(ValueError, match=f"at most {MAX_POSITIONS} tokens"):
        dec(tokens, memory, positions)


def test_drop_path_rises_linearly():
    dec = tiny_decoder(num_layers=5, drop_path=0.2)
    probs = [layer.drop_path.prob for layer in dec.layers]
    assert probs == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2])
    single = tiny_decoder(num_layers=1, drop_path=0.2)
    assert single.layers[0].drop_path.prob == 0.0


def test_memory_of_another_size():
    dec = tiny_decoder(d_memory=24)
    memory, positions = torch.randn(2, 7, 24), torch.randn(2, 7, 24)
    tokens = torch.randint(3, VOCAB, (2, 4))
    assert dec(tokens, memory, positions).shape == (2, 4, D_MODEL)


def randomize_relative_tables(dec):
    """Non-zero relative-position tables (they start at zero)."""
    torch.manual_seed(2)
    with torch.no_grad():
        for table in dec.token_rel_pos_table_list:
            table.weight.normal_()
    return dec


@pytest.mark.parametrize("entangle", [True, False])
def test_cached_steps_equal_the_full_prefix(entangle):
    dec = randomize_relative_tables(
        tiny_decoder(
            entangle_position_embedding=entangle,
            scale_embedding=entangle,
            rel_pos_bucket_size=3,  # offsets beyond +-1 share log buckets
        )
    )
    memory, positions = memory_inputs()
    padding = torch.zeros(2, 7, dtype=torch.bool)
    padding[1, 5:] = True
    tokens = torch.randint(3, VOCAB, (2, MAX_POSITIONS))
    full = dec(tokens, memory, positions, padding)
    cache = dec.init_cache(memory, positions, padding)
    for step in range(MAX_POSITIONS):
        hidden = dec.forward_step(tokens[:, step], cache)
        torch.testing.assert_close(hidden, full[:, step], atol=1e-5, rtol=0)
    assert cache.length == MAX_POSITIONS
    with pytest.raises(ValueError, match=f"at most {MAX_POSITIONS} tokens"):
        dec.forward_step(tokens[:, 0], cache)


def test_cached_steps_of_grouped_and_reordered_hypotheses():
    """Three hypotheses per utterance, shuffled within their utterance."""
    dec = randomize_relative_tables(tiny_decoder())
    memory, positions = memory_inputs()
    padding = torch.zeros(2, 7, dtype=torch.bool)
    padding[0, 4:] = True
    group, length = 3, 6
    torch.manual_seed(5)
    tokens = torch.randint(3, VOCAB, (2 * group, length))
    cache = dec.init_cache(memory, positions, padding, group=group)
    history = tokens[:, :0]
    for step in range(length):
        # Hypothesis i continues hypothesis order[i] (same utterance).
        order = torch.cat(
            [torch.randint(0, group, (group,)) + u * group for u in range(2)]
        )
        if step > 0:
            cache.reorder(order)
            history = history[order]
        history = torch.cat([history, tokens[:, step : step + 1]], dim=1)
        hidden = dec.forward_step(tokens[:, step], cache)
        rows = torch.arange(2 * group) // group
        full = dec(history, memory[rows], positions[rows], padding[rows])
        torch.testing.assert_close(hidden, full[:, -1], atol=1e-5, rtol=0)


def test_text_only_projection_equals_the_restricted_full_projection():
    dec = tiny_decoder()
    hidden = torch.randn(4, 3, D_MODEL)
    full = dec.output_projection(hidden)
    text = dec.project(hidden, 12)
    assert text.shape == (4, 3, 12)
    torch.testing.assert_close(text, full[..., :12])
    torch.testing.assert_close(dec.project(hidden), full)
    # A slice of the tied weight: no new parameter, nothing in the state.
    assert set(dec.state_dict()) == set(tiny_decoder().state_dict())


def test_the_layer_stays_importable_from_the_decoder_module():
    """Code written before the split names the layer at the old path."""
    from speechbrain_mmspeech.lobes.models import decoder, decoder_layer

    assert decoder.TextDecoderLayer is decoder_layer.TextDecoderLayer
    assert (
        decoder.DECODER_ATTENTION_SCALE_FACTOR
        == decoder_layer.DECODER_ATTENTION_SCALE_FACTOR
    )
