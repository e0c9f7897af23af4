"""int8 dynamic quantization of MMSpeech for CPU inference.

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

``load_model`` is a ``Pretrainer`` load hook: it loads the weights as
SpeechBrain's default transfer does, then quantizes. The inference template
wires it to the ``quantize`` key (``none`` or ``int8``), so a model folder
or ``overrides={"quantize": "int8"}`` to ``from_hparams`` chooses. Quantized
modules run on the CPU only, and quantization is for inference only: the
quantized model cannot be trained.

Authors
 * MMSpeech plugin contributors 2026
"""

import warnings

import torch
from speechbrain.utils.checkpoints import torch_parameter_transfer

QUANTIZE_NONE = "none"
QUANTIZE_INT8 = "int8"
QUANTIZE_MODES = (QUANTIZE_NONE, QUANTIZE_INT8)


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
        The same model.

    Example
    -------
    >>> from speechbrain_mmspeech.lobes.models.encoder import SpeechEncoder
    >>> from speechbrain_mmspeech.lobes.models.decoder import TextDecoder
    >>> from speechbrain_mmspeech.lobes.models.mmspeech import MMSpeech
    >>> model = MMSpeech(
    ...     SpeechEncoder(
    ...         d_model=16,
    ...         nhead=2,
    ...         num_layers=2,
    ...         d_ffn=32,
    ...         subsample_channels=4,
    ...         context_layer=1,
    ...         pos_conv_depth=1,
    ...         pos_conv_kernel=3,
    ...         pos_conv_groups=2,
    ...     ),
    ...     TextDecoder(vocab_size=20, d_model=16, nhead=2, num_layers=1),
    ... ).eval()
    >>> model = quantize_model(model, "int8", num_output_ids=12)
    >>> type(model.decoder.layers[0].fc1).__name__
    'Linear'
    >>> model.decoder.layers[0].fc1.weight().dtype
    torch.qint8
    >>> hidden = torch.rand(3, 16)
    >>> model.decoder.project(hidden, 12).shape
    torch.Size([3, 12])
    """
    if mode not in QUANTIZE_MODES:
        raise ValueError(
            f"quantize is {mode!r}; it must be one of {QUANTIZE_MODES}"
        )
    if mode == QUANTIZE_NONE:
        return model
    devices = {parameter.device.type for parameter in model.parameters()}
    if devices != {"cpu"}:
        raise ValueError(
            "int8 quantization runs on the CPU only; the model is on "
            f"{sorted(devices)}"
        )
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


def load_model(model, path, quantize=QUANTIZE_NONE, num_output_ids=None):
    """``Pretrainer`` load hook: loads the weights, then quantizes.

    Arguments
    ---------
    model : speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
        The model built from the hparams.
    path : str or pathlib.Path
        Its ``model.ckpt``.
    quantize : str
        ``"none"`` or ``"int8"`` (see ``quantize_model``).
    num_output_ids : int
        Output ids to keep when quantizing (the text ids).

    Example
    -------
    >>> from speechbrain_mmspeech.lobes.models.decoder import TextDecoder
    >>> from speechbrain_mmspeech.lobes.models.encoder import SpeechEncoder
    >>> from speechbrain_mmspeech.lobes.models.mmspeech import MMSpeech
    >>> def build():
    ...     torch.manual_seed(0)
    ...     encoder = SpeechEncoder(
    ...         d_model=16,
    ...         nhead=2,
    ...         num_layers=2,
    ...         d_ffn=32,
    ...         subsample_channels=4,
    ...         context_layer=1,
    ...         pos_conv_depth=1,
    ...         pos_conv_kernel=3,
    ...         pos_conv_groups=2,
    ...     )
    ...     decoder = TextDecoder(
    ...         vocab_size=20, d_model=16, nhead=2, num_layers=1
    ...     )
    ...     return MMSpeech(encoder, decoder)
    >>> path = getfixture("tmp_path") / "model.ckpt"
    >>> torch.save(build().state_dict(), path)
    >>> model = build()
    >>> load_model(model, path, quantize="int8", num_output_ids=12)
    >>> model.decoder.output_projection.weight().shape
    torch.Size([12, 16])
    """
    if quantize not in QUANTIZE_MODES:
        raise ValueError(
            f"quantize is {quantize!r}; it must be one of {QUANTIZE_MODES}"
        )
    torch_parameter_transfer(model, path)
    quantize_model(model, quantize, num_output_ids)
