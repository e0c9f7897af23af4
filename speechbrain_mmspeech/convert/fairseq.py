"""A fairseq MMSpeech checkpoint (OFA release) -> a SpeechBrain model folder.

The ``.pt`` file (``ofa_mmspeech_*.pt``) holds the configuration (``cfg``,
or ``args`` in older files) and the state dict (``model``) under fairseq
names; the BERT-Chinese ``vocab.txt``, ``phone_dict.txt`` and
``fbank_config.yaml`` of the release are separate files. The official
decoding settings are those of the fairseq evaluation script, and its front
end is that of the ``test`` split (read with OFA's own fairseq, which knows
only the ``transforms`` key).

Two settings are read the way OFA's code uses them, not by their names:
the decoder adds absolute positions to the token embeddings unless
``disable_entangle`` (``entangle_position_embedding`` is never checked for
anything but None), and the phone table has a ``<blank>`` row more than
``phone_dict.txt`` when the task ran without ``text2phone_path``.

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
from collections.abc import Mapping
from pathlib import Path

from speechbrain_mmspeech.convert.fbank import read_fbank_config
from speechbrain_mmspeech.convert.folder import OfficialCheckpoint, write_folder
from speechbrain_mmspeech.convert.official import (
    EMBED_TOKENS_KEY,
    PHONE_TABLE_KEY,
    rename_fairseq_key,
)
from speechbrain_mmspeech.convert.reading import (
    ConversionError,
    load_torch_file,
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
    require_equal,
)
from speechbrain_mmspeech.convert.vocabulary import (
    phone_tokenizer_from_dict,
    text_tokenizer_from_vocab,
    vocabulary_sizes,
    with_phone_blank,
)

FAIRSEQ_ARCHITECTURES = ("ofa_speech", "ofa_speech_base", "ofa_speech_large")
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
    # Any value: OFA applies it to image-code positions only (ASR: none).
    "code_layernorm_embedding": Setting("code_layernorm_embedding", bool, True),
    "disable_entangle": Setting("disable_entangle", bool, False),
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
# cfg["model"]: the last phone row + 1 the phone head scores (None: the
# id of <mask> in the phone dictionary).
PHONE_DICT_SIZE_KEY = "phone_dict_size"
# fairseq cfg["task"]: the decoder vocabulary is built by the task.
AUDIO_CODES_SETTING = Setting("audio_code_dict_size", int, NOT_SET)
# cfg["task"]: None -> the task adds <blank> to the phone table.
TEXT2PHONE_KEY = "text2phone_path"
UNSUPPORTED_CODE_SETTINGS = (
    Setting("code_dict_size", int, 0, (0,)),
    Setting("num_bins", int, 0, (0,)),
)

# The fairseq evaluation script's beam settings.
FAIRSEQ_DECODING = {
    "beam_size": 5,
    "max_len_b": 256,
    "min_len": 1,
    "no_repeat_ngram_size": 5,
}


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
    output, overwrite : str or Path, bool
        As in :func:`~speechbrain_mmspeech.convert.folder.write_folder`.

    Returns
    -------
    dict
        The conversion report (``write_folder``).

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
    speechbrain_mmspeech.convert.reading.ConversionError: Missing input file(s): a.pt (checkpoint), vocab.txt (vocabulary), phone_dict.txt (phone dictionary), fbank.yaml (front-end configuration)
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
    phone_blank = fairseq_phone_blank(task_cfg, state, phone_tokenizer)
    if phone_blank["blank_row"]:
        phone_tokenizer = with_phone_blank(phone_tokenizer)
    sizes = {}
    if model_cfg.get(PHONE_DICT_SIZE_KEY) is not None:
        sizes[PHONE_DICT_SIZE_KEY] = model_cfg[PHONE_DICT_SIZE_KEY]
    rows = state[EMBED_TOKENS_KEY].shape[0]
    arch.update(
        vocabulary_sizes(tokenizer, phone_tokenizer, sizes, origin, rows, path)
    )
    task_keys = check_fairseq_codes(
        task_cfg, arch["code_vocab_size"], f"{path} (cfg.task)"
    )
    read_keys = {s.key for s in FAIRSEQ_SETTINGS.values()}
    notes = {
        "architecture": architecture,
        "defaulted_config_keys": defaulted,
        "task_keys": task_keys,
        "phone_table": phone_blank,
        "unread_config_keys": sorted(
            set(model_cfg) - read_keys - {PHONE_DICT_SIZE_KEY}
        ),
        "vocab_layout": vocab_layout,
        "front_end": frontend_notes,
        "decoding_source": "fairseq evaluation script defaults",
    }
    return OfficialCheckpoint(
        layout="fairseq",
        sources={role: str(p) for role, p in paths.items()},
        values=folder_values(arch, frontend, decoding_values(FAIRSEQ_DECODING)),
        state=state,
        tokenizer=tokenizer,
        phone_tokenizer=phone_tokenizer,
        notes=notes,
    )


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


def check_fairseq_architecture(model_cfg, origin):
    """Refuses fairseq models that are not MMSpeech (``ofa_speech*``).

    Arguments
    ---------
    model_cfg, origin : dict, str
        The model configuration, and where it comes from (for messages).

    Returns
    -------
    str
        The architecture name.

    Example
    -------
    >>> check_fairseq_architecture({"arch": "ofa_large"}, "cfg")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: cfg: unknown architecture 'ofa_large' (supported: ofa_speech, ofa_speech_base, ofa_speech_large)
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


