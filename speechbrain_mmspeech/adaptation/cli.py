"""``mmspeech-adapt``: adapt a model folder to a domain from text alone.

::

    mmspeech-adapt <model folder> domain.txt [more.txt ...] --output <new folder> \\
        [--method ngram|p2t|both] [--text-pool text_corpus.txt] \\
        [--hparams my_adapt.yaml] [--set p2t_epochs=1 ...]

The new folder loads with ``EncoderDecoderASR.from_hparams`` and
``mmspeech-transcribe``. Settings: ``hparams/adapt.yaml``.

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import json
import logging
import sys

import yaml

from speechbrain_mmspeech.adaptation.adapt import METHODS, adapt_model_folder
from speechbrain_mmspeech.adaptation.domain_text import AdaptationError


def parse_arguments(argv=None):
    """The command line.

    Arguments
    ---------
    argv : list of str
        The words after ``mmspeech-adapt`` (default: ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
        The options (``--set`` values still as ``KEY=VALUE`` strings).

    Example
    -------
    >>> args = parse_arguments(
    ...     ["m", "a.txt", "-o", "out", "--set", "p2t_lr=1e-5"]
    ... )
    >>> args.method, args.set
    ('both', ['p2t_lr=1e-5'])
    """
    parser = argparse.ArgumentParser(
        prog="mmspeech-adapt", description=__doc__.splitlines()[0]
    )
    parser.add_argument("source", help="a local model folder")
    parser.add_argument("domain", nargs="+", help="domain text files")
    parser.add_argument("-o", "--output", required=True, help="new folder")
    parser.add_argument("--method", choices=METHODS, default="both")
    parser.add_argument(
        "--text-pool",
        nargs="*",
        default=[],
        help="the original text pool (mixed into P2T batches)",
    )
    parser.add_argument(
        "--labeled",
        default=None,
        help="a labeled manifest (ID, duration, wav, transcript): P2T mixes "
        "in S2T batches of it",
    )
    parser.add_argument("--hparams", default=None, help="a settings YAML")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of the YAML (repeatable)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def parse_settings(pairs):
    """``["key=value", ...]`` -> ``{key: YAML value}``.

    Arguments
    ---------
    pairs : list of str
        The ``--set`` values.

    Returns
    -------
    dict
        Overrides of the settings YAML, values parsed as YAML.

    Example
    -------
    >>> parse_settings(["p2t_epochs=2", "p2t_max_steps=null"])
    {'p2t_epochs': 2, 'p2t_max_steps': None}
    """
    settings = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator:
            raise AdaptationError(f"--set takes KEY=VALUE, not {pair!r}")
        settings[key] = yaml.safe_load(value)
    return settings


def main(argv=None):
    """Runs the adaptation; prints its report as JSON.

    Arguments
    ---------
    argv : list of str
        As in :func:`parse_arguments`.

    Returns
    -------
    int
        The exit code (2 for an input it cannot use).
    """
    args = parse_arguments(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        report = adapt_model_folder(
            args.source,
            args.domain,
            args.output,
            method=args.method,
            text_pool=args.text_pool,
            hparams_file=args.hparams,
            overrides=parse_settings(args.set),
            progress=not args.quiet,
            labeled=args.labeled,
        )
    except AdaptationError as error:
        print(f"mmspeech-adapt: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
