"""``fbank_config.yaml`` (a fairseq speech-to-text data config) -> our front end.

The official front end is an 80-bin Kaldi fbank followed by one CMVN
transform. fairseq picks a split's own transform list, else ``_eval`` or
``_train``, else ``*``; a model folder is used on unseen data, so the
``_eval`` list applies. It must hold exactly one CMVN: ``utterance_cmvn``
(SpeechBrain's sentence normalisation) or ``global_cmvn`` (mean and std from
a ``.npz`` file, SpeechBrain's global normalisation). SpecAugment and the
other training transforms are recorded only.

Authors
 * MMSpeech plugin contributors 2026
"""

import numpy as np

from speechbrain_mmspeech.convert.reading import ConversionError, read_mapping
from speechbrain_mmspeech.frontend import GLOBAL_NORM, SENTENCE_NORM

OFFICIAL_N_MELS = 80
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
    >>> from pathlib import Path
    >>> read_fbank_config(Path("missing/fbank_config.yaml"))
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: missing/fbank_config.yaml: no such file
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
