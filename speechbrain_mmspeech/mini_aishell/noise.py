"""Noise of mini-AISHELL: coloured Gaussian noise added at a given SNR.

Authors
 * MMSpeech plugin contributors 2026
"""

import numpy as np


def coloured_noise(n_samples, slope, rng):
    """Gaussian noise with a power spectrum falling as ``1 / f**slope``.

    Arguments
    ---------
    n_samples : int
        Length.
    slope : float
        0 for white, 1 for pink, 2 for brown noise.
    rng : numpy.random.Generator
        Random generator.

    Returns
    -------
    numpy.ndarray
        Float32 noise with unit power.

    Example
    -------
    >>> n = coloured_noise(16000, 1.0, np.random.default_rng(0))
    >>> round(float(np.mean(n**2)), 3)
    1.0
    """
    n_fft = 1 << max(0, n_samples - 1).bit_length()  # fast FFT length
    spectrum = np.fft.rfft(rng.standard_normal(n_fft))
    freqs = np.arange(1, len(spectrum) + 1, dtype=np.float64)
    noise = np.fft.irfft(spectrum / freqs ** (slope / 2), n=n_fft)[:n_samples]
    return (noise / np.sqrt(np.mean(noise**2) + 1e-12)).astype(np.float32)


def add_noise(wave, snr_db, slope, rng):
    """Adds coloured noise at a given signal-to-noise ratio.

    The signal power is measured over the whole (trimmed) utterance.

    Arguments
    ---------
    wave : numpy.ndarray
        Mono float32 samples.
    snr_db : float
        Signal-to-noise ratio in dB.
    slope : float
        Spectral slope of the noise (see ``coloured_noise``).
    rng : numpy.random.Generator
        Random generator.

    Returns
    -------
    numpy.ndarray
        Noisy samples.

    Example
    -------
    >>> x = np.ones(1000, dtype="float32")
    >>> y = add_noise(x, 20.0, 0.0, np.random.default_rng(0))
    >>> round(float(np.mean((y - x) ** 2)), 3)
    0.01
    """
    signal_power = float(np.mean(wave**2))
    noise_power = signal_power / 10 ** (snr_db / 10)
    noise = coloured_noise(len(wave), slope, rng)
    return wave + np.sqrt(noise_power).astype(np.float32) * noise
