"""Loading a recipe's hyperparameters, refusing renamed settings by name.

Authors
 * MMSpeech plugin contributors 2026
"""

import re

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

# Settings that were renamed or removed: a command line that still uses one
# fails with the replacement instead of hyperpyyaml's "not found".
RENAMED_SETTINGS = {
    "ctc_weight": "pp_weight (the weight of the phone CTC task, PP)",
    "time_mask_prob": "s2t_time_mask_prob (time masking of S2T)",
    "s2t_text_only": (
        "nothing: S2T is always restricted to the text ids now "
        "(the official constraint_range); remove the option"
    ),
}


def load_hparams(argv):
    """Parses a recipe command line and loads its hyperparameters.

    Arguments
    ---------
    argv : list of str
        ``hparams.yaml --key=value ...`` as SpeechBrain recipes take it.

    Returns
    -------
    hparams_file : str
        The YAML file.
    run_opts : dict
        SpeechBrain's run options (device, precision, DDP ...).
    overrides : str
        The overrides, as YAML.
    hparams : dict
        The loaded hyperparameters.

    Raises
    ------
    ValueError
        If an override names a renamed or removed setting.
    """
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    for key in re.findall(r"^(\w+)\s*:", overrides or "", flags=re.M):
        if key in RENAMED_SETTINGS:
            raise ValueError(
                f"--{key} is no longer a setting; use {RENAMED_SETTINGS[key]}"
            )
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    return hparams_file, run_opts, overrides, hparams
