"""Generated audio shared by the tests: speech, long recordings, noise.

Speech is synthesised by espeak-ng from tone-numbered pinyin
(``cmn-latn-pinyin`` voice, as the mini-AISHELL generator does), resampled
to 16 kHz and trimmed to its first and last audible sample, so that where
speech starts and ends in a recording built from it is known to the sample.
Utterances are cached: each distinct text is synthesised once per session.

Like ``tiny_models``, it is imported by name (pytest puts ``tests/`` on
``sys.path``) and holds no tests.

Authors
 * MMSpeech plugin contributors 2026
"""

import functools
import io
import shutil
import subprocess
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
import soundfile
import torch
import torchaudio

from speechbrain_mmspeech.dataio.audio import SAMPLE_RATE

AUDIBLE = 1e-3  # |x| above this counts as sound when trimming
PHRASES = [
    "jin1 tian1 tian1 qi4 hen3 hao3",
    "wo3 men5 qu4 gong1 yuan2 wan2",
    "ni3 hao3 shi4 jie4",
    "zhe4 shi4 yi1 ge4 ce4 shi4 ju4 zi5",
    "da4 jia1 hao3 huan1 ying2 guang1 lin2",
    "ming2 tian1 xia4 yu3 ma5",
]


def espeak_path():
    """The espeak-ng executable; raises with the install command if absent."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise RuntimeError(
            "espeak-ng was not found; install it with `bash install.sh` "
            "(apt-get install espeak-ng)"
        )
    return path


@functools.cache
def _speak(pinyin, speed):
    result = subprocess.run(
        [espeak_path(), "-v", "cmn-latn-pinyin", "-s", str(speed), "--stdout"],
        input=pinyin.encode(),
        capture_output=True,
        check=True,
    )
    data, rate = soundfile.read(io.BytesIO(result.stdout), dtype="float32")
    wav = torchaudio.functional.resample(torch.from_numpy(data), rate, 16000)
    audible = (wav.abs() > AUDIBLE).nonzero().flatten()
    return wav[int(audible[0]) : int(audible[-1]) + 1]


def speak(pinyin, speed=175):
    """One utterance: 16 kHz speech, trimmed to its audible part.

    Arguments
    ---------
    pinyin : str
        Space-separated tone-numbered syllables (``"ni3 hao3"``).
    speed : int
        espeak-ng words (syllables) per minute.

    Returns
    -------
    torch.Tensor
        ``[time]`` samples (a copy: the cache is not shared).
    """
    return _speak(pinyin, speed).clone()


@dataclass
class Recording:
    """A generated recording and where its utterances are.

    Arguments
    ---------
    audio : torch.Tensor
        ``[time]`` 16 kHz samples.
    utterances : list of tuple
        ``(start, end)`` of each utterance in seconds, in order.
    """

    audio: torch.Tensor
    utterances: List[Tuple[float, float]]


def recording(n_utterances, pause_range=(1.0, 3.0), seed=0, levels=(0.2, 1.0)):
    """Utterances of ``PHRASES`` separated by pauses of digital silence.

    Arguments
    ---------
    n_utterances : int
        How many utterances.
    pause_range : tuple
        Shortest and longest pause in seconds (one before each utterance,
        and one at the end).
    seed : int
        Seed of the pauses and levels.
    levels : tuple
        Range of the utterances' peak levels.

    Returns
    -------
    Recording
    """
    rng = np.random.default_rng(seed)
    pieces, utterances, position = [], [], 0
    for index in range(n_utterances):
        pause = round(rng.uniform(*pause_range) * SAMPLE_RATE)
        speech = speak(PHRASES[index % len(PHRASES)])
        speech = speech / speech.abs().max() * rng.uniform(*levels)
        pieces += [torch.zeros(pause), speech]
        position += pause
        utterances.append(
            (position / SAMPLE_RATE, (position + len(speech)) / SAMPLE_RATE)
        )
        position += len(speech)
    pieces.append(torch.zeros(round(pause_range[1] * SAMPLE_RATE)))
    return Recording(torch.cat(pieces), utterances)


def speech_batch(
    phrases=(PHRASES[2], PHRASES[0]), pause_seconds=0.3, level=0.5
):
    """Utterances with silence around them, as a zero-padded batch.

    Arguments
    ---------
    phrases : sequence of str
        One tone-numbered pinyin text per waveform (by default two of
        different lengths, the shorter first, so that it is padded).
    pause_seconds : float
        Silence before and after each utterance.
    level : float
        Peak level of the speech.

    Returns
    -------
    wavs : torch.Tensor
        ``[batch, longest]`` 16 kHz samples.
    wav_lens : torch.Tensor
        ``[batch]`` relative lengths.
    """
    pause = torch.zeros(round(pause_seconds * SAMPLE_RATE))
    signals = []
    for phrase in phrases:
        speech = speak(phrase)
        signals.append(
            torch.cat([pause, speech / speech.abs().max() * level, pause])
        )
    longest = max(len(signal) for signal in signals)
    wavs = torch.zeros(len(signals), longest)
    for row, signal in enumerate(signals):
        wavs[row, : len(signal)] = signal
    lens = torch.tensor([len(signal) / longest for signal in signals])
    return wavs, lens


def white_noise(seconds, level, seed=0):
    """Gaussian white noise with peak ``level``."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(round(seconds * SAMPLE_RATE), generator=generator)
    return noise / noise.abs().max() * level


def brown_noise(seconds, level, seed=0):
    """Brown (random-walk, 1/f^2) noise with peak ``level``."""
    walk = torch.cumsum(white_noise(seconds, 1.0, seed).double(), dim=0)
    walk = walk - walk.mean()
    return (walk / walk.abs().max() * level).float()


def write_wav(path, audio, sample_rate=SAMPLE_RATE):
    """Writes 16-bit PCM; returns the path as a string."""
    soundfile.write(str(path), np.asarray(audio), sample_rate, subtype="PCM_16")
    return str(path)
