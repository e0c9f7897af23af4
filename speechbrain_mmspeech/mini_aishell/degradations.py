"""Degraded copies of the mini-AISHELL test and dev: telephone band, clipping.

Each function takes a rendered utterance (int16 samples at 16 kHz) and
returns the degraded samples and their sampling rate:

1. ``telephone``: the telephone band, 300 to 3,400 Hz, stored at 8 kHz
   (a loader resamples it to 16 kHz, as it would a telephone recording);
2. ``clipped``: the speech driven ``CLIP_OVERDRIVE_DB`` above full scale,
   then hard-clipped, as an over-driven microphone input.

Authors
 * MMSpeech plugin contributors 2026
"""

import numpy as np
import torch
import torchaudio.functional as AF

from speechbrain_mmspeech.mini_aishell.layout import (
    CLIPPED_TEST,
    DEV_CLIPPED,
    DEV_TELEPHONE,
    TARGET_SAMPLE_RATE,
    TELEPHONE_TEST,
)

TELEPHONE_SAMPLE_RATE = 8000
TELEPHONE_LOW_HZ = 300.0
CLIP_OVERDRIVE_DB = 10.0
INT16_MAX = 32767


def telephone(pcm, sample_rate=TARGET_SAMPLE_RATE):
    """The telephone band of ``pcm`` at 8 kHz.

    A 4th-order high-pass at ``TELEPHONE_LOW_HZ`` (two biquads), then
    resampling to 8 kHz (whose
    anti-aliasing filter keeps what lies below 4 kHz).

    Arguments
    ---------
    pcm : numpy.ndarray
        int16 samples.
    sample_rate : int
        Their rate.

    Returns
    -------
    pcm : numpy.ndarray
        int16 samples at 8 kHz.
    sample_rate : int
        8000.

    Example
    -------
    >>> t = np.arange(16000) / 16000
    >>> tones = 8000 * (
    ...     np.sin(2 * np.pi * 100 * t) + np.sin(2 * np.pi * 1000 * t)
    ... )
    >>> narrow, rate = telephone(tones.astype(np.int16))
    >>> rate, len(narrow)
    (8000, 8000)
    >>> spectrum = np.abs(np.fft.rfft(narrow))  # 1 Hz bins
    >>> bool(spectrum[1000] > 10 * spectrum[100])  # 100 Hz is cut
    True
    """
    wave = torch.from_numpy(pcm.astype(np.float32) / INT16_MAX)
    for _ in range(2):
        wave = AF.highpass_biquad(wave, sample_rate, TELEPHONE_LOW_HZ)
    wave = AF.resample(wave, sample_rate, TELEPHONE_SAMPLE_RATE)
    samples = np.clip(wave.numpy() * INT16_MAX, -INT16_MAX, INT16_MAX)
    return samples.astype(np.int16), TELEPHONE_SAMPLE_RATE


def clipped(pcm, sample_rate=TARGET_SAMPLE_RATE):
    """``pcm`` driven ``CLIP_OVERDRIVE_DB`` over full scale and clipped.

    Arguments
    ---------
    pcm : numpy.ndarray
        The int16 samples to clip.
    sample_rate : int
        Their rate (kept).

    Returns
    -------
    pcm : numpy.ndarray
        int16 samples.
    sample_rate : int
        ``sample_rate``.

    Example
    -------
    >>> pcm = np.array([0, 1000, -2000, 200], dtype=np.int16)
    >>> out, rate = clipped(pcm)  # the peak goes to 3.16 x full scale
    >>> out.tolist()
    [0, 32767, -32767, 10362]
    """
    peak = max(int(np.abs(pcm.astype(np.int32)).max()), 1)
    gain = INT16_MAX / peak * 10 ** (CLIP_OVERDRIVE_DB / 20)
    samples = np.clip(pcm.astype(np.float64) * gain, -INT16_MAX, INT16_MAX)
    return np.round(samples).astype(np.int16), sample_rate


# Extra test name -> (the split whose utterances it degrades, degradation).
DEGRADATIONS = {
    TELEPHONE_TEST: ("test", telephone),
    CLIPPED_TEST: ("test", clipped),
    DEV_TELEPHONE: ("dev", telephone),
    DEV_CLIPPED: ("dev", clipped),
}
