"""Configuration values -> our hyperparameters, for both official layouts.

A ``Setting`` names one key of a layout's configuration with its type, its
default and the only values we implement; ``read_settings`` reads a table of
them, refusing wrong types and unsupported values and recording which keys
were absent. ``architecture_values`` turns what was read (under names shared
by the ModelScope and fairseq tables) into the "Model" keys of the inference
template, and ``decoding_values`` maps official beam settings to its
"Decoding" keys.

Authors
 * MMSpeech plugin contributors 2026
"""

from dataclasses import dataclass

from speechbrain_mmspeech.convert.official import REL_POS_MAX_POSITIONS
from speechbrain_mmspeech.convert.reading import ConversionError

NOT_SET = object()
# The official encoder joins phones before layer 6 (hard-coded, also Large).
OFFICIAL_CONTEXT_LAYER = 6
# wav2vec 2.0 uses one weight-normalised convolution when the depth is 1.
MIN_POS_CONV_DEPTH = 2
MIN_POS_CONV_KERNEL = 3


@dataclass(frozen=True)
class Setting:
    """One configuration value: its key, type and default.

    Arguments
    ---------
    key : str
        The key in the layout's configuration.
    kind : type
        ``int``, ``bool`` or ``str``.
    default : object
        The value when the key is absent (``NOT_SET``: the key is required).
    supported : tuple
        The only values we implement (empty: any value of the right kind).

    Example
    -------
    >>> Setting("normformer", bool, True, supported=(True,)).key
    'normformer'
    """

    key: str
    kind: type
    default: object = NOT_SET
    supported: tuple = ()


def read_setting(config, setting, origin):
    """Reads one setting, checking its type and supported values.

    Arguments
    ---------
    config : dict
        The configuration.
    setting : Setting
        What to read.
    origin : str
        Where the configuration comes from (for messages).

    Returns
    -------
    value : object
        The value.
    defaulted : bool
        True when the key was absent and the default was used.

    Example
    -------
    >>> normformer = Setting("normformer", bool, True, supported=(True,))
    >>> read_setting({"normformer": False}, normformer, "c")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: c: normformer = False is not supported (supported: True)
    """
    if setting.key not in config:
        if setting.default is NOT_SET:
            raise ConversionError(
                f"{origin}: required key '{setting.key}' is missing"
            )
        return setting.default, True
    value = config[setting.key]
    right_kind = isinstance(value, setting.kind) and (
        setting.kind is bool or not isinstance(value, bool)
    )
    if setting.kind is int and isinstance(value, float) and value.is_integer():
        value, right_kind = int(value), True
    if not right_kind:
        raise ConversionError(
            f"{origin}: {setting.key} = {value!r} should be of type "
            f"{setting.kind.__name__}"
        )
    if setting.supported and value not in setting.supported:
        supported = ", ".join(repr(v) for v in setting.supported)
        raise ConversionError(
            f"{origin}: {setting.key} = {value!r} is not supported "
            f"(supported: {supported})"
        )
    return value, False


def read_settings(config, settings, origin, optional=()):
    """Reads a table of settings.

    Arguments
    ---------
    config : dict
        The configuration.
    settings : dict
        ``{name: Setting}``.
    origin : str
        Where the configuration comes from (for messages).
    optional : tuple of str
        Names of settings without a default that may be absent.

    Returns
    -------
    values : dict
        ``{name: value}`` (optional settings that are absent are left out).
    defaulted : dict
        ``{key: default}`` for the keys that were absent.

    Example
    -------
    >>> read_settings({}, {"n": Setting("num", int, 3)}, "c")
    ({'n': 3}, {'num': 3})
    """
    values, defaulted = {}, {}
    for name, setting in settings.items():
        if setting.default is NOT_SET and setting.key not in config:
            if name in optional:
                continue
        value, was_defaulted = read_setting(config, setting, origin)
        values[name] = value
        if was_defaulted:
            defaulted[setting.key] = value
    return values, defaulted


def require_equal(values, first, second, settings, origin):
    """Refuses encoder/decoder sizes that differ (we build one size).

    Arguments
    ---------
    values : dict
        Values read with ``read_settings``.
    first, second : str
        The two names that must agree.
    settings : dict
        The table they were read with (for the key names).
    origin : str
        Where the configuration comes from (for messages).

    Returns
    -------
    int
        The shared value.

    Example
    -------
    >>> require_equal({"a": 2, "b": 2}, "a", "b", {}, "c")
    2
    """
    if values[first] != values[second]:
        raise ConversionError(
            f"{origin}: {settings[first].key} = {values[first]} differs from "
            f"{settings[second].key} = {values[second]}; only equal encoder "
            "and decoder sizes are supported"
        )
    return values[first]


