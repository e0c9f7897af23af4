#!/usr/bin/env python3
"""Transcribes audio files with a model folder written by ``train.py``.

It uses SpeechBrain's stock interface, as a user would:

    python transcribe.py results/mini_aishell/model a.wav b.flac

Any sampling rate and channel count is accepted (resampled to 16 kHz mono).

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import tempfile

from speechbrain.inference.ASR import EncoderDecoderASR


def parse_args():
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="model folder or hub repository id")
    parser.add_argument("audio", nargs="+", help="audio files to transcribe")
    parser.add_argument("--savedir", default=None, help="where to link files")
    parser.add_argument("--device", default="cpu")
    return parser.parse_args()


def main():
    """Loads the model once and prints one line per file."""
    args = parse_args()
    savedir = args.savedir or tempfile.mkdtemp(prefix="mmspeech_")
    asr = EncoderDecoderASR.from_hparams(
        source=args.source, savedir=savedir, run_opts={"device": args.device}
    )
    for path in args.audio:
        print(f"{path}\t{asr.transcribe_file(path)}")


if __name__ == "__main__":
    main()
