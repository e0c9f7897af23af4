"""``fbank_config.yaml`` (a fairseq speech-to-text data config) -> our front end.

The official front end is an 80-bin Kaldi fbank followed by one CMVN
transform. Both official readers ask fairseq's ``S2TDataConfig`` for the
``test`` split (OFA's evaluation script, ModelScope's preprocessor), which
takes the ``transforms`` entry of that split, else ``_eval``, else ``*``
(an entry left empty counts as absent). OFA's own copy of fairseq reads
only ``transforms``; the fairseq ModelScope installs (0.12.3) also reads
``feature_transforms`` the same way and appends its list. The list must
hold exactly one CMVN: ``utterance_cmvn`` (SpeechBrain's sentence
normalisation) or ``global_cmvn`` (mean and std from a ``.npz`` file,
SpeechBrain's global normalisation). SpecAugment and the other training
transforms (split ``train``, else ``_train``, else ``*``) are recorded only.

Authors
 * MMSpeech plugin contributors 2026
"""

import numpy as np

from speechbrain_mmspeech.convert.reading import (
    ConversionError,
    read_mapping,
    require_file,
)
from speechbrain_mmspeech.lobes.features import GLOBAL_NORM, SENTENCE_NORM
from speechbrain_mmspeech.lobes.models.sizes import N_MELS

TRANSFORMS_KEY = "transforms"
FEATURE_TRANSFORMS_KEY = "feature_transforms"
# The splits the official readers ask for, and fairseq's wildcards.
EVAL_SPLIT = "test"
TRAIN_SPLIT = "train"
EVAL_WILDCARD = "_eval"
TRAIN_WILDCARD = "_train"
ANY_SPLIT = "*"
UTTERANCE_CMVN = "utterance_cmvn"
GLOBAL_CMVN = "global_cmvn"
SPECAUGMENT = "specaugment"
CMVN_TRANSFORMS = {UTTERANCE_CMVN: SENTENCE_NORM, GLOBAL_CMVN: GLOBAL_NORM}
UTTERANCE_CMVN_OPTIONS = ("norm_means", "norm_vars")
FEATURE_SIZE_KEY = "input_feat_per_channel"
STATS_PATH_KEY = "stats_npz_path"
STATS_ARRAYS = ("mean", "std")


def read_fbank_config(path, feature_transforms=False):
    """Reads the official front-end configuration (``fbank_config.yaml``).

    Supported at inference: exactly one CMVN (``utterance_cmvn`` with its
    default options, or ``global_cmvn``). SpecAugment and the train-only
    transforms are recorded in the report but do not affect inference.

    Arguments
    ---------
    path : Path
        The file.
    feature_transforms : bool
        Whether the official reader also reads ``feature_transforms``
        (ModelScope's fairseq 0.12.3; OFA's own fairseq does not).

    Returns
    -------
    values : dict
        ``n_mels``, ``norm_type``, ``global_mean`` and ``global_std``.
    notes : dict
        The transforms and the SpecAugment block, for the report.

    Example
    -------
    >>> from pathlib import Path
    >>> read_fbank_config(Path("missing/fbank_config.yaml"))
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: missing/fbank_config.yaml: no such file
    """
    config = read_mapping(path)
    keys = [TRANSFORMS_KEY] + [FEATURE_TRANSFORMS_KEY] * feature_transforms
    eval_transforms = official_transforms(config, keys, EVAL_SPLIT, path)
    train_transforms = official_transforms(config, keys, TRAIN_SPLIT, path)
    unknown = [t for t in eval_transforms if t not in CMVN_TRANSFORMS]
    if unknown:
        raise ConversionError(
            f"{path}: transform(s) {unknown} at inference are not supported "
            "(only one of " + ", ".join(CMVN_TRANSFORMS) + ")"
        )
    if len(eval_transforms) != 1:
        unread = ""
        if FEATURE_TRANSFORMS_KEY in config and not feature_transforms:
            unread = (
                f"; '{FEATURE_TRANSFORMS_KEY}' is not read by OFA's fairseq "
                f"(only '{TRANSFORMS_KEY}')"
            )
        raise ConversionError(
            f"{path}: expected exactly one CMVN transform at inference (the "
            f"'{EVAL_SPLIT}' split of " + " + ".join(keys) + "), found "
            f"{eval_transforms}{unread}"
        )
    n_mels = config.get(FEATURE_SIZE_KEY, N_MELS)
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
        "transform_keys_read": keys,
        "eval_split": EVAL_SPLIT,
        "eval_transforms": eval_transforms,
        "train_transforms": train_transforms,
        SPECAUGMENT: config.get(SPECAUGMENT),
    }
    return values, notes