def positional_conv_values(depth, conv_pos, groups, d_model, origin):
    """Derives the convolutional position embedding of the encoder.

    The kernel is ``max(3, conv_pos // depth)`` (data2vec's rule, 19 for the
    official 95 and 5).

    Arguments
    ---------
    depth : int
        Number of convolution blocks.
    conv_pos : int
        The configured total receptive field.
    groups : int
        Convolution groups.
    d_model : int
        Model size.
    origin : str
        Where the configuration comes from (for messages).

    Returns
    -------
    dict
        ``pos_conv_depth``, ``pos_conv_kernel`` and ``pos_conv_groups``.

    Example
    -------
    >>> positional_conv_values(5, 95, 16, 768, "c")["pos_conv_kernel"]
    19
    """
    if depth < MIN_POS_CONV_DEPTH:
        raise ConversionError(
            f"{origin}: a positional convolution depth of {depth} (one "
            "weight-normalised convolution) is not supported; MMSpeech uses 5"
        )
    kernel = max(MIN_POS_CONV_KERNEL, conv_pos // depth)
    if kernel % 2 == 0:
        raise ConversionError(
            f"{origin}: conv_pos {conv_pos} with depth {depth} gives an even "
            f"kernel ({kernel}), which is not supported"
        )
    if d_model % groups:
        raise ConversionError(
            f"{origin}: {groups} convolution groups do not divide d_model "
            f"{d_model}"
        )
    return {
        "pos_conv_depth": depth,
        "pos_conv_kernel": kernel,
        "pos_conv_groups": groups,
    }


def architecture_values(values, d_model, settings, origin):
    """Turns settings read from either layout into our model hyperparameters.

    Arguments
    ---------
    values : dict
        Values read with ``read_settings`` (shared names of both tables).
    d_model : int
        Model size.
    settings : dict
        The table ``values`` were read with (for the key names).
    origin : str
        Where the configuration comes from (for messages).

    Returns
    -------
    dict
        The "Model" keys of ``hparams/inference.yaml`` that the architecture
        fixes (vocabulary sizes are added later), with the official
        relative-position table (``rel_pos_max_positions`` 1024).

    Example
    -------
    >>> values = dict(
    ...     encoder_layers=12,
    ...     decoder_layers=6,
    ...     encoder_heads=12,
    ...     decoder_heads=12,
    ...     encoder_ffn=3072,
    ...     decoder_ffn=3072,
    ...     pos_conv_depth=5,
    ...     conv_pos=95,
    ...     conv_pos_groups=16,
    ...     max_positions=1024,
    ...     rel_pos_bucket_size=256,
    ... )
    >>> from speechbrain_mmspeech.convert.modelscope import MODELSCOPE_SETTINGS
    >>> table = MODELSCOPE_SETTINGS
    >>> architecture_values(values, 768, table, "c")["context_layer"]
    6
    """
    nhead = require_equal(
        values, "encoder_heads", "decoder_heads", settings, origin
    )
    d_ffn = require_equal(
        values, "encoder_ffn", "decoder_ffn", settings, origin
    )
    if values["encoder_layers"] <= OFFICIAL_CONTEXT_LAYER:
        raise ConversionError(
            f"{origin}: {values['encoder_layers']} encoder layers; the "
            f"official code joins the phones before layer "
            f"{OFFICIAL_CONTEXT_LAYER}, so more layers are needed"
        )
    if d_model % nhead:
        raise ConversionError(
            f"{origin}: {nhead} heads do not divide d_model {d_model}"
        )
    return {
        "d_model": d_model,
        "nhead": nhead,
        "num_encoder_layers": values["encoder_layers"],
        "num_decoder_layers": values["decoder_layers"],
        "d_ffn": d_ffn,
        "subsample_channels": d_model,
        "context_layer": OFFICIAL_CONTEXT_LAYER,
        **positional_conv_values(
            values["pos_conv_depth"],
            values["conv_pos"],
            values["conv_pos_groups"],
            d_model,
            origin,
        ),
        "max_positions": values["max_positions"],
        "rel_pos_bucket_size": values["rel_pos_bucket_size"],
        "rel_pos_max_positions": REL_POS_MAX_POSITIONS,
    }


def decoding_values(settings):
    """Maps official beam settings to the template's "Decoding" keys.

    Arguments
    ---------
    settings : dict
        ``beam_size``, ``max_len_b``, ``min_len``, ``no_repeat_ngram_size``.

    Returns
    -------
    dict
        ``beam_size``, ``no_repeat_ngram_size``, ``min_decode_length``,
        ``max_decode_length``.

    Example
    -------
    >>> from speechbrain_mmspeech.convert.fairseq import FAIRSEQ_DECODING
    >>> decoding_values(FAIRSEQ_DECODING)["max_decode_length"]
    256
    """
    return {
        "beam_size": settings["beam_size"],
        "no_repeat_ngram_size": settings["no_repeat_ngram_size"],
        "min_decode_length": settings["min_len"],
        "max_decode_length": settings["max_len_b"],
    }


def folder_values(architecture, frontend, decoding):
    """The model folder's settings from what a checkpoint's files say.

    Arguments
    ---------
    architecture : dict
        Architecture keys read from the model configuration.
    frontend : dict
        Front-end settings (``read_fbank_config``); its ``n_mels`` belongs
        to the architecture.
    decoding : dict
        Decoding settings.

    Returns
    -------
    dict
        The template's settings, the architecture as one mapping.

    Example
    -------
    >>> values = folder_values({"d_model": 8}, {"n_mels": 80}, {"beam_size": 5})
    >>> values
    {'architecture': {'d_model': 8, 'n_mels': 80}, 'beam_size': 5}
    """
    frontend = dict(frontend)
    architecture = {**architecture, "n_mels": frontend.pop("n_mels")}
    return {"architecture": architecture, **frontend, **decoding}
