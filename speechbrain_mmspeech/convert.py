"""Official MMSpeech checkpoints -> SpeechBrain model folders.

Two official layouts are read:

- a **ModelScope** model folder (``damo/ofa_mmspeech_*``): ``config.json``
  (HF ``MMSpeechConfig``), ``configuration.json`` (task and beam settings),
  ``pytorch_model.bin`` (HF state dict, optionally under ``model.``),
  ``vocab.txt``, ``phone_dict.txt`` and ``fbank_config.yaml``;
- a **fairseq** checkpoint from the OFA release (``ofa_mmspeech_*.pt``, with
  its ``cfg``/``args`` and ``model`` entries) plus the BERT-Chinese
  ``vocab.txt``, ``phone_dict.txt`` and ``fbank_config.yaml``.

The architecture is read from the checkpoint's own configuration, the
weights are renamed to our (ModelScope) names and matched strictly against a
model built from it: every model tensor must be present with its shape, and
every checkpoint tensor must either be used or be one of the tensors ASR
never uses (``official.unused_official_tensors`` and recomputed buffers),
which are listed in ``conversion.json``. The front end (CMVN of
``fbank_config.yaml``) and the official decoding settings are written into
``hyperparams.yaml``; the checkpoint's own vocabularies become the
tokenizers. The folder is written under a temporary name and renamed, so a
failed conversion leaves nothing behind.

Command line (``mmspeech-convert`` or ``python -m speechbrain_mmspeech.convert``)::

    mmspeech-convert modelscope ofa_mmspeech_asr_aishell1_base_zh out/base
    mmspeech-convert fairseq ofa_mmspeech_base1_aishell1.pt out/base \\
        --vocab vocab.txt --phone-dict phone_dict.txt \\
        --fbank-config fbank_config.yaml
    mmspeech-convert publish out/base my-org/mmspeech-base-aishell1

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml
from hyperpyyaml import load_hyperpyyaml

from speechbrain_mmspeech import __version__
from speechbrain_mmspeech.export import (
    INFERENCE_TEMPLATE,
    render_hparams,
    write_model_folder,
)
from speechbrain_mmspeech.fileio import write_atomically
from speechbrain_mmspeech.frontend import GLOBAL_NORM, SENTENCE_NORM
from speechbrain_mmspeech.official import unused_official_tensors
from speechbrain_mmspeech.tokenizers import (
    BLANK_TOKEN,
    FAIRSEQ_SPECIALS,
    MASK_TOKEN,
    CharTokenizer,
    PinyinTokenizer,
    read_vocab_file,
)

# Files of a ModelScope model folder (fact sheet 6.1).
CONFIG_FILE = "config.json"
CONFIGURATION_FILE = "configuration.json"
WEIGHTS_FILE = "pytorch_model.bin"
VOCAB_FILE = "vocab.txt"
PHONE_DICT_FILE = "phone_dict.txt"
FBANK_CONFIG_FILE = "fbank_config.yaml"
MODELSCOPE_FILES = (
    CONFIG_FILE,
    CONFIGURATION_FILE,
    WEIGHTS_FILE,
    VOCAB_FILE,
    PHONE_DICT_FILE,
    FBANK_CONFIG_FILE,
)
# Files the converter adds to a model folder besides those of export.py.
PHONE_TOKENIZER_FILE = "phone_tokenizer.ckpt"
REPORT_FILE = "conversion.json"

MODELSCOPE_PREFIX = "model."
# fairseq module names -> ModelScope names, inside decoder.layers.N.
FAIRSEQ_RENAMES = {
    "self_attn_ln": "self_attn_mid_layer_norm",
    "encoder_attn": "cross_attn",
    "encoder_attn_layer_norm": "cross_attn_layer_norm",
    "cross_attn_ln": "cross_attn_mid_layer_norm",
    "ffn_layernorm": "ffn_layer_norm",
}
DECODER_LAYER_PREFIX = ("decoder", "layers")
# Buffers the official models save but our model recomputes.
RECOMPUTED_BUFFERS = (
    "version",
    "token_rp_bucket",
    "image_rp_bucket",
    "image_position_idx",
)
TOKEN_BUCKETS_KEY = "decoder.token_rp_bucket"
# The output layer shares the token embeddings (fact sheet 1).
TIED_WEIGHTS = {
    "decoder.output_projection.weight": "decoder.embed_tokens.weight"
}
EMBED_TOKENS_KEY = TIED_WEIGHTS["decoder.output_projection.weight"]

# The official encoder joins phones before layer 6 (hard-coded, also Large).
OFFICIAL_CONTEXT_LAYER = 6
# wav2vec 2.0 uses one weight-normalised convolution when the depth is 1.
MIN_POS_CONV_DEPTH = 2
MIN_POS_CONV_KERNEL = 3
OFFICIAL_N_MELS = 80

# What the fairseq decoder always does (fact sheet 1, note B).
FAIRSEQ_BEHAVIOUR_FLAGS = ("scale_embedding", "entangle_position_embedding")
FAIRSEQ_ARCHITECTURES = ("ofa_speech", "ofa_speech_base", "ofa_speech_large")
MODELSCOPE_MULTIMODAL_TYPE = "mmspeech"
NOT_SET = object()

# Official beam settings: ModelScope configuration.json (as in the MS test)
# and the fairseq evaluation script (fact sheet 5.2).
MODELSCOPE_DECODING = {
    "beam_size": 5,
    "max_len_b": 128,
    "min_len": 1,
    "no_repeat_ngram_size": 5,
}
FAIRSEQ_DECODING = {
    "beam_size": 5,
    "max_len_b": 256,
    "min_len": 1,
    "no_repeat_ngram_size": 5,
}
SUPPORTED_MAX_LEN_A = 0
SUPPORTED_LENPEN = 1.0

# fbank_config.yaml (fairseq S2T data config, fact sheet 2).
TRANSFORM_KEYS = ("transforms", "feature_transforms")
EVAL_TRANSFORM_SPLITS = ("_eval", "*")
TRAIN_TRANSFORM_SPLITS = ("_train", "*")
UTTERANCE_CMVN = "utterance_cmvn"
GLOBAL_CMVN = "global_cmvn"
SPECAUGMENT = "specaugment"
CMVN_TRANSFORMS = {UTTERANCE_CMVN: SENTENCE_NORM, GLOBAL_CMVN: GLOBAL_NORM}
UTTERANCE_CMVN_OPTIONS = ("norm_means", "norm_vars")
FEATURE_SIZE_KEY = "input_feat_per_channel"
STATS_PATH_KEY = "stats_npz_path"
STATS_ARRAYS = ("mean", "std")

MAX_LISTED_PROBLEMS = 20


# File suffix -> (name, parser, the parser's error type).
MAPPING_FORMATS = {
    ".json": ("JSON", json.loads, ValueError),
    ".yaml": ("YAML", yaml.safe_load, yaml.YAMLError),
}


class ConversionError(ValueError):
    """A checkpoint that cannot be converted; the message names the cause."""


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


# ModelScope config.json (HF MMSpeechConfig; key names from the fact sheet,
# sections 1 note B and 9). Defaults are MMSpeechConfig's where the fact
# sheet gives them (scale/entangle False, code LN False, phone sizes), else
# the official value; the strict weight matching checks those.
MODELSCOPE_SETTINGS = {
    "vocab_size": Setting("vocab_size", int),
    "d_model": Setting("d_model", int),
    "encoder_layers": Setting("encoder_layers", int),
    "decoder_layers": Setting("decoder_layers", int),
    "encoder_heads": Setting("encoder_attention_heads", int),
    "decoder_heads": Setting("decoder_attention_heads", int),
    "encoder_ffn": Setting("encoder_ffn_dim", int),
    "decoder_ffn": Setting("decoder_ffn_dim", int),
    "scale_embedding": Setting("scale_embedding", bool, False),
    "entangle_position_embedding": Setting(
        "entangle_position_embedding", bool, False
    ),
    "code_layernorm_embedding": Setting(
        "code_layernorm_embedding", bool, False, (False,)
    ),
    "normformer": Setting("normformer", bool, True, (True,)),
    "layernorm_embedding": Setting("layernorm_embedding", bool, True, (True,)),
    "attn_scale_factor": Setting("attn_scale_factor", int, 2, (2,)),
    "activation": Setting("activation_function", str, "gelu", ("gelu",)),
    "phone_vocab_size": Setting("phone_vocab_size", int, NOT_SET),
    "phone_dict_size": Setting("phone_dict_size", int, NOT_SET),
    "pos_conv_depth": Setting("encoder_pos_conv_depth", int, 5),
    "conv_pos": Setting("encoder_conv_pos", int, 95),
    "conv_pos_groups": Setting("encoder_conv_pos_groups", int, 16),
    "max_positions": Setting("max_position_embeddings", int, 1024),
    "rel_pos_bucket_size": Setting("token_bucket_size", int, 256),
}
# Keys of MODELSCOPE_SETTINGS that may be absent without a default: they
# are then derived from phone_dict.txt.
OPTIONAL_SETTINGS = ("phone_vocab_size", "phone_dict_size")

# fairseq cfg["model"] (SpeechTextUnifyConfig / Wav2Vec2Config field names).
FAIRSEQ_SETTINGS = {
    "encoder_d_model": Setting("encoder_embed_dim", int),
    "decoder_d_model": Setting("decoder_embed_dim", int),
    "encoder_layers": Setting("encoder_layers", int),
    "decoder_layers": Setting("decoder_layers", int),
    "encoder_heads": Setting("encoder_attention_heads", int),
    "decoder_heads": Setting("decoder_attention_heads", int),
    "encoder_ffn": Setting("encoder_ffn_embed_dim", int),
    "decoder_ffn": Setting("decoder_ffn_embed_dim", int),
    "no_scale_embedding": Setting("no_scale_embedding", bool, False),
    "code_layernorm_embedding": Setting(
        "code_layernorm_embedding", bool, False, (False,)
    ),
    "layernorm_embedding": Setting("layernorm_embedding", bool, True, (True,)),
    "scale_attn": Setting("scale_attn", bool, True, (True,)),
    "scale_fc": Setting("scale_fc", bool, True, (True,)),
    "scale_heads": Setting("scale_heads", bool, True, (True,)),
    "scale_resids": Setting("scale_resids", bool, False, (False,)),
    "layer_norm_first": Setting("layer_norm_first", bool, True, (True,)),
    "decoder_normalize_before": Setting(
        "decoder_normalize_before", bool, True, (True,)
    ),
    "attn_scale_factor": Setting("attn_scale_factor", int, 2, (2,)),
    "activation": Setting("activation_fn", str, "gelu", ("gelu",)),
    "pos_conv_depth": Setting("pos_conv_depth", int, 5),
    "conv_pos": Setting("conv_pos", int, 95),
    "conv_pos_groups": Setting("conv_pos_groups", int, 16),
    "max_positions": Setting("max_target_positions", int, 1024),
    "rel_pos_bucket_size": Setting("token_bucket_size", int, 256),
}
# fairseq cfg["task"]: the decoder vocabulary is built by the task.
AUDIO_CODES_SETTING = Setting("audio_code_dict_size", int, NOT_SET)
UNSUPPORTED_CODE_SETTINGS = (
    Setting("code_dict_size", int, 0, (0,)),
    Setting("num_bins", int, 0, (0,)),
)


@dataclass
class OfficialCheckpoint:
    """Everything read from an official checkpoint, in our terms.

    Arguments
    ---------
    layout : str
        ``"modelscope"`` or ``"fairseq"``.
    sources : dict
        Input files by role.
    values : dict
        Values for ``hparams/inference.yaml`` (model, front end, decoding).
    state : dict
        Checkpoint tensors under our (ModelScope) names.
    tokenizer : CharTokenizer
        The decoder vocabulary.
    phone_tokenizer : PinyinTokenizer
        The phone inventory.
    notes : dict
        Defaulted and unread settings, front-end details.

    Example
    -------
    >>> checkpoint = OfficialCheckpoint("fairseq", {}, {}, {}, None, None)
    >>> checkpoint.notes
    {}
    """

    layout: str
    sources: dict
    values: dict
    state: dict
    tokenizer: CharTokenizer
    phone_tokenizer: PinyinTokenizer
    notes: dict = field(default_factory=dict)


class UnreadableObject:
    """Stands for a pickled object whose class we do not import.

    Checkpoints carry training state (fairseq meters, numpy scalars ...)
    that the conversion never needs; loading replaces each such object by
    this inert placeholder instead of running foreign code.

    Arguments
    ---------
    *args : tuple
        Constructor arguments recorded by the pickle (kept, never used).
    **kwargs : dict
        Ignored.

    Example
    -------
    >>> UnreadableObject(1, 2).args
    (1, 2)
    """

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        """Keeps the pickled state without interpreting it."""
        self.state = state


def load_torch_file(path):
    """Loads a ``torch.save`` file without running code from it.

    The file is read with ``weights_only=True``; ``argparse.Namespace`` (old
    fairseq ``args``) is allowed, and any other non-tensor class is replaced
    by ``UnreadableObject``.

    Arguments
    ---------
    path : str or Path
        A ``pytorch_model.bin`` or fairseq ``.pt`` file.

    Returns
    -------
    object
        The unpickled content.

    Example
    -------
    >>> load_torch_file("missing.pt")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: missing.pt: no such file
    """
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    allowed = [argparse.Namespace]
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # Legacy or broken files: torch.load reports it.
        names = []
    allowed += [
        (UnreadableObject, name)
        for name in names
        if name != "argparse.Namespace"
    ]
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:
        raise ConversionError(
            f"{path}: cannot be read as a PyTorch checkpoint (truncated or "
            f"corrupt file?): {error}"
        ) from None


def tensor_dict(content, path, what):
    """Checks that a loaded object is a ``{name: tensor}`` state dict.

    Arguments
    ---------
    content : object
        What was loaded.
    path : str or Path
        Its file (for messages).
    what : str
        What it should be (for messages).

    Returns
    -------
    dict
        The state dict.

    Example
    -------
    >>> tensor_dict({"a": torch.ones(1)}, "x.bin", "weights")["a"]
    tensor([1.])
    """
    if not isinstance(content, Mapping):
        raise ConversionError(
            f"{path}: {what} should be a dict of tensors, found "
            f"{type(content).__name__}"
        )
    for key, value in content.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ConversionError(
                f"{path}: {what} entry {key!r} is not a named tensor "
                f"({type(value).__name__})"
            )
    return dict(content)


def strip_modelscope_prefix(state):
    """Removes the HF ``model.`` prefix from the keys that carry it.

    Arguments
    ---------
    state : dict
        A ModelScope state dict.

    Returns
    -------
    dict
        The same tensors under unprefixed names.

    Example
    -------
    >>> list(strip_modelscope_prefix({"model.encoder.mask_emb": 0}))
    ['encoder.mask_emb']
    """
    stripped = {}
    for key, value in state.items():
        name = key.removeprefix(MODELSCOPE_PREFIX)
        if name in stripped:
            raise ConversionError(
                f"Tensor {name} appears with and without the "
                f"'{MODELSCOPE_PREFIX}' prefix"
            )
        stripped[name] = value
    return stripped


def rename_fairseq_key(key):
    """Maps a fairseq tensor name to its ModelScope name.

    Only the five decoder-layer modules of ``FAIRSEQ_RENAMES`` differ; every
    other name is shared by both layouts.

    Arguments
    ---------
    key : str
        A fairseq state-dict key.

    Returns
    -------
    str
        The ModelScope key.

    Example
    -------
    >>> rename_fairseq_key("decoder.layers.0.encoder_attn.q_proj.weight")
    'decoder.layers.0.cross_attn.q_proj.weight'
    >>> rename_fairseq_key("decoder.layers.3.ffn_layernorm.bias")
    'decoder.layers.3.ffn_layer_norm.bias'
    """
    parts = key.split(".")
    module = len(DECODER_LAYER_PREFIX) + 1
    if tuple(parts[: len(DECODER_LAYER_PREFIX)]) == DECODER_LAYER_PREFIX:
        if len(parts) > module and parts[module] in FAIRSEQ_RENAMES:
            parts[module] = FAIRSEQ_RENAMES[parts[module]]
    return ".".join(parts)


def read_mapping(path):
    """Reads a JSON object or YAML mapping file, naming the file in errors.

    Arguments
    ---------
    path : Path
        The file; ``.json`` is parsed as JSON, anything else as YAML.

    Returns
    -------
    dict
        Its content.

    Example
    -------
    >>> read_mapping(Path("missing.json"))
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: missing.json: no such file
    """
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    kind, parse, parse_error = MAPPING_FORMATS.get(
        path.suffix, MAPPING_FORMATS[".yaml"]
    )
    try:
        content = parse(path.read_text(encoding="utf-8"))
    except (parse_error, UnicodeDecodeError) as error:
        raise ConversionError(f"{path}: not valid {kind} ({error})") from None
    if not isinstance(content, dict):
        raise ConversionError(f"{path}: expected a {kind} mapping")
    return content


def require_files(paths):
    """Checks that every input file exists.

    Arguments
    ---------
    paths : dict
        ``{role: Path}``.

    Returns
    -------
    dict
        The same paths.

    Example
    -------
    >>> require_files({"vocabulary": Path("no_vocab.txt")})
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: Missing input file(s): no_vocab.txt (vocabulary)
    """
    missing = [
        f"{path} ({role})" for role, path in paths.items() if not path.is_file()
    ]
    if missing:
        raise ConversionError("Missing input file(s): " + ", ".join(missing))
    return paths


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
    >>> read_setting(
    ...     {"normformer": False}, MODELSCOPE_SETTINGS["normformer"], "c"
    ... )
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: c: normformer = False is not supported (supported: True)
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


def read_settings(config, settings, origin):
    """Reads a table of settings.

    Arguments
    ---------
    config : dict
        The configuration.
    settings : dict
        ``{name: Setting}``.
    origin : str
        Where the configuration comes from (for messages).

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
            if name in OPTIONAL_SETTINGS:
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
        fixes (vocabulary sizes are added later).

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
    }


