"""Tests for speechbrain_mmspeech.nnet.attention: multi-head attention and biases."""

import math

import pytest
import torch

from speechbrain_mmspeech.nnet.attention import (
    MultiheadAttention,
    causal_bias,
    padding_to_bias,
)

D_MODEL = 8
NHEAD = 2
HEAD_DIM = D_MODEL // NHEAD


def manual_attention(attn, query, key, value, bias=None, scale=None):
    """softmax(q k^T * scale + bias) v, head gains, out_proj: by hand."""
    batch, time_q, _ = query.shape

    def heads(x):
        return x.view(batch, -1, NHEAD, HEAD_DIM).transpose(1, 2)

    q = heads(attn.q_proj(query))
    k = heads(attn.k_proj(key))
    v = heads(attn.v_proj(value))
    scale = HEAD_DIM**-0.5 if scale is None else scale
    scores = q @ k.transpose(-1, -2) * scale
    if bias is not None:
        scores = scores + bias
    out = torch.softmax(scores, dim=-1) @ v
    if attn.c_attn is not None:
        out = out * attn.c_attn[None, :, None, None]
    out = out.transpose(1, 2).reshape(batch, time_q, D_MODEL)
    return attn.out_proj(out)


def test_matches_manual_computation_with_bias():
    torch.manual_seed(0)
    attn = MultiheadAttention(D_MODEL, NHEAD).eval()
    query, key = torch.randn(2, 3, D_MODEL), torch.randn(2, 5, D_MODEL)
    value = torch.randn(2, 5, D_MODEL)
    bias = torch.randn(2, NHEAD, 3, 5)
    expected = manual_attention(attn, query, key, value, bias)
    got = attn(query, key, value, bias=bias)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_scale_factor_two_divides_by_sqrt_of_twice_head_dim():
    torch.manual_seed(0)
    attn = MultiheadAttention(D_MODEL, NHEAD, scale_factor=2.0).eval()
    assert attn.scaling == pytest.approx(1 / math.sqrt(2 * HEAD_DIM))
    x = torch.randn(1, 4, D_MODEL) * 3
    expected = manual_attention(attn, x, x, x, scale=(2 * HEAD_DIM) ** -0.5)
    plain = manual_attention(attn, x, x, x, scale=HEAD_DIM**-0.5)
    got = attn(x, x, x)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(got, plain, atol=1e-3)


def test_padded_keys_do_not_change_the_output():
    torch.manual_seed(0)
    attn = MultiheadAttention(D_MODEL, NHEAD).eval()
    query, memory = torch.randn(2, 3, D_MODEL), torch.randn(2, 6, D_MODEL)
    padding = torch.tensor([[False] * 4 + [True] * 2, [False] * 6])
    changed = memory.clone()
    changed[0, 4:] = 100 * torch.randn(2, D_MODEL)
    out = attn(query, memory, memory, key_padding_mask=padding)
    out_changed = attn(query, changed, changed, key_padding_mask=padding)
    torch.testing.assert_close(out, out_changed)
    # Without the mask the same change does matter.
    assert not torch.allclose(attn(query, memory, memory)[0], out[0])
    # And the masked result equals attending to the real keys only.
    alone = attn(query[:1], memory[:1, :4], memory[:1, :4])
    torch.testing.assert_close(out[:1], alone, atol=1e-5, rtol=1e-5)


def test_head_gain_scales_each_head_output():
    torch.manual_seed(0)
    attn = MultiheadAttention(D_MODEL, NHEAD, head_gain=True).eval()
    assert attn.c_attn.tolist() == [1.0] * NHEAD
    x = torch.randn(1, 3, D_MODEL)
    captured = []
    attn.out_proj.register_forward_hook(
        lambda module, inputs, output: captured.append(inputs[0].clone())
    )
    with torch.no_grad():
        attn(x, x, x)
        attn.c_attn.copy_(torch.tensor([2.0, 0.0]))
        out = attn(x, x, x)
    before, after = captured
    torch.testing.assert_close(
        after[..., :HEAD_DIM], 2 * before[..., :HEAD_DIM]
    )
    assert after[..., HEAD_DIM:].abs().max() == 0
    torch.testing.assert_close(out, manual_attention(attn, x, x, x))


def test_no_head_gain_by_default():
    assert MultiheadAttention(D_MODEL, NHEAD).c_attn is None


def test_fully_masked_row_gives_finite_output():
    torch.manual_seed(0)
    attn = MultiheadAttention(D_MODEL, NHEAD).eval()
    query, memory = torch.randn(2, 3, D_MODEL), torch.randn(2, 4, D_MODEL)
    padding = torch.tensor([[True] * 4, [False, False, True, True]])
    # A causal bias on top of full padding sums two masks on one score.
    bias = causal_bias(4, torch.float32)[:3]
    out = attn(query, memory, memory, key_padding_mask=padding, bias=bias)
    assert torch.isfinite(out).all()


def test_kdim_vdim_differ_from_d_model():
    attn = MultiheadAttention(D_MODEL, NHEAD, kdim=5, vdim=6)
    out = attn(
        torch.randn(2, 3, D_MODEL), torch.randn(2, 4, 5), torch.randn(2, 4, 6)
    )
    assert out.shape == (2, 3, D_MODEL)


def test_d_model_not_divisible_by_nhead_raises():
    with pytest.raises(ValueError, match="divisible"):
        MultiheadAttention(10, 3)


def test_padding_to_bias_and_causal_bias():
    bias = padding_to_bias(torch.tensor([[False, True, False]]), torch.float32)
    assert bias.shape == (1, 1, 1, 3)
    assert bias[0, 0, 0].tolist() == [0.0, torch.finfo(torch.float32).min, 0.0]
    causal = causal_bias(3, torch.float32)
    assert (causal.tril() == 0).all()
    assert (causal.triu(1) == torch.finfo(torch.float32).min).sum() == 3
