"""A ModelScope MMSpeech model folder -> a SpeechBrain model folder.

The folder (``damo/ofa_mmspeech_*``) holds ``config.json`` (HF
``MMSpeechConfig``: the architecture), ``configuration.json`` (the task and
the beam settings), ``pytorch_model.bin`` (the HF state dict, optionally
under ``model.``), ``vocab.txt``, ``phone_dict.txt`` and
``fbank_config.yaml``; ``text2phone_dict.txt`` is not needed.

Settings are read as ModelScope's code uses them: the decoder adds absolute
positions when ``entangle_position_embedding`` and not ``disable_entangle``;
beam settings ``configuration.json`` leaves out take the fallbacks of
``OfaForAllTasks`` (``max_len_b`` 16, ``no_repeat_ngram_size`` 3), and every
other ``beam_search`` key is an argument of its ``SequenceGenerator``
(``len_penalty``, not fairseq's ``lenpen``).

Authors
 * MMSpeech plugin contributors 2026
"""

from pathlib import Path

from speechbrain_mmspeech.convert.fbank import read_fbank_config
from speechbrain_mmspeech.convert.folder import OfficialCheckpoint, write_folder
from speechbrain_mmspeech.convert.official import (
    CONFIG_FILE,
    CONFIGURATION_FILE,
    FBANK_CONFIG_FILE,
    MODELSCOPE_FILES,
    PHONE_DICT_FILE,
    VOCAB_FILE,
    WEIGHTS_FILE,
    strip_modelscope_prefix,
)
from speechbrain_mmspeech.convert.reading import (
    ConversionError,
    load_torch_file,
    read_mapping,
    require_files,
    tensor_dict,
)
from speechbrain_mmspeech.convert.settings import (
    NOT_SET,
    Setting,
    architecture_values,
    decoding_values,
    folder_values,
    read_setting,
    read_settings,
)
from speechbrain_mmspeech.convert.vocabulary import (
    phone_tokenizer_from_dict,
    text_tokenizer_from_vocab,
    vocabulary_sizes,
    with_phone_blank,
)
from speechbrain_mmspeech.tokenizers import FAIRSEQ_SPECIALS

MODELSCOPE_MULTIMODAL_TYPE = "mmspeech"
# config.json (HF MMSpeechConfig). An absent key takes MMSpeechConfig's
# default where it has one (scale/entangle False, code LN False), else the
# official value; the strict weight matching checks those.
# code_layernorm_embedding takes any value: OFADecoder applies it to
# image-code positions only (ASR: none), and its tensor is skipped.
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
    "disable_entangle": Setting("disable_entangle", bool, False),
    "code_layernorm_embedding": Setting(
        "code_layernorm_embedding", bool, False
    ),
    "encoder_normalize_before": Setting(
        "encoder_normalize_before", bool, True, (True,)
    ),
    "decoder_normalize_before": Setting(
        "decoder_normalize_before", bool, True, (True,)
    ),
    "share_attn_bias": Setting("share_attn_bias", bool, False, (False,)),
    "use_ofasys": Setting("use_ofasys", bool, False, (False,)),
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

# The beam settings we map, with OfaForAllTasks' fallbacks for the ones
# configuration.json leaves out.
MODELSCOPE_DECODING = {
    "beam_size": 5,
    "max_len_b": 16,
    "min_len": 1,
    "no_repeat_ngram_size": 3,
}
CONSTRAINT_RANGE_KEY = "constraint_range"
# Other arguments of ModelScope's SequenceGenerator, with the only value our
# decoding reproduces (its default there).
FIXED_BEAM_OPTIONS = {
    "max_len_a": 0,
    "normalize_scores": True,
    "len_penalty": 1.0,
    "unk_penalty": 0.0,
    "temperature": 1.0,
    "match_source_len": False,
    "search_strategy": None,
    "eos": None,
    "symbols_to_strip_from_output": None,
    "lm_model": None,
    "constraint_trie": None,
    "gen_code": False,
    "gen_box": False,
    "ignore_eos": False,
    "zero_shot": False,
}
# Arguments that change nothing here: SequenceGenerator stores max_len but
# never uses it, and lm_weight only weighs an lm_model.
INERT_BEAM_OPTIONS = ("max_len", "lm_weight")
# Names other generators use, for a hint.
BEAM_OPTION_HINTS = {"lenpen": "len_penalty"}