def modelscope_architecture(config, origin):
    """Reads a ModelScope ``config.json`` (HF ``MMSpeechConfig``).

    Arguments
    ---------
    config : dict
        The parsed file.
    origin : str
        Its path (for messages).

    Returns
    -------
    values : dict
        Model hyperparameters plus ``vocab_size`` and, when present,
        ``phone_vocab_size``/``phone_dict_size``.
    defaulted : dict
        Keys that were absent and their assumed values.

    Example
    -------
    >>> modelscope_architecture({"d_model": 8}, "config.json")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: config.json: required key 'vocab_size' is missing
    """
    values, defaulted = read_settings(config, MODELSCOPE_SETTINGS, origin)
    result = architecture_values(
        values, values["d_model"], MODELSCOPE_SETTINGS, origin
    )
    result["scale_embedding"] = values["scale_embedding"]
    result["entangle_position_embedding"] = values[
        "entangle_position_embedding"
    ]
    result["vocab_size"] = values["vocab_size"]
    for name in OPTIONAL_SETTINGS:
        if name in values:
            result[name] = values[name]
    return result, defaulted


def fairseq_architecture(model_cfg, origin):
    """Reads a fairseq ``cfg["model"]`` (or old ``args``).

    The fairseq decoder always scales token embeddings by ``sqrt(d)`` unless
    ``no_scale_embedding``, and always adds absolute positions (fact sheet 1,
    note B).

    Arguments
    ---------
    model_cfg : dict
        The model configuration.
    origin : str
        Where it comes from (for messages).

    Returns
    -------
    values : dict
        Model hyperparameters (vocabulary sizes come from the weights and the
        vocabulary files).
    defaulted : dict
        Keys that were absent and their assumed values.

    Example
    -------
    >>> fairseq_architecture({"arch": "ofa_speech_base"}, "cfg")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: cfg: required key 'encoder_embed_dim' is missing
    """
    values, defaulted = read_settings(model_cfg, FAIRSEQ_SETTINGS, origin)
    d_model = require_equal(
        values, "encoder_d_model", "decoder_d_model", FAIRSEQ_SETTINGS, origin
    )
    result = architecture_values(values, d_model, FAIRSEQ_SETTINGS, origin)
    result["scale_embedding"] = not values["no_scale_embedding"]
    result["entangle_position_embedding"] = True
    return result, defaulted


