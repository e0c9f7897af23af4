"""Audio in: loading any file as 16 kHz mono, checked, and its duration.

``SAMPLE_RATE`` (16 kHz, what every MMSpeech model takes) and
``SILENCE_PEAK`` (the peak below which audio counts as digital silence) are
defined here, once. Bad audio is reported, not passed on: ``load_audio``
names the file and the problem (missing, unreadable, empty, NaN samples, too
short), and ``ValidatingAudioNormalizer`` applies the same checks inside
SpeechBrain's ``Pretrained.load_audio``. ``audio_duration`` reads a file's
duration from its header, as the data preparations list corpora.

Authors
 * MMSpeech plugin contributors 2026
"""

import os

import soundfile as sf
import torch
from speechbrain.dataio import audio_io
from speechbrain.dataio.preprocess import AudioNormalizer

SAMPLE_RATE = 16000
# Kaldi fbank needs one 25 ms window; the subsampler needs 7 frames (85 ms).
MIN_DURATION_SECONDS = 0.1
# Peaks below this (about -80 dBFS) are treated as digital silence.
SILENCE_PEAK = 1e-4


class AudioError(ValueError):
    """Audio that cannot be used, with the file and the problem named."""


def check_samples(audio, source="audio"):
    """Raises if the audio has no samples or non-finite ones.

    Arguments
    ---------
    audio : torch.Tensor
        Samples, any shape.
    source : str
        What to call it in error messages (usually the file path).

    Example
    -------
    >>> check_samples(torch.tensor([0.0, float("nan")]), "a.wav")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.dataio.audio.AudioError: a.wav: the audio contains NaN or infinite samples
    """
    if audio.numel() == 0:
        raise AudioError(f"{source}: the audio is empty (0 samples)")
    if not torch.isfinite(audio).all():
        raise AudioError(
            f"{source}: the audio contains NaN or infinite samples"
        )


def check_waveform(signal, sample_rate, source="audio"):
    """Checks that a mono waveform can be transcribed; raises if not.

    Arguments
    ---------
    signal : torch.Tensor
        ``[time]`` samples.
    sample_rate : int
        Its sampling rate.
    source : str
        What to call it in error messages (usually the file path).

    Returns
    -------
    torch.Tensor
        The same signal.

    Example
    -------
    >>> check_waveform(torch.zeros(0), 16000, "a.wav")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.dataio.audio.AudioError: a.wav: the audio is empty (0 samples)
    """
    check_samples(signal, source)
    duration = signal.shape[0] / sample_rate
    if duration < MIN_DURATION_SECONDS:
        raise AudioError(
            f"{source}: the audio is too short ({duration:.3f} s; at least "
            f"{MIN_DURATION_SECONDS} s are needed)"
        )
    return signal


def is_silent(signal):
    """True when the waveform is digital silence (peak below ~-80 dBFS).

    Arguments
    ---------
    signal : torch.Tensor
        Samples in [-1, 1].

    Returns
    -------
    bool

    Example
    -------
    >>> is_silent(torch.zeros(100)), is_silent(torch.ones(100))
    (True, False)
    """
    return bool(signal.abs().max() < SILENCE_PEAK)


class ValidatingAudioNormalizer(AudioNormalizer):
    """SpeechBrain's ``AudioNormalizer`` (resample, down-mix) plus checks.

    Put it under the ``audio_normalizer`` key of an inference YAML so that
    ``EncoderDecoderASR.load_audio`` rejects empty, NaN or too-short audio
    with a clear message.

    Arguments
    ---------
    sample_rate : int
        Target sampling rate.
    mix : str
        Channel handling, as in ``AudioNormalizer``.

    Example
    -------
    >>> normalizer = ValidatingAudioNormalizer()
    >>> normalizer(torch.rand(8000, 2), 8000).shape
    torch.Size([16000])
    """

    def __init__(self, sample_rate=SAMPLE_RATE, mix="avg-to-mono"):
        super().__init__(sample_rate, mix)

    def __call__(self, audio, sample_rate, source="audio"):
        """Resamples, down-mixes and checks.

        Arguments
        ---------
        audio : torch.Tensor
            ``[time]`` or ``[time, channels]``.
        sample_rate : int
            Its sampling rate.
        source : str
            What to call it in error messages.

        Returns
        -------
        torch.Tensor
            ``[time]`` at ``self.sample_rate``.
        """
        check_samples(audio, source)
        signal = super().__call__(audio, sample_rate)
        return check_waveform(signal, self.sample_rate, source)


def load_audio(path, sample_rate=SAMPLE_RATE, normalizer=None):
    """Reads an audio file as checked mono audio at ``sample_rate``.

    Arguments
    ---------
    path : str
        The audio file.
    sample_rate : int
        Target sampling rate (ignored when ``normalizer`` is given).
    normalizer : ValidatingAudioNormalizer
        Optional normalizer to reuse (it caches resamplers).

    Returns
    -------
    torch.Tensor
        ``[time]`` float samples.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    AudioError
        If the file cannot be decoded or its content is unusable.

    Example
    -------
    >>> load_audio("missing.wav")
    Traceback (most recent call last):
    ...
    FileNotFoundError: missing.wav: no such audio file
    """
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such audio file")
    try:
        signal, file_rate = audio_io.load(path, channels_first=False)
    except Exception as error:
        raise AudioError(f"{path}: cannot be read as audio ({error})") from None
    if normalizer is None:
        normalizer = ValidatingAudioNormalizer(sample_rate)
    return normalizer(signal, file_rate, source=path)


def audio_duration(path):
    """Duration of an audio file in seconds, from its header.

    Arguments
    ---------
    path : str or pathlib.Path
        Audio file.

    Returns
    -------
    float or None
        The duration, or None if the file is unreadable or empty.

    Example
    -------
    >>> p = getfixture("tmp_path") / "bad.wav"
    >>> _ = p.write_bytes(b"not a wav")
    >>> audio_duration(p) is None
    True
    """
    try:
        info = sf.info(str(path))
    except RuntimeError:  # soundfile.LibsndfileError derives from it
        return None
    if info.frames <= 0 or info.samplerate <= 0:
        return None
    return info.frames / info.samplerate
