#!/usr/bin/env python3
"""Speed, memory and accuracy of a model folder on one long recording.

Builds one recording of ``--minutes`` (default 10) from the utterances of a
SpeechBrain CSV manifest (``ID, duration, wav, spk_id, transcript``, e.g.
mini-AISHELL's ``test.csv``): the utterances in a seeded random order (a
new order each time the manifest runs out), each after a seeded pause of
0.3 to 1.5 s of low noise, with noise after the last one up to the exact
length. The recording is written, one piece at a time, to a temporary
folder and transcribed once, as a user would, through the stock
``EncoderDecoderASR.from_hparams(...).transcribe_file``, which segments
long audio at its pauses.

Printed: the audio's length, the model loading and the transcription wall
times (measured apart), the real-time factor (transcription seconds per
audio second), the peak resident memory of the process (``ru_maxrss``),
the hypothesis' and the references' character counts, and the CER of the
whole hypothesis against the references joined in order (one sentence,
characters as tokens).

``--pause 0 0 --trim`` puts the utterances back to back without any pause
(continuous speech: the speech detector finds no cut, and the folder cuts
at the quietest points within its ``max_segment_seconds``); with
``--limit 1`` it is one utterance repeated::

    python benchmark_long_audio.py results/mini_aishell/model \\
        results/mini_aishell/data/test.csv --minutes 1 --pause 0 0 --trim \\
        --limit 1

Command (from ``recipes/AISHELL-1``, on an otherwise idle machine)::

    python benchmark_long_audio.py results/mini_aishell/model \\
        results/mini_aishell/data/test.csv --minutes 10

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch
from speechbrain.inference.ASR import EncoderDecoderASR

from speechbrain_mmspeech.dataio.audio import SAMPLE_RATE, load_audio
from speechbrain_mmspeech.dataio.manifests import read_csv_rows
from speechbrain_mmspeech.inference.scoring import character_error_stats
from speechbrain_mmspeech.text import normalize_text

PAUSE_SECONDS = (0.3, 1.5)
NOISE_STD = 1e-3  # about -60 dBFS
TRIM_THRESHOLD = 0.02  # of the peak: the edges of an utterance's speech
KIB_PER_MIB = 1024  # ru_maxrss is in KiB on Linux


def parse_args(argv=None):
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="model folder or hub repository id")
    parser.add_argument("manifest", help="CSV with wav and transcript")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pause",
        type=float,
        nargs=2,
        default=PAUSE_SECONDS,
        metavar=("MIN", "MAX"),
        help="seconds of noise before each utterance (0 0: none)",
    )
    parser.add_argument(
        "--trim",
        action="store_true",
        help="cut each utterance's silent margins (continuous speech)",
    )
    parser.add_argument("--limit", type=int, default=None, help="first N rows")
    parser.add_argument("--device", default="cpu")
    return parser.parse_args(argv)


def utterance_order(n_rows, rng):
    """Row indices in random order, a new order each pass, without end.

    Arguments
    ---------
    n_rows : int
        Number of manifest rows.
    rng : numpy.random.Generator
        The source of the orders.

    Yields
    ------
    int
        A row index.

    Example
    -------
    >>> import itertools
    >>> order = utterance_order(3, np.random.default_rng(0))
    >>> sorted(itertools.islice(order, 6))
    [0, 0, 1, 1, 2, 2]
    """
    while True:
        yield from rng.permutation(n_rows).tolist()


def trim_silence(speech, threshold=TRIM_THRESHOLD):
    """The speech between its first and last sample above ``threshold``
    times its peak.

    Example
    -------
    >>> trim_silence(np.array([0.0, 0.001, 0.5, -1.0, 0.2, 0.0])).tolist()
    [0.5, -1.0, 0.2]
    """
    loud = np.flatnonzero(np.abs(speech) > threshold * np.abs(speech).max())
    if not len(loud):
        return speech
    return speech[loud[0] : loud[-1] + 1]


def write_long_recording(
    rows, path, seconds, seed=0, pause=PAUSE_SECONDS, trim=False
):
    """Writes the utterances of ``rows`` with pauses of noise to ``path``.

    Pieces are written as they are read, so that building the recording
    does not add to the memory measured afterwards. Utterances are added
    while they fit in ``seconds`` (at least one is); noise fills the rest.

    Arguments
    ---------
    rows : list of dict
        Manifest rows with ``wav`` and ``transcript``.
    path : str or pathlib.Path
        The wav to write (16 kHz, 16-bit).
    seconds : float
        Length of the recording.
    seed : int
        Seed of the order, the pauses and the noise.
    pause : tuple of float
        Range of the pause before each utterance, in seconds.
    trim : bool
        Cut each utterance's silent margins (``trim_silence``).

    Returns
    -------
    audio_seconds : float
        The written length.
    references : list of str
        The normalised transcripts of the utterances, in order.
    """
    if not rows:
        raise ValueError("the manifest has no utterances")
    rng = np.random.default_rng(seed)
    total = round(seconds * SAMPLE_RATE)
    written, references = 0, []

    def noise(n_samples):
        return (NOISE_STD * rng.standard_normal(n_samples)).astype(np.float32)

    with soundfile.SoundFile(
        str(path), "w", SAMPLE_RATE, 1, subtype="PCM_16"
    ) as out:
        for index in utterance_order(len(rows), rng):
            gap = round(rng.uniform(*pause) * SAMPLE_RATE)
            speech = load_audio(rows[index]["wav"]).numpy().clip(-1, 1)
            if trim:
                speech = trim_silence(speech)
            if references and written + gap + len(speech) > total:
                break
            out.write(noise(gap))
            out.write(speech)
            written += gap + len(speech)
            references.append(normalize_text(rows[index]["transcript"]))
        if written < total:
            out.write(noise(total - written))
            written = total
    return written / SAMPLE_RATE, references


def character_error_rate(hypothesis, references):
    """CER of a hypothesis against the references joined, as one sentence.

    Arguments
    ---------
    hypothesis : str
        The transcription of the whole recording (whitespace is ignored).
    references : list of str
        The transcripts of its utterances, in order.

    Returns
    -------
    float
        The CER in percent.

    Example
    -------
    >>> character_error_rate("你好 世届", ["你好", "世界"])
    25.0
    """
    stats = character_error_stats(
        ["recording"], [hypothesis], ["".join(references)]
    )
    return stats.summarize("error_rate")


def peak_mib():
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB_PER_MIB


def main(argv=None):
    """Builds the recording, loads the model, transcribes, prints."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = read_csv_rows(args.manifest, args.limit)
    with tempfile.TemporaryDirectory(prefix="mmspeech_long_") as tmp:
        wav = Path(tmp) / "long.wav"
        seconds, references = write_long_recording(
            rows, wav, 60 * args.minutes, args.seed, args.pause, args.trim
        )
        start = time.perf_counter()
        asr = EncoderDecoderASR.from_hparams(
            source=args.source,
            savedir=str(Path(tmp) / "model"),
            run_opts={"device": args.device},
        )
        loaded = time.perf_counter()
        hypothesis = asr.transcribe_file(str(wav))
        transcribed = time.perf_counter()
    wall = transcribed - loaded
    reference_chars = sum(len(text) for text in references)
    print(
        f"audio:            {seconds / 60:.2f} min "
        f"({len(references)} utterances, {seconds:.1f} s)"
    )
    print(f"model loading:    {loaded - start:.2f} s")
    threads = torch.get_num_threads()
    plural = "s" if threads != 1 else ""
    print(f"transcription:    {wall:.2f} s on {threads} thread{plural}")
    print(f"real-time factor: {wall / seconds:.4f}")
    print(f"peak memory:      {peak_mib():.0f} MiB")
    print(f"characters:       {len(''.join(hypothesis.split()))}")
    print(f"reference chars:  {reference_chars}")
    print(
        f"CER:              {character_error_rate(hypothesis, references):.2f}%"
    )


if __name__ == "__main__":
    main()