def check_fairseq_architecture(model_cfg, origin):
    """Refuses fairseq models that are not MMSpeech (``ofa_speech*``).

    Arguments
    ---------
    model_cfg : dict
        The model configuration.
    origin : str
        Where it comes from (for messages).

    Returns
    -------
    str
        The architecture name.

    Example
    -------
    >>> check_fairseq_architecture({"arch": "ofa_large"}, "cfg")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: cfg: unknown architecture 'ofa_large' (supported: ofa_speech, ofa_speech_base, ofa_speech_large)
    """
    names = [model_cfg[key] for key in ("arch", "_name") if key in model_cfg]
    if not names:
        raise ConversionError(
            f"{origin}: no 'arch' or '_name' key: cannot tell the architecture"
        )
    for name in names:
        if name not in FAIRSEQ_ARCHITECTURES:
            raise ConversionError(
                f"{origin}: unknown architecture {name!r} (supported: "
                + ", ".join(FAIRSEQ_ARCHITECTURES)
                + ")"
            )
    return names[0]


def fairseq_configs(checkpoint, path):
    """Finds the model and task configurations of a fairseq checkpoint.

    Newer checkpoints hold ``cfg = {"model": ..., "task": ...}`` (plain dicts
    once saved by fairseq); older ones an ``argparse.Namespace`` ``args``.

    Arguments
    ---------
    checkpoint : dict
        The loaded checkpoint.
    path : Path
        Its file (for messages).

    Returns
    -------
    model_cfg : dict
        Model settings.
    task_cfg : dict
        Task settings (empty if the checkpoint has none).

    Example
    -------
    >>> import argparse
    >>> fairseq_configs({"args": argparse.Namespace(arch="x")}, "a.pt")
    ({'arch': 'x'}, {'arch': 'x'})
    """
    cfg = checkpoint.get("cfg")
    if isinstance(cfg, Mapping) and isinstance(cfg.get("model"), Mapping):
        task = cfg.get("task")
        return dict(cfg["model"]), dict(task) if isinstance(
            task, Mapping
        ) else {}
    args = checkpoint.get("args")
    if isinstance(args, argparse.Namespace):
        return vars(args), vars(args)
    found = type(cfg).__name__ if cfg is not None else "nothing"
    raise ConversionError(
        f"{path}: no readable configuration: 'cfg' holds {found} (a dict "
        "with a 'model' dict is needed) and there is no 'args' namespace. "
        "If 'cfg' is an omegaconf object, re-save the checkpoint with "
        "cfg = OmegaConf.to_container(cfg, resolve=True)"
    )


