#!/usr/bin/env python3
"""Fits the S2C pseudo-code quantizer (k-means units + BPE) on unpaired speech.

It reads the same YAML as ``pretrain.py`` (so the features, the number of
clusters and the code vocabulary are those pre-training will use), takes up
to ``codes_fit_utterances`` utterances of the unpaired speech (a seeded
random subset), fits the quantizer and saves it to ``codes_file``, with its
statistics next to it (``<codes_file>.json``). ``pretrain.py`` runs this
step itself when ``codes_file`` is missing; run it alone to share one set of
codes between several pre-training runs:

    python build_codes.py hparams/pretrain.yaml \\
        --data_folder=data/mini/data_aishell \\
        --unpaired_speech=data/mini/unpaired_speech/unpaired.csv \\
        --codes_file=results/codes/codes.ckpt

Authors
 * MMSpeech plugin contributors 2026
"""

import json
import logging
import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

from speechbrain_mmspeech.dataio.unpaired import (
    prepare_codes,
    prepare_unpaired_speech,
)

logger = logging.getLogger(__name__)


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
