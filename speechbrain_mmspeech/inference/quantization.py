"""Lighter weights for CPU inference: int8 quantization or bf16.

``quantize_model(model, "int8")`` turns every ``torch.nn.Linear`` of the
model (attention and feed-forward projections, position-bias projections,
the output projection) into PyTorch's dynamically quantized Linear: int8
weights with one scale per output channel, activations quantized on the fly
at each call (fbgemm/x86 kernels). Embeddings, LayerNorms and convolutions
stay in fp32. Before quantizing, the output projection (tied to the token
embeddings) is cut to its first ``num_output_ids`` rows, the text ids, so
the audio codes are neither stored twice nor scored.

Activations are quantized with one scale per call, computed over the whole
input tensor, so int8 results depend slightly on what is decoded together:
a batch, or a hypothesis set, gives numbers a little different from one
utterance alone. fp32 decoding has no such effect.

``model_to_bf16(model)`` computes every Linear layer and convolution in
bf16, with weights cast once (``speechbrain_mmspeech.nnet.precision``),
the output projection cut to the text ids as for int8. What a layer returns
is cast back to fp32, so LayerNorms, attention softmax and masks, the
encoder memory, the decoder cache, the log-softmax of the output scores
(and all that the beam search adds up) and the phone head (it reads the
fp32 phone table) stay fp32. The output projection is bf16 too: kept in
fp32, it brought the log-probabilities closer to fp32 decoding's but left
no more hypotheses unchanged (recipes/AISHELL-1/README.md, "Decoding
speed"). bf16 is fast where the CPU has AVX-512 BF16 or AMX; elsewhere a
warning says it is slower than fp32.

``load_model`` is a ``Pretrainer`` load hook: it loads the weights as
SpeechBrain's default transfer does, then applies ``lower_precision``. The
inference template wires it to the ``quantize`` key (``none`` or ``int8``)
and the ``precision`` key (``fp32`` or ``bf16``), so a model folder or
``overrides={"quantize": "int8"}`` (``{"precision": "bf16"}``) to
``from_hparams`` chooses; the two cannot be combined (int8 already replaces
the Linear layers). Both are for inference only: the model cannot be
trained afterwards.

Authors
 * MMSpeech plugin contributors 2026
"""

import warnings

import torch
from speechbrain.utils.checkpoints import torch_parameter_transfer

from speechbrain_mmspeech.nnet.precision import (
    layers_to_bf16,
    warn_if_slow_precision,
)

QUANTIZE_NONE = "none"
QUANTIZE_INT8 = "int8"
QUANTIZE_MODES = (QUANTIZE_NONE, QUANTIZE_INT8)
PRECISION_FP32 = "fp32"
PRECISION_BF16 = "bf16"
PRECISION_MODES = (PRECISION_FP32, PRECISION_BF16)


def check_weight_options(quantize, precision):
    """Checks a model folder's ``quantize`` and ``precision`` keys.

    Arguments
    ---------
    quantize : str
        One of ``QUANTIZE_MODES``.
    precision : str
        One of ``PRECISION_MODES``.

    Raises
    ------
    ValueError
        For an unknown value, or int8 with bf16.

    Example
    -------
    >>> check_weight_options("none", "bf16")
    >>> check_weight_options("int8", "bf16")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: quantize: int8 and precision: bf16 cannot be combined: ...
    """
    if quantize not in QUANTIZE_MODES:
        raise ValueError(
            f"quantize is {quantize!r}; it must be one of {QUANTIZE_MODES}"
        )
    if precision not in PRECISION_MODES:
        raise ValueError(
            f"precision is {precision!r}; it must be one of {PRECISION_MODES}"
        )
    if quantize != QUANTIZE_NONE and precision != PRECISION_FP32:
        raise ValueError(
            f"quantize: {quantize} and precision: {precision} cannot be "
            f"combined: {quantize} already replaces the fp32 weights of the "
            f"Linear layers. Set quantize: {QUANTIZE_NONE} to decode in "
            f"{precision}, or precision: {PRECISION_FP32} to decode in "
            f"{quantize}."
        )


def check_on_cpu(model, what):
    """Raises unless every parameter of ``model`` is on the CPU.

    Arguments
    ---------
    model : torch.nn.Module
        The model.
    what : str
        What needs the CPU, for the message.

    Example
    -------
    >>> check_on_cpu(torch.nn.Linear(2, 2), "int8 quantization")
    """
    devices = {parameter.device.type for parameter in model.parameters()}
    if devices != {"cpu"}:
        raise ValueError(
            f"{what} runs on the CPU only; the model is on {sorted(devices)}"
        )


def keep_output_rows(decoder, num_ids):
    """Replaces the decoder's output projection by its first ``num_ids`` rows.

    The new projection's weight is a view of the token embeddings (no copy);
    quantizing it then packs only those rows.

    Arguments
    ---------
    decoder : speechbrain_mmspeech.lobes.models.decoder.TextDecoder
        The decoder, changed in place.
    num_ids : int
        Rows to keep (the text ids).

    Example
    -------
    >>> from speechbrain_mmspeech.lobes.models.decoder import TextDecoder
    >>> dec = TextDecoder(vocab_size=20, d_model=16, nhead=2, num_layers=1)
    >>> keep_output_rows(dec, 12)
    >>> dec.output_projection.out_features
    12
    """
    weight = decoder.embed_tokens.weight[:num_ids].detach()
    projection = torch.nn.Linear(weight.shape[1], num_ids, bias=False)
    projection.weight = torch.nn.Parameter(weight, requires_grad=False)
    decoder.output_projection = projection