def fairseq_state(checkpoint, path):
    """Returns the state dict of a fairseq checkpoint under ModelScope names.

    Arguments
    ---------
    checkpoint : dict
        The loaded checkpoint.
    path : Path
        Its file (for messages).

    Returns
    -------
    dict
        Renamed tensors.

    Example
    -------
    >>> state = {"decoder.layers.0.self_attn_ln.weight": torch.ones(1)}
    >>> list(fairseq_state({"model": state}, "a.pt"))
    ['decoder.layers.0.self_attn_mid_layer_norm.weight']
    """
    if "model" not in checkpoint:
        raise ConversionError(f"{path}: no 'model' entry (the state dict)")
    state = tensor_dict(checkpoint["model"], path, "'model'")
    return {rename_fairseq_key(key): value for key, value in state.items()}


def code_vocab_size(vocab_size, text_vocab_size, origin):
    """Number of audio-code ids after the text ids.

    Arguments
    ---------
    vocab_size : int
        Decoder vocabulary (51134 officially).
    text_vocab_size : int
        Text ids (21134 officially).
    origin : str
        Where ``vocab_size`` comes from (for messages).

    Returns
    -------
    int
        ``vocab_size - text_vocab_size`` (30000 officially).

    Example
    -------
    >>> code_vocab_size(51134, 21134, "config.json")
    30000
    """
    if vocab_size < text_vocab_size:
        raise ConversionError(
            f"{origin}: vocab_size {vocab_size} is smaller than the "
            f"{text_vocab_size} text ids of the vocabulary file"
        )
    return vocab_size - text_vocab_size


def check_fairseq_codes(task_cfg, codes, origin):
    """Checks the task's code dictionary sizes against the weights.

    Arguments
    ---------
    task_cfg : dict
        The task configuration (may be empty).
    codes : int
        Audio codes found (vocabulary rows minus text ids).
    origin : str
        Where the task configuration comes from (for messages).

    Returns
    -------
    dict
        Task keys that were read.

    Example
    -------
    >>> check_fairseq_codes({"audio_code_dict_size": 30000}, 30000, "cfg")
    {'audio_code_dict_size': 30000}
    """
    read = {}
    for setting in UNSUPPORTED_CODE_SETTINGS:
        if setting.key in task_cfg:
            read[setting.key] = read_setting(task_cfg, setting, origin)[0]
    if AUDIO_CODES_SETTING.key in task_cfg:
        expected = read_setting(task_cfg, AUDIO_CODES_SETTING, origin)[0]
        if expected != codes:
            raise ConversionError(
                f"{origin}: {AUDIO_CODES_SETTING.key} = {expected}, but the "
                f"weights and the vocabulary leave {codes} code ids"
            )
        read[AUDIO_CODES_SETTING.key] = expected
    return read


def text_tokenizer_from_vocab(path):
    """Builds the decoder tokenizer from a checkpoint's ``vocab.txt``.

    Two layouts give the same ids (fact sheet 3.1):

    - BERT-Chinese (OFA release, ``utils/BERT_CN_dict/vocab.txt``, no
      specials): ``CharTokenizer.from_bert_vocab``, i.e. ``<s> <pad> </s>
      <unk>``, the lines, ``<mask>``, ``<blank>``;
    - ModelScope (``<s> <pad> </s> <unk>`` first, ``<mask>`` last; UNVERIFIED):
      line k is id k, then ``<mask>`` and ``<blank>`` are appended if
      absent, as the ModelScope tokenizer adds ``<blank>``.

    Arguments
    ---------
    path : Path
        The vocabulary file.

    Returns
    -------
    layout : str
        ``"bert"`` or ``"modelscope"``.
    tokenizer : CharTokenizer
        The tokenizer (21134 ids for the official files).

    Example
    -------
    >>> text_tokenizer_from_vocab(Path("missing/vocab.txt"))
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: missing/vocab.txt: no such file
    """
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    lines = read_vocab_file(path)
    if not lines:
        raise ConversionError(f"{path}: the vocabulary is empty")
    n_specials = len(FAIRSEQ_SPECIALS)
    if tuple(lines[:n_specials]) != FAIRSEQ_SPECIALS:
        return "bert", CharTokenizer.from_bert_vocab(path)
    symbols = lines[n_specials:]
    symbols += [t for t in (MASK_TOKEN, BLANK_TOKEN) if t not in symbols]
    return "modelscope", CharTokenizer(symbols)


def phone_tokenizer_from_dict(path):
    """Builds the phone tokenizer from a checkpoint's ``phone_dict.txt``.

    Arguments
    ---------
    path : Path
        ``phone_dict.txt`` (``symbol count`` lines, ``<mask>`` after the
        phones).

    Returns
    -------
    PinyinTokenizer
        The inventory after the fairseq specials (141 ids officially).

    Example
    -------
    >>> phone_tokenizer_from_dict(Path("missing/phone_dict.txt"))
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: missing/phone_dict.txt: no such file
    """
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    try:
        return PinyinTokenizer.from_phone_dict(path)
    except (ValueError, UnicodeDecodeError) as error:
        raise ConversionError(f"{path}: {error}") from None


def check_phone_sizes(values, phone_tokenizer, origin):
    """Checks configured phone sizes against ``phone_dict.txt``.

    Arguments
    ---------
    values : dict
        Architecture values, maybe with ``phone_vocab_size`` and
        ``phone_dict_size`` (ModelScope).
    phone_tokenizer : PinyinTokenizer
        The inventory read from the file.
    origin : str
        Where the configuration comes from (for messages).

    Returns
    -------
    int
        The phone table size.

    Example
    -------
    >>> check_phone_sizes({"phone_vocab_size": 141}, PinyinTokenizer(), "c")
    141
    """
    derived = {
        "phone_vocab_size": len(phone_tokenizer),
        "phone_dict_size": phone_tokenizer.mask_index,
    }
    for name, size in derived.items():
        configured = values.pop(name, size)
        if configured != size:
            raise ConversionError(
                f"{origin}: {name} = {configured}, but phone_dict.txt gives "
                f"{size}"
            )
    return derived["phone_vocab_size"]


def beam_settings(configuration, origin):
    """Reads the beam settings of a ModelScope ``configuration.json``.

    Arguments
    ---------
    configuration : dict
        The parsed file.
    origin : str
        Its path (for messages).

    Returns
    -------
    settings : dict
        ``MODELSCOPE_DECODING`` updated with the file's values.
    extra : dict
        The other ``beam_search`` keys (``constraint_range``, ...).

    Example
    -------
    >>> beam_settings({"model": {"beam_search": {"beam_size": 4}}}, "c")
    ({'beam_size': 4, 'max_len_b': 128, 'min_len': 1, 'no_repeat_ngram_size': 5}, {})
    """
    model = configuration.get("model", {})
    search = model.get("beam_search", {}) if isinstance(model, dict) else {}
    if not isinstance(search, dict):
        raise ConversionError(f"{origin}: model.beam_search is not a mapping")
    settings = dict(MODELSCOPE_DECODING)
    extra = {}
    for key, value in search.items():
        if key in settings:
            settings[key] = read_setting(search, Setting(key, int), origin)[0]
        else:
            extra[key] = value
    return settings, extra