def convert_modelscope(folder, output, overwrite=False):
    """Converts a ModelScope MMSpeech folder into a SpeechBrain model folder.

    Arguments
    ---------
    folder : str or Path
        The ModelScope model folder (:func:`read_modelscope` reads it).
    output, overwrite : str or Path, bool
        Where to write the SpeechBrain folder, and whether to replace it:
        as in :func:`~speechbrain_mmspeech.convert.folder.write_folder`.

    Returns
    -------
    dict
        The report of ``write_folder``, also saved as ``conversion.json``.

    Example
    -------
    >>> convert_modelscope(
    ...     "ofa_mmspeech_asr_aishell1_base_zh", "out"
    ... )  # doctest: +SKIP
    """
    return write_folder(read_modelscope(folder), output, overwrite)


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
        What was read, with ``layout="modelscope"``.

    Example
    -------
    >>> read_modelscope("no_such_folder")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: no_such_folder: not a folder
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
    configured_phones = arch.get("phone_vocab_size")
    blank_row = configured_phones == len(phone_tokenizer) + 1
    if blank_row:
        phone_tokenizer = with_phone_blank(phone_tokenizer)
    vocab_size = arch.pop("vocab_size")
    arch.update(
        vocabulary_sizes(
            tokenizer,
            phone_tokenizer,
            arch,
            config_path,
            vocab_size,
            config_path,
        )
    )
    settings, extra = beam_settings(configuration, configuration_path)
    search = configuration["model"].get("beam_search", {})
    absent_beam = [key for key in settings if key not in search]
    unread_beam = check_beam_extras(extra, len(tokenizer), configuration_path)
    frontend, frontend_notes = read_fbank_config(
        paths[FBANK_CONFIG_FILE], feature_transforms=True
    )
    weights = tensor_dict(
        load_torch_file(paths[WEIGHTS_FILE]), paths[WEIGHTS_FILE], "weights"
    )
    read_keys = {s.key for s in MODELSCOPE_SETTINGS.values()}
    notes = {
        "defaulted_config_keys": defaulted,
        "unread_config_keys": sorted(set(config) - read_keys),
        "unread_beam_search_keys": unread_beam,
        "vocab_layout": vocab_layout,
        "phone_table": {
            "blank_row": blank_row,
            "source": f"phone_vocab_size = {configured_phones}",
        },
        "front_end": frontend_notes,
        "decoding_source": f"{configuration_path} (model.beam_search; "
        "absent keys: OfaForAllTasks' fallbacks)",
        "defaulted_beam_search_keys": absent_beam,
    }
    return OfficialCheckpoint(
        layout="modelscope",
        sources={role: str(path) for role, path in paths.items()},
        values=folder_values(arch, frontend, decoding_values(settings)),
        state=strip_modelscope_prefix(weights),
        tokenizer=tokenizer,
        phone_tokenizer=phone_tokenizer,
        notes=notes,
    )


