"""bf16 computation on the CPU: bf16 layers in an fp32 network.

``layers_to_bf16`` replaces a network's Linear layers and convolutions,
in place, by versions whose weights are cast to bf16 once: each call casts
its input to bf16 and its output back to the input's dtype. Everything else
stays as it was (fp32 for MMSpeech): LayerNorms, embeddings, the residual
sums, the attention scores, masks and softmax, and whatever reads a weight
directly (the phone head). Only what is between a layer's input and output
is rounded to bf16 (8 significant bits).

``BFloat16Linear`` holds its weight packed once in oneDNN's blocked layout
(``torch.ops.mkldnn``, what ``torch.compile`` uses for bf16 Linear layers
on the CPU): an ordinary bf16 weight is re-blocked inside every matmul,
which for the few rows of a decoder step (one per hypothesis) costs as
much as the product. Packed weights are CPU tensors that only oneDNN reads:
a converted network runs on the CPU and cannot be trained.

``warn_if_slow_precision`` warns when bf16 is asked for on a CPU whose
oneDNN has no bf16 kernels (training's ``--precision=bf16`` and decoding's
``precision: bf16`` alike).

Authors
 * MMSpeech plugin contributors 2026
"""

import logging

import torch

logger = logging.getLogger(__name__)


def warn_if_slow_precision(device, *precisions):
    """Warns when bf16 is asked for on a CPU without native bf16 matmuls.

    Without AVX-512 BF16 or AMX, oneDNN has no bf16 kernels and PyTorch
    falls back to reference loops: on an AVX2-only AMD EPYC, a 2048x192 by
    192x768 bf16 matmul ran at 1 to 12 GFLOP/s against 46 in fp32, and a
    fine-tuning epoch more than doubled.

    Arguments
    ---------
    device : str or torch.device
        Where the network runs.
    *precisions : str
        The precisions asked for (``fp32``, ``fp16``, ``bf16``).

    Example
    -------
    >>> warn_if_slow_precision("cpu", "fp32", "fp32")
    """
    if not str(device).startswith("cpu") or "bf16" not in precisions:
        return
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        logger.warning(
            "precision bf16 on a CPU without native bf16 matmuls (no "
            "AVX-512 BF16 or AMX): PyTorch falls back to slow loops, several "
            "times slower than fp32. Use fp32 on this machine (training: "
            "--precision=fp32; a model folder: precision: fp32)."
        )


class BFloat16Linear(torch.nn.Module):
    """A Linear layer computed in bf16, its weight packed once for oneDNN.

    Arguments
    ---------
    linear : torch.nn.Linear
        The layer to copy (on the CPU); it is left unchanged.

    Example
    -------
    >>> linear = torch.nn.Linear(16, 8)
    >>> layer = BFloat16Linear(linear)
    >>> layer.weight.dtype, layer.weight.is_mkldnn
    (torch.bfloat16, True)
    >>> x = torch.rand(3, 16)
    >>> y = layer(x)
    >>> y.dtype
    torch.float32
    >>> bool((y - linear(x)).abs().max() < 0.05)
    True
    """

    def __init__(self, linear):
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        weight = linear.weight.detach().to(torch.bfloat16)
        packed = torch.ops.mkldnn._reorder_linear_weight(weight)
        self.register_buffer("weight", packed, persistent=False)
        bias = linear.bias
        if bias is not None:
            bias = bias.detach().to(torch.bfloat16)
        self.register_buffer("bias", bias, persistent=False)

    def forward(self, x):
        """``linear(x)`` in bf16, returned in ``x``'s dtype.

        Arguments
        ---------
        x : torch.Tensor
            ``[..., in_features]``.

        Returns
        -------
        torch.Tensor
            ``[..., out_features]``, ``x.dtype``.
        """
        y = torch.ops.mkldnn._linear_pointwise(
            x.to(torch.bfloat16), self.weight, self.bias, "none", [], ""
        )
        return y.to(x.dtype)

    def extra_repr(self):
        """Sizes, as ``torch.nn.Linear`` shows them."""
        return (
            f"in_features={self.in_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


class BFloat16Convolution(torch.nn.Module):
    """A convolution computed in bf16, its weights cast once.

    Arguments
    ---------
    conv : torch.nn.Conv1d or torch.nn.Conv2d
        The convolution, cast to bf16 in place and kept.

    Example
    -------
    >>> conv = BFloat16Convolution(torch.nn.Conv1d(4, 4, 3, padding=1))
    >>> conv.conv.weight.dtype
    torch.bfloat16
    >>> conv(torch.rand(2, 4, 7)).dtype
    torch.float32
    """

    def __init__(self, conv):
        super().__init__()
        self.conv = conv.to(torch.bfloat16)

    def forward(self, x):
        """``conv(x)`` in bf16, returned in ``x``'s dtype.

        Arguments
        ---------
        x : torch.Tensor
            The convolution's input.

        Returns
        -------
        torch.Tensor
            Its output, ``x.dtype``.
        """
        return self.conv(x.to(torch.bfloat16)).to(x.dtype)


# Each kind of layer computed in bf16, and what replaces it.
BF16_LAYERS = {
    torch.nn.Linear: BFloat16Linear,
    torch.nn.Conv1d: BFloat16Convolution,
    torch.nn.Conv2d: BFloat16Convolution,
}


def layers_to_bf16(module):
    """Replaces the Linear layers and convolutions below ``module``, in place.

    Every ``BF16_LAYERS`` layer among ``module``'s descendants becomes its
    bf16 version; layers already converted are left as they are.

    Arguments
    ---------
    module : torch.nn.Module
        The network, on the CPU.

    Returns
    -------
    torch.nn.Module
        ``module``.

    Example
    -------
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8))
    >>> net = layers_to_bf16(net)
    >>> [type(layer).__name__ for layer in net]
    ['BFloat16Linear', 'LayerNorm']
    >>> net(torch.rand(3, 4)).dtype
    torch.float32
    """
    converted = tuple(BF16_LAYERS.values())
    for name, child in module.named_children():
        if isinstance(child, converted):
            continue
        bf16_type = next(
            (new for old, new in BF16_LAYERS.items() if isinstance(child, old)),
            None,
        )
        if bf16_type is None:
            layers_to_bf16(child)
        else:
            setattr(module, name, bf16_type(child))
    return module
