#!/usr/bin/env python3
"""CER, phone error rate and decoded-syllable error of a model folder.

For each manifest (SpeechBrain CSV with ``ID, wav, transcript``: the
recipe's ``test.csv``, mini-AISHELL's ``extra_tests/topic.csv`` and
``extra_tests/shuffled.csv``) the folder decodes every utterance as
``transcribe_batch`` does, and prints (``speechbrain_mmspeech.inference.scoring``):

- CER: the decoded characters;
- PER: the phone head's greedy CTC path against the reference's phones
  (what was heard);
- SER: the tonal pinyin of the decoded text against the reference's (what
  was written, up to homophones);
- RTF: decoding seconds (front end, encoder, search) per audio second.

Decoding settings of the folder's YAML can be overridden, e.g. to choose
the phone CTC weight on dev::

    python evaluate.py results/mini_aishell/model \\
        results/mini_aishell/data/dev.csv --override phone_ctc_weight=0.8

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import tempfile

import torch
import yaml
from speechbrain.inference.ASR import EncoderDecoderASR

from speechbrain_mmspeech.dataio.manifests import read_csv_rows
from speechbrain_mmspeech.inference.scoring import evaluate_manifest


def parse_args(argv=None):
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="model folder or hub repository id")
    parser.add_argument("manifests", nargs="+", help="CSVs: wav, transcript")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a decoding setting of the folder's YAML (repeatable)",
    )
    parser.add_argument("--limit", type=int, default=None, help="first N rows")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    return parser.parse_args(argv)


def parse_overrides(pairs):
    """``["key=value", ...]`` -> ``{key: YAML value}``.

    Example
    -------
    >>> parse_overrides(["phone_ctc_weight=0.8", "phone_ctc_prefix_beam=null"])
    {'phone_ctc_weight': 0.8, 'phone_ctc_prefix_beam': None}
    """
    overrides = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator:
            raise SystemExit(f"--override takes KEY=VALUE, got {pair!r}")
        overrides[key] = yaml.safe_load(value)
    return overrides


def main(argv=None):
    """Loads the folder once, then scores every manifest."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = parse_overrides(args.override)
    with tempfile.TemporaryDirectory() as savedir:
        asr = EncoderDecoderASR.from_hparams(
            source=args.source,
            savedir=savedir,
            overrides=overrides,
            run_opts={"device": args.device},
        )
        for manifest in args.manifests:
            rows = read_csv_rows(manifest, args.limit)
            stats, seconds = evaluate_manifest(asr, rows, args.batch_size)
            rates = stats.summarize()
            rtf = seconds["decoding"] / seconds["audio"]
            settings = " ".join(args.override) or "folder settings"
            print(
                f"{manifest} ({len(rows)} utterances, {settings}): "
                f"CER {rates['CER']:.2f}%, PER {rates['PER']:.2f}%, "
                f"SER {rates['SER']:.2f}%, RTF {rtf:.4f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