def split_transforms(table, split, origin):
    """One transforms table's list for a split, as fairseq looks it up.

    fairseq's ``S2TDataConfig`` takes the split's own entry, else ``_train``
    (training splits) or ``_eval`` (others), else ``*``; an entry that is
    absent or empty (``None``) falls through.

    Arguments
    ---------
    table : dict or None
        A ``transforms`` (or ``feature_transforms``) mapping.
    split : str
        ``"test"`` (inference) or ``"train"``.
    origin : str
        Where the table comes from (for messages).

    Returns
    -------
    list of str or None
        The transforms; None when no entry applies.

    Example
    -------
    >>> table = {"test": None, "_eval": ["global_cmvn"], "*": ["x"]}
    >>> split_transforms(table, "test", "c")
    ['global_cmvn']
    >>> split_transforms(table, "train", "c")
    ['x']
    """
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConversionError(f"{origin}: a transforms entry is not a mapping")
    wildcard = TRAIN_WILDCARD if split == TRAIN_SPLIT else EVAL_WILDCARD
    found = None
    for name in (split, wildcard, ANY_SPLIT):
        found = table.get(name)
        if found is not None:
            break
    if found is not None and not (
        isinstance(found, list) and all(isinstance(t, str) for t in found)
    ):
        raise ConversionError(
            f"{origin}: the transforms of '{name}' are not a list of names"
        )
    return found


def official_transforms(config, keys, split, origin):
    """The feature transforms the official reader applies to a split.

    Arguments
    ---------
    config : dict
        The parsed ``fbank_config.yaml``.
    keys : list of str
        ``["transforms"]`` (OFA), or with ``"feature_transforms"``, whose
        list fairseq 0.12.3 appends (ModelScope).
    split : str
        ``"test"`` or ``"train"``.
    origin : str
        The file's path (for messages).

    Returns
    -------
    list of str
        Transform names, in the order they run.

    Example
    -------
    >>> config = {"transforms": {"*": ["utterance_cmvn"]}}
    >>> official_transforms(config, ["transforms"], "test", "c")
    ['utterance_cmvn']
    >>> config["feature_transforms"] = {"_eval": ["specaugment"]}
    >>> keys = ["transforms", "feature_transforms"]
    >>> official_transforms(config, keys, "test", "c")
    ['utterance_cmvn', 'specaugment']
    """
    found = None
    for key in keys:
        listed = split_transforms(config.get(key), split, f"{origin} {key}")
        if found is None:
            found = listed
        elif listed:
            found = [*found, *listed]
    return list(found or [])


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
    >>> from pathlib import Path
    >>> global_stats({}, Path("fbank_config.yaml"), 80)
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: fbank_config.yaml: global_cmvn needs global_cmvn.stats_npz_path
    """
    block = config.get(GLOBAL_CMVN) or {}
    if STATS_PATH_KEY not in block:
        raise ConversionError(
            f"{config_path}: {GLOBAL_CMVN} needs {GLOBAL_CMVN}.{STATS_PATH_KEY}"
        )
    path = config_path.parent / block[STATS_PATH_KEY]
    require_file(path, f"{GLOBAL_CMVN} stats")
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