def check_beam_extras(extra, text_vocab_size, origin):
    """Refuses beam options we cannot honour; returns the ones not read.

    Arguments
    ---------
    extra : dict
        ``beam_search`` keys other than the four we map.
    text_vocab_size : int
        Text ids of the vocabulary.
    origin : str
        Where they come from (for messages).

    Returns
    -------
    dict
        Keys that have no effect on our decoding.

    Example
    -------
    >>> check_beam_extras({"constraint_range": "4,21134"}, 21134, "c")
    {}
    >>> check_beam_extras({"constraint_range": "4,100"}, 21134, "c")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: c: constraint_range '4,100' does not match the vocabulary (expected '4,21134')
    """
    extra = dict(extra)
    expected = f"{len(FAIRSEQ_SPECIALS)},{text_vocab_size}"
    constraint = extra.pop("constraint_range", expected)
    if str(constraint).replace(" ", "") != expected:
        raise ConversionError(
            f"{origin}: constraint_range {constraint!r} does not match the "
            f"vocabulary (expected {expected!r})"
        )
    fixed = {"max_len_a": SUPPORTED_MAX_LEN_A, "lenpen": SUPPORTED_LENPEN}
    for key, supported in fixed.items():
        value = extra.pop(key, supported)
        if value != supported:
            raise ConversionError(
                f"{origin}: {key} = {value!r} is not supported (only "
                f"{supported})"
            )
    return extra


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
    >>> decoding_values(FAIRSEQ_DECODING)["max_decode_length"]
    256
    """
    return {
        "beam_size": settings["beam_size"],
        "no_repeat_ngram_size": settings["no_repeat_ngram_size"],
        "min_decode_length": settings["min_len"],
        "max_decode_length": settings["max_len_b"],
    }


def check_modelscope_task(configuration, origin):
    """Refuses ModelScope folders that are not an MMSpeech model.

    Arguments
    ---------
    configuration : dict
        The parsed ``configuration.json``.
    origin : str
        Its path (for messages).

    Returns
    -------
    str
        The multimodal type.

    Example
    -------
    >>> check_modelscope_task({"model": {"multimodal_type": "ofa"}}, "c")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: c: model.multimodal_type is 'ofa', not 'mmspeech': unknown architecture
    """
    model = configuration.get("model", {})
    kind = model.get("multimodal_type") if isinstance(model, dict) else None
    if kind != MODELSCOPE_MULTIMODAL_TYPE:
        raise ConversionError(
            f"{origin}: model.multimodal_type is {kind!r}, not "
            f"{MODELSCOPE_MULTIMODAL_TYPE!r}: unknown architecture"
        )
    return kind


def transform_lists(config, origin):
    """The eval and train feature transforms of an S2T data config.

    fairseq picks the split's own list, else ``_eval``/``_train``, else
    ``*``; a model folder is used on unseen data, so ``_eval`` applies.

    Arguments
    ---------
    config : dict
        The parsed ``fbank_config.yaml``.
    origin : str
        Its path (for messages).

    Returns
    -------
    eval_transforms : list of str
        Transforms applied at inference.
    train_transforms : list of str
        Transforms applied in training (recorded only).

    Example
    -------
    >>> transform_lists({"transforms": {"*": ["utterance_cmvn"]}}, "c")
    (['utterance_cmvn'], ['utterance_cmvn'])
    """
    present = [key for key in TRANSFORM_KEYS if key in config]
    if len(present) != 1:
        raise ConversionError(
            f"{origin}: expected exactly one of "
            + ", ".join(TRANSFORM_KEYS)
            + f", found {present or 'none'}"
        )
    transforms = config[present[0]] or {}

    def pick(splits):
        for split in splits:
            if split in transforms:
                return list(transforms[split] or [])
        return []

    return pick(EVAL_TRANSFORM_SPLITS), pick(TRAIN_TRANSFORM_SPLITS)


def global_stats(config, config_path, n_mels):
    """Reads the ``global_cmvn`` statistics file.

    Arguments
    ---------
    config : dict
        The parsed ``fbank_config.yaml``.
    config_path : Path
        Its path (relative stats paths are relative to its folder).
    n_mels : int
        Expected number of channels.

    Returns
    -------
    mean : list of float
        Per-channel means.
    std : list of float
        Per-channel standard deviations.

    Example
    -------
    >>> global_stats({}, Path("fbank_config.yaml"), 80)
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: fbank_config.yaml: global_cmvn needs global_cmvn.stats_npz_path
    """
    block = config.get(GLOBAL_CMVN) or {}
    if STATS_PATH_KEY not in block:
        raise ConversionError(
            f"{config_path}: {GLOBAL_CMVN} needs {GLOBAL_CMVN}.{STATS_PATH_KEY}"
        )
    path = config_path.parent / block[STATS_PATH_KEY]
    if not path.is_file():
        raise ConversionError(f"{path}: no such file ({GLOBAL_CMVN} stats)")
    try:
        with np.load(path, allow_pickle=False) as stats:
            arrays = [stats[name].astype(np.float64) for name in STATS_ARRAYS]
    except (OSError, ValueError, KeyError) as error:
        raise ConversionError(
            f"{path}: unreadable CMVN stats ({error})"
        ) from None
    mean, std = arrays
    if mean.shape != (n_mels,) or std.shape != (n_mels,):
        raise ConversionError(
            f"{path}: mean/std must have {n_mels} values, found "
            f"{mean.shape} and {std.shape}"
        )
    if not (
        np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()
    ):
        raise ConversionError(f"{path}: stats must be finite with std > 0")
    return mean.tolist(), std.tolist()


def read_fbank_config(path):
    """Reads the official front-end configuration (``fbank_config.yaml``).

    Supported at inference: exactly one CMVN (``utterance_cmvn`` with its
    default options, or ``global_cmvn``). SpecAugment and the train-only
    transforms are recorded in the report but do not affect inference.

    Arguments
    ---------
    path : Path
        The file.

    Returns
    -------
    values : dict
        ``n_mels``, ``norm_type``, ``global_mean`` and ``global_std``.
    notes : dict
        The transforms and the SpecAugment block, for the report.

    Example
    -------
    >>> read_fbank_config(Path("missing/fbank_config.yaml"))
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: missing/fbank_config.yaml: no such file
    """
    config = read_mapping(path)
    eval_transforms, train_transforms = transform_lists(config, path)
    unknown = [t for t in eval_transforms if t not in CMVN_TRANSFORMS]
    if unknown:
        raise ConversionError(
            f"{path}: transform(s) {unknown} at inference are not supported "
            "(only one of " + ", ".join(CMVN_TRANSFORMS) + ")"
        )
    if len(eval_transforms) != 1:
        raise ConversionError(
            f"{path}: expected exactly one CMVN transform at inference, found "
            f"{eval_transforms}"
        )
    n_mels = config.get(FEATURE_SIZE_KEY, OFFICIAL_N_MELS)
    values = {
        "n_mels": n_mels,
        "norm_type": CMVN_TRANSFORMS[eval_transforms[0]],
    }
    if eval_transforms[0] == UTTERANCE_CMVN:
        options = config.get(UTTERANCE_CMVN) or {}
        for option in UTTERANCE_CMVN_OPTIONS:
            if options.get(option, True) is not True:
                raise ConversionError(
                    f"{path}: {UTTERANCE_CMVN}.{option} = "
                    f"{options[option]!r} is not supported (only true)"
                )
    else:
        mean, std = global_stats(config, path, n_mels)
        values.update(global_mean=mean, global_std=std)
    notes = {
        "eval_transforms": eval_transforms,
        "train_transforms": train_transforms,
        SPECAUGMENT: config.get(SPECAUGMENT),
    }
    return values, notes


def read_modelscope(folder):
    """Reads a ModelScope MMSpeech model folder.

    Arguments
    ---------
    folder : str or Path
        The folder (``config.json``, ``configuration.json``,
        ``pytorch_model.bin``, ``vocab.txt``, ``phone_dict.txt``,
        ``fbank_config.yaml``; ``text2phone_dict.txt`` is not needed).

    Returns
    -------
    OfficialCheckpoint
        Everything needed to write the model folder.

    Example
    -------
    >>> read_modelscope("no_such_folder")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: no_such_folder: not a folder
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConversionError(f"{folder}: not a folder")
    paths = require_files({name: folder / name for name in MODELSCOPE_FILES})
    config_path = paths[CONFIG_FILE]
    configuration_path = paths[CONFIGURATION_FILE]
    config = read_mapping(config_path)
    configuration = read_mapping(configuration_path)
    check_modelscope_task(configuration, configuration_path)
    arch, defaulted = modelscope_architecture(config, config_path)
    vocab_layout, tokenizer = text_tokenizer_from_vocab(paths[VOCAB_FILE])
    phone_tokenizer = phone_tokenizer_from_dict(paths[PHONE_DICT_FILE])
    arch["phone_vocab_size"] = check_phone_sizes(
        arch, phone_tokenizer, config_path
    )
    vocab_size = arch.pop("vocab_size")
    arch["text_vocab_size"] = len(tokenizer)
    arch["code_vocab_size"] = code_vocab_size(
        vocab_size, len(tokenizer), config_path
    )
    settings, extra = beam_settings(configuration, configuration_path)
    search = configuration["model"].get("beam_search", {})
    absent_beam = [key for key in settings if key not in search]
    unread_beam = check_beam_extras(extra, len(tokenizer), configuration_path)
    frontend, frontend_notes = read_fbank_config(paths[FBANK_CONFIG_FILE])
    weights = tensor_dict(
        load_torch_file(paths[WEIGHTS_FILE]), paths[WEIGHTS_FILE], "weights"
    )
    read_keys = {s.key for s in MODELSCOPE_SETTINGS.values()}
    notes = {
        "defaulted_config_keys": defaulted,
        "unread_config_keys": sorted(set(config) - read_keys),
        "unread_beam_search_keys": unread_beam,
        "vocab_layout": vocab_layout,
        "front_end": frontend_notes,
        "decoding_source": f"{configuration_path} (model.beam_search)",
        "defaulted_beam_search_keys": absent_beam,
    }
    return OfficialCheckpoint(
        layout="modelscope",
        sources={role: str(path) for role, path in paths.items()},
        values={**arch, **frontend, **decoding_values(settings)},
        state=strip_modelscope_prefix(weights),
        tokenizer=tokenizer,
        phone_tokenizer=phone_tokenizer,
        notes=notes,
    )