def quantize_model(model, mode=QUANTIZE_INT8, num_output_ids=None):
    """Quantizes a model's Linear layers to int8, in place (see module doc).

    Arguments
    ---------
    model : speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
        The model, on the CPU, with its weights loaded.
    mode : str
        ``"int8"``, or ``"none"`` to leave the model as it is.
    num_output_ids : int
        Output ids to keep (the text ids; None keeps them all).

    Returns
    -------
    speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
        The same model, its Linear layers int8 unless ``mode`` is ``"none"``.

    Example
    -------
    >>> from speechbrain_mmspeech.lobes.models.mmspeech import MMSpeech
    >>> architecture = getfixture("tiny_architecture")  # d_model 16
    >>> model = MMSpeech.from_architecture(architecture).eval()
    >>> model = quantize_model(model, "int8", num_output_ids=12)
    >>> type(model.decoder.layers[0].fc1).__name__
    'Linear'
    >>> model.decoder.layers[0].fc1.weight().dtype
    torch.qint8
    >>> hidden = torch.rand(3, 16)
    >>> model.decoder.project(hidden, 12).shape
    torch.Size([3, 12])
    """
    check_weight_options(mode, PRECISION_FP32)
    if mode == QUANTIZE_NONE:
        return model
    check_on_cpu(model, "int8 quantization")
    if num_output_ids is not None:
        keep_output_rows(model.decoder, num_output_ids)
    with warnings.catch_warnings():
        # torch 2.11 announces a move of this API to torchao, whose int8
        # kernels are much slower on the CPU without compilation.
        warnings.filterwarnings(
            "ignore", message="torch.ao.quantization is deprecated"
        )
        torch.ao.quantization.quantize_dynamic(
            model,
            {
                torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig
            },
            dtype=torch.qint8,
            inplace=True,
        )
    return model


def model_to_bf16(model, num_output_ids=None):
    """Computes a model's Linear layers and convolutions in bf16, in place.

    See the module doc: weights cast once, everything between the layers
    in fp32.

    Arguments
    ---------
    model, num_output_ids : MMSpeech, int
        As in :func:`quantize_model`; bf16 also needs the model on the CPU.

    Returns
    -------
    speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
        The same model, its Linear layers and convolutions in bf16.

    Example
    -------
    >>> from speechbrain_mmspeech.lobes.models.mmspeech import MMSpeech
    >>> architecture = getfixture("tiny_architecture")  # 20 text ids
    >>> model = MMSpeech.from_architecture(architecture).eval()
    >>> model = model_to_bf16(model, num_output_ids=20)
    >>> model.decoder.layers[0].fc1.weight.dtype
    torch.bfloat16
    >>> model.decoder.layer_norm.weight.dtype  # LayerNorms stay fp32
    torch.float32
    >>> memory = model.encode(torch.rand(1, 60, 80))
    >>> hidden, _ = model.decode(torch.tensor([[0, 5]]), memory)
    >>> logits = model.decoder.project(hidden, 20)
    >>> memory.dtype, logits.dtype, logits.shape
    (torch.float32, torch.float32, torch.Size([1, 2, 20]))
    """
    check_on_cpu(model, "bf16 decoding")
    warn_if_slow_precision("cpu", PRECISION_BF16)
    if num_output_ids is not None:
        keep_output_rows(model.decoder, num_output_ids)
    layers_to_bf16(model)
    return model


def lower_precision(
    model,
    quantize=QUANTIZE_NONE,
    precision=PRECISION_FP32,
    num_output_ids=None,
):
    """Applies a model folder's ``quantize`` and ``precision`` keys.

    Arguments
    ---------
    model, num_output_ids : MMSpeech, int
        As in :func:`quantize_model`; the model is changed in place.
    quantize : str
        ``"none"`` or ``"int8"`` (the ``mode`` of ``quantize_model``).
    precision : str
        ``"fp32"`` or ``"bf16"`` (see ``model_to_bf16``).

    Returns
    -------
    speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
        The same model, quantized or in bf16 as asked.

    Example
    -------
    >>> model = torch.nn.Linear(2, 2)
    >>> lower_precision(model) is model  # fp32, not quantized: as it was
    True
    >>> lower_precision(model, precision="fp16")
    Traceback (most recent call last):
    ...
    ValueError: precision is 'fp16'; it must be one of ('fp32', 'bf16')
    """
    check_weight_options(quantize, precision)
    if precision == PRECISION_BF16:
        return model_to_bf16(model, num_output_ids)
    return quantize_model(model, quantize, num_output_ids)


def load_model(
    model,
    path,
    quantize=QUANTIZE_NONE,
    num_output_ids=None,
    precision=PRECISION_FP32,
):
    """``Pretrainer`` load hook: loads the weights, then lowers precision.

    Arguments
    ---------
    model : speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
        The model built from the hparams.
    path : str or pathlib.Path
        Its ``model.ckpt``.
    quantize, num_output_ids, precision : str, int, str
        The folder's keys, as in :func:`lower_precision`.

    Example
    -------
    >>> from speechbrain_mmspeech.lobes.models.mmspeech import MMSpeech
    >>> def build():
    ...     torch.manual_seed(0)
    ...     return MMSpeech.from_architecture(getfixture("tiny_architecture"))
    >>> path = getfixture("tmp_path") / "model.ckpt"
    >>> torch.save(build().state_dict(), path)
    >>> model = build()
    >>> load_model(model, path, quantize="int8", num_output_ids=12)
    >>> model.decoder.output_projection.weight().shape
    torch.Size([12, 16])
    >>> model = build()
    >>> load_model(model, path, precision="bf16", num_output_ids=12)
    >>> model.decoder.output_projection.weight.dtype
    torch.bfloat16
    """
    check_weight_options(quantize, precision)
    torch_parameter_transfer(model, path)
    lower_precision(model, quantize, precision, num_output_ids)
