"""Command line of the mini-AISHELL generator, ``mmspeech-mini-aishell``.

Writes the corpus and prints its settings and statistics as JSON::

    mmspeech-mini-aishell data/mini_aishell
    python -m speechbrain_mmspeech.mini_aishell data/mini --seed 7

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import json
import logging

from speechbrain_mmspeech.mini_aishell.generator import (
    DEFAULT_GAIN_RANGE_DB,
    DEFAULT_MAX_CHARS,
    DEFAULT_MAX_VOCAB,
    DEFAULT_MIN_CHARS,
    DEFAULT_N_DEV_SPEAKERS,
    DEFAULT_N_TEST_SPEAKERS,
    DEFAULT_N_TRAIN_SPEAKERS,
    DEFAULT_N_UNPAIRED_SPEAKERS,
    DEFAULT_NUM_WORKERS,
    DEFAULT_SEED,
    DEFAULT_SNR_RANGE_DB,
    DEFAULT_UTTS_PER_SPEAKER,
    generate_mini_aishell,
)
from speechbrain_mmspeech.mini_aishell.layout import UNPAIRED

DESCRIPTION = (
    'Synthetic "mini-AISHELL": a small Mandarin corpus in the real '
    "AISHELL-1 layout."
)


def parse_arguments(argv=None):
    """Parses the command line of ``mmspeech-mini-aishell``.

    Arguments
    ---------
    argv : list of str, optional
        The words after the command (default: ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
        The options, named as the keywords of ``generate_mini_aishell``.

    Example
    -------
    >>> parse_arguments(["out", "--seed", "7"]).seed
    7
    """
    parser = argparse.ArgumentParser(
        description=DESCRIPTION,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("output_folder", help="where to write the corpus")
    add = parser.add_argument
    add("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    speakers = {
        "train": DEFAULT_N_TRAIN_SPEAKERS,
        "dev": DEFAULT_N_DEV_SPEAKERS,
        "test": DEFAULT_N_TEST_SPEAKERS,
        UNPAIRED: DEFAULT_N_UNPAIRED_SPEAKERS,
    }
    for split, default in speakers.items():
        add(
            f"--n-{split}-speakers",
            type=int,
            default=default,
            help=f"number of {split} speakers",
        )
    add(
        "--utts-per-speaker",
        type=int,
        default=DEFAULT_UTTS_PER_SPEAKER,
        help="utterances per speaker (every split)",
    )
    add(
        "--min-chars",
        type=int,
        default=DEFAULT_MIN_CHARS,
        help="min characters",
    )
    add(
        "--max-chars",
        type=int,
        default=DEFAULT_MAX_CHARS,
        help="max characters",
    )
    add(
        "--max-vocab",
        type=int,
        default=DEFAULT_MAX_VOCAB,
        help="keep sentences made of the N most frequent characters (0: all)",
    )
    add(
        "--snr-range-db",
        type=float,
        nargs=2,
        default=DEFAULT_SNR_RANGE_DB,
        help="SNR range of the added noise",
    )
    add(
        "--gain-range-db",
        type=float,
        nargs=2,
        default=DEFAULT_GAIN_RANGE_DB,
        help="range of the peak level (dBFS)",
    )
    add(
        "--no-eval-within-train-vocab",
        dest="eval_within_train_vocab",
        action="store_false",
        help="allow dev/test characters that never occur in train",
    )
    add(
        "--num-workers",
        type=int,
        default=DEFAULT_NUM_WORKERS,
        help="synthesis threads",
    )
    add(
        "--overwrite",
        action="store_true",
        help="replace a corpus made with other settings",
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Command-line entry point.

    Arguments
    ---------
    argv : list of str, optional
        As in :func:`parse_arguments`.

    Example
    -------
    >>> main(["out"])  # doctest: +SKIP
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    options = vars(parse_arguments(argv))
    stats = generate_mini_aishell(**options)
    print(json.dumps(stats, ensure_ascii=False, indent=2))