def fairseq_architecture(model_cfg, origin):
    """Reads a fairseq ``cfg["model"]`` (or old ``args``).

    The fairseq decoder scales token embeddings by ``sqrt(d)`` unless
    ``no_scale_embedding``, and adds absolute positions unless
    ``disable_entangle``.

    Arguments
    ---------
    model_cfg, origin : dict, str
        As in :func:`check_fairseq_architecture`.

    Returns
    -------
    values, defaulted : dict
        Model hyperparameters (vocabulary sizes come from the weights and the
        vocabulary files), and ``{key: default}`` for the absent keys.

    Example
    -------
    >>> fairseq_architecture({"arch": "ofa_speech_base"}, "cfg")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: cfg: required key 'encoder_embed_dim' is missing
    """
    values, defaulted = read_settings(model_cfg, FAIRSEQ_SETTINGS, origin)
    d_model = require_equal(
        values, "encoder_d_model", "decoder_d_model", FAIRSEQ_SETTINGS, origin
    )
    result = architecture_values(values, d_model, FAIRSEQ_SETTINGS, origin)
    result["scale_embedding"] = not values["no_scale_embedding"]
    # unify_transformer.py: `entangle_position_embedding is not None and
    # not disable_entangle`; the first is a bool, so only the second counts.
    result["entangle_position_embedding"] = not values["disable_entangle"]
    return result, defaulted


def fairseq_state(checkpoint, path):
    """Returns the state dict of a fairseq checkpoint under ModelScope names.

    Arguments
    ---------
    checkpoint, path : dict, Path
        The loaded checkpoint (its ``model`` entry is read) and its file,
        as in :func:`fairseq_configs`.

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


def fairseq_phone_blank(task_cfg, state, phone_tokenizer):
    """Whether the phone table ends with OFA's ``<blank>`` row.

    The task adds ``<blank>`` to the phone dictionary when it runs without
    ``text2phone_path`` (the released scripts give one). The task
    configuration says which, and the row count of
    ``encoder.phone_item_embedding.weight`` must agree; a checkpoint without
    it is told by that row count.

    Arguments
    ---------
    task_cfg : dict
        The task configuration (may be empty).
    state : dict
        The checkpoint's tensors.
    phone_tokenizer : PinyinTokenizer
        The inventory of ``phone_dict.txt``.

    Returns
    -------
    dict
        ``blank_row`` (bool) and ``source`` (what told it), for the report.

    Example
    -------
    >>> from speechbrain_mmspeech.tokenizers import PinyinTokenizer
    >>> fairseq_phone_blank({"text2phone_path": None}, {}, PinyinTokenizer())
    {'blank_row': True, 'source': 'cfg.task.text2phone_path = None'}
    """
    table = state.get(PHONE_TABLE_KEY)
    rows = None if table is None else table.shape[0]
    ids = len(phone_tokenizer)
    if TEXT2PHONE_KEY not in task_cfg:
        return {
            "blank_row": rows == ids + 1,
            "source": f"{PHONE_TABLE_KEY} has {rows} rows "
            f"(phone_dict.txt: {ids} ids)",
        }
    path = task_cfg[TEXT2PHONE_KEY]
    source = f"cfg.task.{TEXT2PHONE_KEY} = {path!r}"
    blank_row = path is None
    if rows is not None and rows != ids + blank_row:
        raise ConversionError(
            f"{source} means {ids + blank_row} phone rows (phone_dict.txt: "
            f"{ids} ids{' + <blank>' if blank_row else ''}), but "
            f"{PHONE_TABLE_KEY} has {rows}"
        )
    return {"blank_row": blank_row, "source": source}


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
