#!/usr/bin/env python3
"""Measures transcription speed and accuracy of a model folder.

Transcribes every utterance of a SpeechBrain CSV manifest (``ID, duration,
wav, ..., transcript``) through ``EncoderDecoderASR.from_hparams``, one file
at a time as a user would, and prints CER, real-time factor, utterances per
second and peak memory:

    python benchmark_inference.py results/mini_aishell/model \\
        results/mini_aishell/data/test.csv

Run it on an otherwise idle machine: it measures wall-clock time.

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import resource
import tempfile
import time

import torch
from speechbrain.inference.ASR import EncoderDecoderASR

from speechbrain_mmspeech.dataio.manifests import read_utterances
from speechbrain_mmspeech.inference.scoring import character_error_stats

KIB_PER_GIB = 1024**2


def parse_args():
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="model folder or hub repository id")
    parser.add_argument("manifest", help="CSV with wav and transcript")
    parser.add_argument("--limit", type=int, default=None, help="first N rows")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    return parser.parse_args()


def main():
    """Loads the model once, transcribes every row, prints the numbers."""
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    asr = EncoderDecoderASR.from_hparams(
        source=args.source,
        savedir=tempfile.mkdtemp(prefix="mmspeech_bench_"),
        run_opts={"device": args.device},
    )
    utterances = read_utterances(args.manifest, args.limit)
    start = time.perf_counter()
    hypotheses = [asr.transcribe_file(utt.wav) for utt in utterances]
    elapsed = time.perf_counter() - start
    cer = character_error_stats(
        [utt.id for utt in utterances],
        hypotheses,
        [utt.reference for utt in utterances],
    )
    audio_seconds = sum(utt.duration for utt in utterances)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB_PER_GIB
    print(
        f"utterances:       {len(utterances)} ({audio_seconds:.1f} s of audio)"
    )
    print(f"CER:              {cer.summarize('error_rate'):.2f}%")
    print(
        f"wall time:        {elapsed:.2f} s on {torch.get_num_threads()} threads"
    )
    print(f"real-time factor: {elapsed / audio_seconds:.4f}")
    print(f"utterances/s:     {len(utterances) / elapsed:.2f}")
    print(f"peak memory:      {peak_gib:.2f} GiB")


if __name__ == "__main__":
    main()
