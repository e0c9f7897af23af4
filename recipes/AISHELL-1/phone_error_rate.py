#!/usr/bin/env python3
"""Phone error rate of a model folder's phone head (the PP task's CTC head).

MMSpeech's speech and text meet at the pinyin phones: the encoder's phone
head, tied to the phone input table, is trained with CTC (PP) and read by
MSP. How well it recognises phones tells whether the bridge holds. For every
utterance of a SpeechBrain CSV manifest (``ID, duration, wav, ...,
transcript``) this runs the model's encoder as ``EncoderDecoderASR`` does,
takes the greedy CTC path of the phone head and scores it against the
transcript's phones (``PinyinTokenizer``), without the beam search
(``speechbrain_mmspeech.inference.scoring.evaluate_manifest``;
``evaluate.py`` gives the CER and SER too):

    python phone_error_rate.py results/mini_aishell/model \\
        results/mini_aishell/data/dev.csv

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import tempfile

from speechbrain.inference.ASR import EncoderDecoderASR

from speechbrain_mmspeech.dataio.manifests import read_csv_rows
from speechbrain_mmspeech.inference.scoring import evaluate_manifest


def parse_args(argv=None):
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="model folder or hub repository id")
    parser.add_argument("manifest", help="CSV with wav and transcript")
    parser.add_argument("--limit", type=int, default=None, help="first N rows")
    parser.add_argument("--device", default="cpu")
    return parser.parse_args(argv)


def main(argv=None):
    """Loads the model, scores the manifest, prints the phone error rate."""
    args = parse_args(argv)
    rows = read_csv_rows(args.manifest, args.limit)
    with tempfile.TemporaryDirectory() as savedir:
        asr = EncoderDecoderASR.from_hparams(
            source=args.source,
            savedir=savedir,
            run_opts={"device": args.device},
        )
        stats, _ = evaluate_manifest(asr, rows, progress=False, search=False)
    summary = stats.per.summarize()
    print(
        f"{args.source}: phone error rate {summary['error_rate']:.2f}% "
        f"[{summary['num_edits']}/{summary['num_scored_tokens']}, "
        f"{summary['insertions']} ins, {summary['deletions']} del, "
        f"{summary['substitutions']} sub] over {len(rows)} utterances"
    )
    return stats


if __name__ == "__main__":
    main()
