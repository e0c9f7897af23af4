"""Tests for speechbrain_mmspeech.nnet.precision: bf16 layers in fp32 nets."""

import logging

import pytest
import torch

from speechbrain_mmspeech.nnet import precision
from speechbrain_mmspeech.nnet.precision import (
    BFloat16Convolution,
    BFloat16Linear,
    layers_to_bf16,
    warn_if_slow_precision,
)

# bf16 keeps 8 significant bits: rounding the input and the weight is off
# by at most 2**-9 relative each, and so is rounding the output. One layer
# of random values is then off by well under 1% of its output's scale.
ONE_LAYER_TOLERANCE = 0.01


def relative_error(actual, expected):
    error = (actual - expected).abs().max() / expected.abs().max()
    return float(error.detach())


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_fp32_and_keeps_the_input_dtype(bias):
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 48, bias=bias)
    layer = BFloat16Linear(linear)
    assert layer.weight.dtype == torch.bfloat16
    assert layer.bias is None or layer.bias.dtype == torch.bfloat16
    assert list(layer.state_dict()) == []  # nothing saved: inference only
    for shape in [(5, 64), (2, 3, 64)]:  # a decoder step, a sequence
        x = torch.randn(shape)
        y = layer(x)
        assert y.dtype == torch.float32 and y.shape == (*shape[:-1], 48)
        assert relative_error(y, linear(x)) < ONE_LAYER_TOLERANCE
    assert "in_features=64, out_features=48" in repr(layer)


@pytest.mark.parametrize("conv", [torch.nn.Conv1d, torch.nn.Conv2d])
def test_convolution_matches_fp32(conv):
    torch.manual_seed(0)
    fp32 = conv(4, 8, 3, stride=2)
    x = torch.randn((2, 4, 21) if conv is torch.nn.Conv1d else (2, 4, 21, 9))
    expected = fp32(x)
    layer = BFloat16Convolution(fp32)
    y = layer(x)
    assert layer.conv.weight.dtype == torch.bfloat16
    assert y.dtype == torch.float32
    assert relative_error(y, expected) < ONE_LAYER_TOLERANCE


def test_layers_to_bf16_converts_each_layer_once():
    net = torch.nn.Sequential(
        torch.nn.Conv1d(4, 4, 3),
        torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4)),
        torch.nn.Embedding(3, 4),
    )
    layers_to_bf16(net)
    layers_to_bf16(net)  # converted layers are left as they are
    assert isinstance(net[0], BFloat16Convolution)
    assert isinstance(net[0].conv, torch.nn.Conv1d)
    assert isinstance(net[1][0], BFloat16Linear)
    assert net[1][1].weight.dtype == torch.float32
    assert net[2].weight.dtype == torch.float32


def test_warns_for_bf16_on_a_cpu_without_bf16_kernels(monkeypatch, caplog):
    monkeypatch.setattr(
        precision.torch.ops.mkldnn,
        "_is_mkldnn_bf16_supported",
        lambda: False,
    )
    with caplog.at_level(logging.WARNING, logger=precision.__name__):
        warn_if_slow_precision("cpu", "fp32")
        warn_if_slow_precision("cuda:0", "bf16")
        assert caplog.records == []
        warn_if_slow_precision("cpu", "fp32", "bf16")
    assert len(caplog.records) == 1
    assert "without native bf16" in caplog.records[0].getMessage()