def check_modelscope_task(configuration, origin):
    """Refuses ModelScope folders that are not an MMSpeech model.

    Arguments
    ---------
    configuration, origin : dict, str
        The parsed ``configuration.json``, and its path (for messages).

    Returns
    -------
    str
        The multimodal type.

    Example
    -------
    >>> check_modelscope_task({"model": {"multimodal_type": "ofa"}}, "c")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: c: model.multimodal_type is 'ofa', not 'mmspeech': unknown architecture
    """
    model = configuration.get("model", {})
    kind = model.get("multimodal_type") if isinstance(model, dict) else None
    if kind != MODELSCOPE_MULTIMODAL_TYPE:
        raise ConversionError(
            f"{origin}: model.multimodal_type is {kind!r}, not "
            f"{MODELSCOPE_MULTIMODAL_TYPE!r}: unknown architecture"
        )
    return kind


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
        As in :func:`~speechbrain_mmspeech.convert.settings.read_settings`.

    Example
    -------
    >>> modelscope_architecture({"d_model": 8}, "config.json")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: config.json: required key 'vocab_size' is missing
    """
    values, defaulted = read_settings(
        config, MODELSCOPE_SETTINGS, origin, optional=OPTIONAL_SETTINGS
    )
    result = architecture_values(
        values, values["d_model"], MODELSCOPE_SETTINGS, origin
    )
    result["scale_embedding"] = values["scale_embedding"]
    result["entangle_position_embedding"] = (
        values["entangle_position_embedding"] and not values["disable_entangle"]
    )
    result["vocab_size"] = values["vocab_size"]
    for name in OPTIONAL_SETTINGS:
        if name in values:
            result[name] = values[name]
    return result, defaulted


def beam_settings(configuration, origin):
    """Reads the beam settings of a ModelScope ``configuration.json``.

    Arguments
    ---------
    configuration, origin : dict, str
        As in :func:`check_modelscope_task`.

    Returns
    -------
    settings : dict
        ``MODELSCOPE_DECODING`` updated with the file's values.
    extra : dict
        The other ``beam_search`` keys (``constraint_range``, ...).

    Example
    -------
    >>> beam_settings({"model": {"beam_search": {"beam_size": 4}}}, "c")
    ({'beam_size': 4, 'max_len_b': 16, 'min_len': 1, 'no_repeat_ngram_size': 3}, {})
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

    Every key must be an argument of ModelScope's ``SequenceGenerator``
    (the pipeline fails on any other); ``constraint_range`` must restrict
    decoding to the text ids, as ours does; the other arguments must keep
    their default, except the ones that change nothing.

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
    speechbrain_mmspeech.convert.reading.ConversionError: c: constraint_range '4,100' does not match the vocabulary (expected '4,21134')
    >>> check_beam_extras({"constraint_range": "4,9", "lenpen": 1}, 9, "c")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: c: model.beam_search.lenpen is not an argument of ModelScope's SequenceGenerator (the pipeline would fail); its length penalty is len_penalty
    """
    extra = dict(extra)
    expected = f"{len(FAIRSEQ_SPECIALS)},{text_vocab_size}"
    if CONSTRAINT_RANGE_KEY not in extra:
        raise ConversionError(
            f"{origin}: model.beam_search has no {CONSTRAINT_RANGE_KEY}: "
            "ModelScope then decodes over every id, audio codes included; "
            f"only decoding restricted to the text ids ('{expected}') is "
            "supported"
        )
    constraint = extra.pop(CONSTRAINT_RANGE_KEY)
    if str(constraint).replace(" ", "") != expected:
        raise ConversionError(
            f"{origin}: constraint_range {constraint!r} does not match the "
            f"vocabulary (expected {expected!r})"
        )
    unread = {}
    for key, value in extra.items():
        if key in INERT_BEAM_OPTIONS:
            unread[key] = value
        elif key not in FIXED_BEAM_OPTIONS:
            hint = BEAM_OPTION_HINTS.get(key)
            raise ConversionError(
                f"{origin}: model.beam_search.{key} is not an argument of "
                "ModelScope's SequenceGenerator (the pipeline would fail)"
                + (f"; its length penalty is {hint}" if hint else "")
            )
        elif value != FIXED_BEAM_OPTIONS[key]:
            raise ConversionError(
                f"{origin}: {key} = {value!r} is not supported (only "
                f"{FIXED_BEAM_OPTIONS[key]!r})"
            )
    return unread