def read_fairseq(checkpoint_path, vocab, phone_dict, fbank_config):
    """Reads a fairseq MMSpeech checkpoint and its vocabulary files.

    Arguments
    ---------
    checkpoint_path : str or Path
        The ``.pt`` file (``cfg``/``args`` and ``model``).
    vocab : str or Path
        The BERT-Chinese ``vocab.txt`` (``utils/BERT_CN_dict/vocab.txt``).
    phone_dict : str or Path
        ``utils/phone/zh/phone_dict.txt``.
    fbank_config : str or Path
        The released ``fbank_config.yaml``.

    Returns
    -------
    OfficialCheckpoint
        Everything needed to write the model folder.

    Example
    -------
    >>> read_fairseq("a.pt", "vocab.txt", "phone_dict.txt", "fbank.yaml")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: Missing input file(s): a.pt (checkpoint), vocab.txt (vocabulary), phone_dict.txt (phone dictionary), fbank.yaml (front-end configuration)
    """
    paths = require_files(
        {
            "checkpoint": Path(checkpoint_path),
            "vocabulary": Path(vocab),
            "phone dictionary": Path(phone_dict),
            "front-end configuration": Path(fbank_config),
        }
    )
    path = paths["checkpoint"]
    vocab_layout, tokenizer = text_tokenizer_from_vocab(paths["vocabulary"])
    phone_tokenizer = phone_tokenizer_from_dict(paths["phone dictionary"])
    frontend, frontend_notes = read_fbank_config(
        paths["front-end configuration"]
    )
    checkpoint = load_torch_file(path)
    if not isinstance(checkpoint, Mapping):
        raise ConversionError(f"{path}: not a fairseq checkpoint dict")
    model_cfg, task_cfg = fairseq_configs(checkpoint, path)
    origin = f"{path} (cfg.model)"
    architecture = check_fairseq_architecture(model_cfg, origin)
    arch, defaulted = fairseq_architecture(model_cfg, origin)
    state = fairseq_state(checkpoint, path)
    if EMBED_TOKENS_KEY not in state:
        raise ConversionError(f"{path}: missing tensor {EMBED_TOKENS_KEY}")
    arch["phone_vocab_size"] = check_phone_sizes({}, phone_tokenizer, path)
    arch["text_vocab_size"] = len(tokenizer)
    codes = code_vocab_size(
        state[EMBED_TOKENS_KEY].shape[0], len(tokenizer), path
    )
    arch["code_vocab_size"] = codes
    task_keys = check_fairseq_codes(task_cfg, codes, f"{path} (cfg.task)")
    read_keys = {s.key for s in FAIRSEQ_SETTINGS.values()}
    notes = {
        "architecture": architecture,
        "defaulted_config_keys": defaulted,
        "task_keys": task_keys,
        "unread_config_keys": sorted(set(model_cfg) - read_keys),
        "vocab_layout": vocab_layout,
        "front_end": frontend_notes,
        "decoding_source": "fairseq evaluation script defaults",
    }
    return OfficialCheckpoint(
        layout="fairseq",
        sources={role: str(p) for role, p in paths.items()},
        values={**arch, **frontend, **decoding_values(FAIRSEQ_DECODING)},
        state=state,
        tokenizer=tokenizer,
        phone_tokenizer=phone_tokenizer,
        notes=notes,
    )


def build_model(values):
    """Builds the MMSpeech model of ``hparams/inference.yaml`` for ``values``.

    Arguments
    ---------
    values : dict
        Template values.

    Returns
    -------
    speechbrain_mmspeech.model.MMSpeech
        A freshly initialised model.

    Example
    -------
    >>> model = build_model(
    ...     {
    ...         "d_model": 16,
    ...         "nhead": 2,
    ...         "d_ffn": 32,
    ...         "num_encoder_layers": 7,
    ...         "num_decoder_layers": 1,
    ...         "subsample_channels": 16,
    ...         "pos_conv_depth": 2,
    ...         "pos_conv_kernel": 3,
    ...         "pos_conv_groups": 2,
    ...         "max_positions": 8,
    ...         "rel_pos_bucket_size": 4,
    ...         "text_vocab_size": 10,
    ...         "code_vocab_size": 2,
    ...     }
    ... )
    >>> model.decoder.embed_tokens.weight.shape
    torch.Size([12, 16])
    """
    template = INFERENCE_TEMPLATE.read_text(encoding="utf-8")
    return load_hyperpyyaml(render_hparams(template, values))["model"]


def classify_keys(expected, state, unused):
    """Sorts checkpoint tensors into used, skipped and problems.

    Arguments
    ---------
    expected : dict
        ``{key: shape}`` of our model's state dict.
    state : dict
        Checkpoint tensors under our names.
    unused : dict
        ``{key: shape}`` of official tensors ASR never uses.

    Returns
    -------
    used : dict
        Tensors to load.
    skipped : dict
        ``{key: {"shape", "reason"}}`` for unused tensors and buffers.
    problems : list of str
        Unexpected or mis-shaped keys.

    Example
    -------
    >>> classify_keys({"a": (2,)}, {"a": torch.ones(3)}, {})[2]
    ['wrong shape: a is (3,) in the checkpoint, (2,) in the model']
    """
    used, skipped, problems = {}, {}, []
    for key, tensor in state.items():
        shape = tuple(tensor.shape)
        if key in expected or key in unused:
            wanted = tuple(expected.get(key, unused.get(key)))
            if shape != wanted:
                problems.append(
                    f"wrong shape: {key} is {shape} in the checkpoint, "
                    f"{wanted} in the model"
                )
            elif key in expected:
                used[key] = tensor
            else:
                skipped[key] = {
                    "shape": list(shape),
                    "reason": "unused for ASR",
                }
        elif key.rsplit(".", 1)[-1] in RECOMPUTED_BUFFERS:
            skipped[key] = {"shape": list(shape), "reason": "recomputed buffer"}
        else:
            problems.append(f"unexpected tensor: {key} {shape}")
    return used, skipped, problems


