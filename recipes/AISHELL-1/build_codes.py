#!/usr/bin/env python3
"""Fits the S2C pseudo-code quantizer (k-means units + BPE) on unpaired speech.

It reads the same YAML as ``pretrain.py`` (so the features, the number of
clusters and the code vocabulary are those pre-training will use), takes up
to ``codes_fit_utterances`` utterances of the unpaired speech (a seeded
random subset), fits the quantizer and saves it to ``codes_file``, with its
statistics next to it (``<codes_file>.json``). ``pretrain.py`` runs this
step itself when ``codes_file`` is missing; run it alone to share one set of
codes between several pre-training runs:

    python build_codes.py hparams/pretrain_stage2.yaml \\
        --data_folder=data/mini/data_aishell \\
        --unpaired_speech=data/mini/unpaired_speech/unpaired.csv \\
        --codes_file=results/codes/codes.ckpt

Authors
 * MMSpeech plugin contributors 2026
"""

import json
import logging
import sys
from pathlib import Path

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_mmspeech.frontend import load_audio
from speechbrain_mmspeech.training import read_csv_column
from speechbrain_mmspeech.unpaired import prepare_unpaired_speech

logger = logging.getLogger(__name__)

STATS_SUFFIX = ".json"


def fit_wavs(hparams):
    """The wavs the quantizer is fitted on: a seeded subset of the pool.

    Arguments
    ---------
    hparams : dict
        ``unpaired_csv``, ``codes_fit_utterances`` and ``seed``.

    Returns
    -------
    list of str
        Wav paths.
    """
    wavs = list(read_csv_column(hparams["unpaired_csv"], "wav"))
    limit = hparams["codes_fit_utterances"]
    if limit and len(wavs) > limit:
        generator = torch.Generator().manual_seed(hparams["seed"])
        order = torch.randperm(len(wavs), generator=generator)[:limit]
        wavs = [wavs[i] for i in sorted(order.tolist())]
    return wavs


def prepare_codes(hparams):
    """Fits and saves the quantizer unless ``codes_file`` exists.

    Arguments
    ---------
    hparams : dict
        The pre-training hyperparameters (``quantizer``,
        ``compute_features``, ``codes_file`` and those of ``fit_wavs``).

    Returns
    -------
    dict or None
        The fitting statistics, or None if the file already existed.
    """
    path = Path(hparams["codes_file"])
    if path.exists():
        return None
    wavs = fit_wavs(hparams)
    logger.info("Fitting the pseudo-codes on %d utterances", len(wavs))
    fbank = hparams["compute_features"]
    quantizer = hparams["quantizer"]
    stats = quantizer.fit(fbank.utterance_fbank(load_audio(w)) for w in wavs)
    path.parent.mkdir(parents=True, exist_ok=True)
    quantizer.save(path)
    stats_path = path.with_name(path.name + STATS_SUFFIX)
    stats_path.write_text(json.dumps(stats, indent=2), encoding="utf-8")
    logger.info("Pseudo-codes saved to %s: %s", path, stats)
    return stats


def main(argv):
    """Prepares the unpaired speech list and fits the quantizer."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    hparams_file, _, overrides = sb.parse_arguments(argv)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    prepare_unpaired_speech(hparams["unpaired_speech"], hparams["csv_folder"])
    stats = prepare_codes(hparams)
    if stats is None:
        print(f"{hparams['codes_file']} exists: nothing to do")
    else:
        print(json.dumps(stats, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