def fill_tied_weights(used, problems):
    """Fills tied weights the checkpoint left out; checks the ones it kept.

    Arguments
    ---------
    used : dict
        Tensors to load (modified in place).
    problems : list of str
        Problems found so far (appended to).

    Returns
    -------
    dict
        ``used``.

    Example
    -------
    >>> used = {"decoder.embed_tokens.weight": torch.ones(2, 2)}
    >>> sorted(fill_tied_weights(used, []))
    ['decoder.embed_tokens.weight', 'decoder.output_projection.weight']
    """
    for tied, source in TIED_WEIGHTS.items():
        if source not in used:
            continue
        if tied not in used:
            used[tied] = used[source]
        elif not torch.equal(used[tied], used[source]):
            problems.append(f"{tied} differs from {source}; they must be tied")
    return used


def check_token_buckets(model, state, problems):
    """Compares a saved relative-position bucket table with ours.

    Arguments
    ---------
    model : speechbrain_mmspeech.model.MMSpeech
        The model (its recomputed ``token_rp_bucket``).
    state : dict
        Checkpoint tensors.
    problems : list of str
        Problems found so far (appended to).

    Returns
    -------
    bool
        True when the checkpoint had a table and it matched.

    Example
    -------
    >>> check_token_buckets(None, {}, [])  # no saved table: nothing to check
    False
    """
    if TOKEN_BUCKETS_KEY not in state:
        return False
    saved = state[TOKEN_BUCKETS_KEY]
    ours = model.decoder.token_rp_bucket
    if saved.shape != ours.shape or not torch.equal(saved.long(), ours.long()):
        problems.append(
            f"{TOKEN_BUCKETS_KEY}: the checkpoint's relative-position buckets "
            "differ from the ones our decoder computes"
        )
        return False
    return True


def check_phone_head(model, phone_tokenizer):
    """Checks that the phone head ends where phone_dict.txt puts ``<mask>``.

    The official head scores phone rows 3 .. ``phone_dict_size`` (124); our
    encoder's ``phone_head_range`` must end at the same row.

    Arguments
    ---------
    model : speechbrain_mmspeech.model.MMSpeech
        The model.
    phone_tokenizer : PinyinTokenizer
        The checkpoint's phone inventory.

    Returns
    -------
    int
        The end row.

    Example
    -------
    >>> model = build_model(
    ...     {
    ...         "d_model": 16,
    ...         "nhead": 2,
    ...         "d_ffn": 32,
    ...         "num_encoder_layers": 7,
    ...         "num_decoder_layers": 1,
    ...         "subsample_channels": 16,
    ...         "pos_conv_depth": 2,
    ...         "pos_conv_kernel": 3,
    ...         "pos_conv_groups": 2,
    ...         "max_positions": 8,
    ...         "rel_pos_bucket_size": 4,
    ...         "text_vocab_size": 10,
    ...         "code_vocab_size": 2,
    ...     }
    ... )
    >>> check_phone_head(model, PinyinTokenizer())
    124
    """
    end = model.encoder.phone_head_range[1]
    if phone_tokenizer.mask_index != end:
        raise ConversionError(
            f"phone_dict.txt puts <mask> at id {phone_tokenizer.mask_index}; "
            f"only {end} (the official inventory size) is supported"
        )
    return end


def match_weights(model, state, origin):
    """Matches checkpoint tensors to the model, strictly.

    Arguments
    ---------
    model : speechbrain_mmspeech.model.MMSpeech
        The model built from the checkpoint's configuration.
    state : dict
        Checkpoint tensors under our names.
    origin : str
        Where they come from (for messages).

    Returns
    -------
    used : dict
        The model's full state dict, from the checkpoint.
    skipped : dict
        Checkpoint tensors left out, with their shapes and the reason.

    Example
    -------
    >>> match_weights(
    ...     build_model(
    ...         {
    ...             "d_model": 16,
    ...             "nhead": 2,
    ...             "d_ffn": 32,
    ...             "num_encoder_layers": 7,
    ...             "num_decoder_layers": 1,
    ...             "subsample_channels": 16,
    ...             "pos_conv_depth": 2,
    ...             "pos_conv_kernel": 3,
    ...             "pos_conv_groups": 2,
    ...             "max_positions": 8,
    ...             "rel_pos_bucket_size": 4,
    ...             "text_vocab_size": 10,
    ...             "code_vocab_size": 2,
    ...         }
    ...     ),
    ...     {},
    ...     "x.pt",
    ... )  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.ConversionError: x.pt: ... problem(s) with the weights:
      missing: decoder.cross_pos_k_linear.bias ...
    """
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    decoder = model.decoder
    unused = unused_official_tensors(
        decoder.embed_tokens.embedding_dim, decoder.nhead, len(decoder.layers)
    )
    used, skipped, problems = classify_keys(expected, state, unused)
    fill_tied_weights(used, problems)
    check_token_buckets(model, state, problems)
    problems += [
        f"missing: {key} {expected[key]}"
        for key in sorted(set(expected) - set(used))
    ]
    if problems:
        listed = sorted(problems)[:MAX_LISTED_PROBLEMS]
        more = len(problems) - len(listed)
        text = "\n  ".join(listed + ([f"... and {more} more"] if more else []))
        raise ConversionError(
            f"{origin}: {len(problems)} problem(s) with the weights:\n  {text}"
        )
    return used, skipped


def report(checkpoint, skipped, dtypes):
    """The content of ``conversion.json``.

    Arguments
    ---------
    checkpoint : OfficialCheckpoint
        What was read.
    skipped : dict
        Tensors left out.
    dtypes : list of str
        Data types found in the checkpoint.

    Returns
    -------
    dict
        JSON-ready report.

    Example
    -------
    >>> report(OfficialCheckpoint("fairseq", {}, {}, {}, None, None), {}, [])[
    ...     "layout"
    ... ]
    'fairseq'
    """
    return {
        "converter": f"speechbrain_mmspeech.convert {__version__}",
        "layout": checkpoint.layout,
        "sources": checkpoint.sources,
        "hyperparameters": checkpoint.values,
        "source_dtypes": dtypes,
        "skipped_tensors": skipped,
        **checkpoint.notes,
    }


def write_folder(checkpoint, output, overwrite=False):
    """Builds the model, loads the weights and writes the model folder.

    Everything is checked before anything is written; the folder is written
    under a temporary name next to ``output`` and then renamed.

    Arguments
    ---------
    checkpoint : OfficialCheckpoint
        What was read.
    output : str or Path
        The model folder to create.
    overwrite : bool
        Replace an existing ``output``.

    Returns
    -------
    dict
        The report written to ``conversion.json``.

    Example
    -------
    >>> write_folder(read_modelscope("ms_folder"), "out")  # doctest: +SKIP
    """
    output = Path(output)
    if output.exists() and not overwrite:
        raise ConversionError(
            f"{output} already exists (pass --overwrite to replace it)"
        )
    model = build_model(checkpoint.values)
    check_phone_head(model, checkpoint.phone_tokenizer)
    origin = checkpoint.sources.get(WEIGHTS_FILE) or checkpoint.sources.get(
        "checkpoint"
    )
    used, skipped = match_weights(model, checkpoint.state, origin)
    model.load_state_dict(used, strict=True)
    dtypes = sorted({str(t.dtype) for t in checkpoint.state.values()})
    content = report(checkpoint, skipped, dtypes)

    def write(staging):
        write_model_folder(
            staging, model, checkpoint.tokenizer, checkpoint.values
        )
        checkpoint.phone_tokenizer.save(staging / PHONE_TOKENIZER_FILE)
        (staging / REPORT_FILE).write_text(
            json.dumps(content, indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )

    write_atomically(output.parent, {output.name: write})
    return content


def convert_modelscope(folder, output, overwrite=False):
    """Converts a ModelScope MMSpeech folder into a SpeechBrain model folder.

    Arguments
    ---------
    folder : str or Path
        The ModelScope model folder.
    output : str or Path
        The model folder to create.
    overwrite : bool
        Replace an existing ``output``.

    Returns
    -------
    dict
        The conversion report (also written to ``conversion.json``).

    Example
    -------
    >>> convert_modelscope(
    ...     "ofa_mmspeech_asr_aishell1_base_zh", "out"
    ... )  # doctest: +SKIP
    """
    return write_folder(read_modelscope(folder), output, overwrite)


def convert_fairseq(
    checkpoint, vocab, phone_dict, fbank_config, output, overwrite=False
):
    """Converts a fairseq MMSpeech checkpoint into a SpeechBrain model folder.

    Arguments
    ---------
    checkpoint : str or Path
        The ``.pt`` file.
    vocab : str or Path
        The BERT-Chinese ``vocab.txt``.
    phone_dict : str or Path
        ``phone_dict.txt``.
    fbank_config : str or Path
        ``fbank_config.yaml``.
    output : str or Path
        The model folder to create.
    overwrite : bool
        Replace an existing ``output``.

    Returns
    -------
    dict
        The conversion report (also written to ``conversion.json``).

    Example
    -------
    >>> convert_fairseq(
    ...     "ofa_mmspeech_base1_aishell1.pt",
    ...     "vocab.txt",
    ...     "phone_dict.txt",
    ...     "fbank_config.yaml",
    ...     "out",
    ... )  # doctest: +SKIP
    """
    read = read_fairseq(checkpoint, vocab, phone_dict, fbank_config)
    return write_folder(read, output, overwrite)


def summary(content, output):
    """A short human-readable account of a conversion.

    Arguments
    ---------
    content : dict
        The conversion report.
    output : str or Path
        The model folder.

    Returns
    -------
    str
        Lines for the terminal.

    Example
    -------
    >>> print(
    ...     summary(
    ...         {
    ...             "layout": "fairseq",
    ...             "hyperparameters": {},
    ...             "skipped_tensors": {},
    ...             "defaulted_config_keys": {},
    ...         },
    ...         "out",
    ...     )
    ... )
    Converted fairseq checkpoint -> out
    Skipped 0 tensor(s) unused for ASR or recomputed:
    """
    values = content["hyperparameters"]
    sizes = ", ".join(
        f"{key}={values[key]}"
        for key in ("d_model", "num_encoder_layers", "num_decoder_layers")
        if key in values
    )
    lines = [f"Converted {content['layout']} checkpoint -> {output}"]
    if sizes:
        lines.append(f"Architecture: {sizes}")
    defaulted = content.get("defaulted_config_keys") or {}
    if defaulted:
        lines.append(f"Absent config keys, defaults used: {defaulted}")
    if not all(values.get(flag, True) for flag in FAIRSEQ_BEHAVIOUR_FLAGS):
        lines.append(
            "Note: scale_embedding/entangle_position_embedding are not both "
            "True, unlike the fairseq model (see README: parity checks)"
        )
    skipped = content["skipped_tensors"]
    lines.append(
        f"Skipped {len(skipped)} tensor(s) unused for ASR or recomputed:"
    )
    lines += [
        f"  {key} {tuple(info['shape'])} ({info['reason']})"
        for key, info in skipped.items()
    ]
    return "\n".join(lines)


def build_parser():
    """The ``mmspeech-convert`` command-line parser.

    Returns
    -------
    argparse.ArgumentParser

    Example
    -------
    >>> args = build_parser().parse_args(["modelscope", "in", "out"])
    >>> args.command, args.folder, args.output
    ('modelscope', 'in', 'out')
    """
    parser = argparse.ArgumentParser(
        prog="mmspeech-convert",
        description="Convert official MMSpeech checkpoints into SpeechBrain "
        "model folders, and publish model folders to the Hugging Face hub.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    modelscope = commands.add_parser(
        "modelscope", help="convert a ModelScope model folder"
    )
    modelscope.add_argument("folder", help="ModelScope model folder")
    modelscope.add_argument("output", help="model folder to create")
    modelscope.add_argument("--overwrite", action="store_true")
    fairseq = commands.add_parser(
        "fairseq", help="convert a fairseq .pt from the OFA release"
    )
    fairseq.add_argument("checkpoint", help="fairseq checkpoint (.pt)")
    fairseq.add_argument("output", help="model folder to create")
    fairseq.add_argument(
        "--vocab", required=True, help="utils/BERT_CN_dict/vocab.txt"
    )
    fairseq.add_argument(
        "--phone-dict", required=True, help="utils/phone/zh/phone_dict.txt"
    )
    fairseq.add_argument(
        "--fbank-config", required=True, help="the released fbank_config.yaml"
    )
    fairseq.add_argument("--overwrite", action="store_true")
    publish = commands.add_parser(
        "publish", help="upload a model folder to the Hugging Face hub"
    )
    publish.add_argument("folder", help="model folder")
    publish.add_argument("repo_id", help="hub repository, e.g. org/name")
    publish.add_argument("--private", action="store_true")
    publish.add_argument("--token", default=None, help="hub token")
    publish.add_argument(
        "--dry-run",
        action="store_true",
        help="write the model card only, do not upload",
    )
    return parser


def run(args):
    """Runs one parsed command.

    Arguments
    ---------
    args : argparse.Namespace
        From ``build_parser``.

    Returns
    -------
    str
        What to print.

    Example
    -------
    >>> run(
    ...     build_parser().parse_args(["modelscope", "in", "out"])
    ... )  # doctest: +SKIP
    """
    if args.command == "modelscope":
        content = convert_modelscope(args.folder, args.output, args.overwrite)
        return summary(content, args.output)
    if args.command == "fairseq":
        content = convert_fairseq(
            args.checkpoint,
            args.vocab,
            args.phone_dict,
            args.fbank_config,
            args.output,
            args.overwrite,
        )
        return summary(content, args.output)
    from speechbrain_mmspeech.hub import prepare_hub_folder, publish

    if args.dry_run:
        folder = prepare_hub_folder(args.folder, args.repo_id)
        return f"Ready for the hub (not uploaded): {folder}"
    url = publish(args.folder, args.repo_id, args.token, args.private)
    return f"Uploaded {args.folder} to {url}"


def main(argv=None):
    """Entry point of ``mmspeech-convert``.

    Arguments
    ---------
    argv : list of str
        Arguments (default: the command line).

    Returns
    -------
    int
        Exit status: 0 on success, 1 when the input cannot be converted.

    Example
    -------
    >>> main(
    ...     ["modelscope", "no_such_folder", "out"]
    ... )  # the error goes to stderr
    1
    """
    args = build_parser().parse_args(argv)
    try:
        print(run(args))
    except ConversionError as error:
        print(f"mmspeech-convert: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
