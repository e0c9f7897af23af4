"""Speech synthesis of mini-AISHELL: pinyin read by espeak-ng, made AISHELL-like.

espeak-ng's ``cmn-latn-pinyin`` voice reads tone-numbered pinyin (Chinese
characters are never given to espeak). A rendered utterance is trimmed to
exact silent margins, resampled to 16 kHz, given coloured noise at its SNR
and scaled to its peak level as 16-bit PCM.

Authors
 * MMSpeech plugin contributors 2026
"""

import io
import re
import shutil
import subprocess

import numpy as np
import soundfile as sf
import torch
import torchaudio

from speechbrain_mmspeech.mini_aishell.layout import TARGET_SAMPLE_RATE
from speechbrain_mmspeech.mini_aishell.noise import add_noise

ESPEAK = "espeak-ng"
ESPEAK_VOICE = "cmn-latn-pinyin"
ESPEAK_INSTALL_HINT = (
    "espeak-ng was not found. Install it with the project's install command: "
    "`apt-get install espeak-ng`."
)
ESPEAK_TONE_DIGITS = re.compile(r"[1-5]")
CLAUSE_SEPARATOR = " , "
ESPEAK_FOREIGN_MARK = "("  # e.g. "(en)": the word was read as another language
PINYIN_SYLLABLE = re.compile(r"^[a-z]+[1-5]$")
SILENCE_THRESHOLD = 1e-3  # |x| below this (after espeak) counts as silence


def _run(command):
    """Runs a command (no shell) and returns the completed process.

    Arguments
    ---------
    command : list of str
        The command and its arguments.

    Returns
    -------
    subprocess.CompletedProcess
        With ``stdout`` as bytes.

    Example
    -------
    >>> _run(["true"]).returncode
    0
    """
    try:
        return subprocess.run(command, capture_output=True, check=True)
    except FileNotFoundError as err:
        raise RuntimeError(ESPEAK_INSTALL_HINT) from err
    except subprocess.CalledProcessError as err:
        raise RuntimeError(
            f"{command[0]} failed: {err.stderr.decode(errors='replace')}"
        ) from err


def check_espeak():
    """Checks that espeak-ng and its pinyin voice are installed.

    Raises
    ------
    RuntimeError
        If espeak-ng is missing or does not read pinyin.

    Example
    -------
    >>> check_espeak()
    """
    if shutil.which(ESPEAK) is None:
        raise RuntimeError(ESPEAK_INSTALL_HINT)
    phonemes = espeak_phonemes(["ni3"])[0]
    if not ESPEAK_TONE_DIGITS.search(phonemes):
        raise RuntimeError(
            f"espeak-ng does not read pinyin with voice {ESPEAK_VOICE!r} "
            f"(got {phonemes!r}); reinstall espeak-ng (`apt-get install "
            "espeak-ng`)."
        )


def espeak_phonemes(syllables):
    """espeak-ng's phoneme transcription of each syllable, read alone.

    Arguments
    ---------
    syllables : list of str
        Pinyin syllables.

    Returns
    -------
    list of str
        One phoneme string per syllable, e.g. ``"n'i214_|"``.

    Example
    -------
    >>> espeak_phonemes(["lv4", "lu4"])
    ["l'y51_|", "l'u51_|"]
    """
    if not syllables:
        return []
    command = [ESPEAK, "-q", "-x", "-v", ESPEAK_VOICE]
    # Commas make each syllable a clause of its own (no tone sandhi across
    # them), and espeak prints one line per clause.
    result = _run(command + [CLAUSE_SEPARATOR.join(syllables)])
    lines = result.stdout.decode("utf-8").splitlines()
    if len(lines) != len(syllables):  # fall back to one call per syllable
        lines = [_run(command + [s]).stdout.decode("utf-8") for s in syllables]
    return [line.strip() for line in lines]


def readable_syllables(syllables):
    """The syllables espeak-ng reads as toned Mandarin pinyin.

    A syllable is rejected if it is not ``letters + tone digit``, if espeak
    switches to another language for it (e.g. ``(en)``), or if its phonemes
    carry no tone (espeak reads the interjection ``n2`` as a bare ``n``).

    Arguments
    ---------
    syllables : iterable of str
        Candidate syllables.

    Returns
    -------
    set of str
        The accepted syllables.

    Example
    -------
    >>> sorted(readable_syllables(["ni3", "n2", "xyz3", "ma"]))
    ['ni3']
    """
    candidates = sorted({s for s in syllables if PINYIN_SYLLABLE.match(s)})
    phonemes = espeak_phonemes(candidates)
    return {
        syl
        for syl, ph in zip(candidates, phonemes)
        if ESPEAK_TONE_DIGITS.search(ph) and ESPEAK_FOREIGN_MARK not in ph
    }


def synthesize_pinyin(pinyin, variant, speed, pitch):
    """Synthesises tone-numbered pinyin with espeak-ng.

    Arguments
    ---------
    pinyin : str
        Space-separated syllables such as ``"ni3 hao3"`` (never Hanzi).
    variant : str
        espeak-ng voice variant.
    speed : int
        espeak ``-s``.
    pitch : int
        espeak ``-p``.

    Returns
    -------
    waveform : numpy.ndarray
        Mono float32 samples.
    sample_rate : int
        espeak's sample rate (22050 Hz).

    Example
    -------
    >>> wave, sr = synthesize_pinyin("ni3 hao3", "m1", 180, 50)
    >>> sr, wave.ndim
    (22050, 1)
    """
    voice = f"{ESPEAK_VOICE}+{variant}"
    command = [ESPEAK, "-v", voice, "-s", str(speed), "-p", str(pitch)]
    result = _run(command + ["--stdout", pinyin])
    wave, sample_rate = sf.read(io.BytesIO(result.stdout), dtype="float32")
    return wave, sample_rate


def set_silence_margins(wave, sample_rate, margins_s):
    """Cuts leading and trailing silence and pads exact silent margins.

    Arguments
    ---------
    wave : numpy.ndarray
        Mono samples.
    sample_rate : int
        Sample rate of ``wave``.
    margins_s : tuple of float
        Silence before and after the speech, in seconds.

    Returns
    -------
    numpy.ndarray
        The speech between the two margins (unchanged if all silent).

    Example
    -------
    >>> x = np.zeros(100, dtype="float32")
    >>> x[40:60] = 0.5
    >>> y = set_silence_margins(x, 100, (0.1, 0.05))
    >>> len(y), float(y[10])
    (35, 0.5)
    """
    active = np.flatnonzero(np.abs(wave) > SILENCE_THRESHOLD)
    if active.size == 0:
        return wave
    lead, trail = (
        np.zeros(int(m * sample_rate), wave.dtype) for m in margins_s
    )
    return np.concatenate([lead, wave[active[0] : active[-1] + 1], trail])


def resample(wave, orig_rate, new_rate=TARGET_SAMPLE_RATE):
    """Resamples mono samples with torchaudio's windowed sinc.

    Arguments
    ---------
    wave : numpy.ndarray
        Mono float32 samples.
    orig_rate : int
        Input sample rate.
    new_rate : int
        Output sample rate.

    Returns
    -------
    numpy.ndarray
        Float32 samples at ``new_rate``.

    Example
    -------
    >>> resample(np.zeros(22050, dtype="float32"), 22050).shape
    (16000,)
    """
    if orig_rate == new_rate:
        return wave
    with torch.no_grad():
        out = torchaudio.functional.resample(
            torch.from_numpy(np.ascontiguousarray(wave)), orig_rate, new_rate
        )
    return out.numpy()


def to_pcm16(wave, peak_dbfs):
    """Scales to a peak level and converts to 16-bit integers.

    Arguments
    ---------
    wave : numpy.ndarray
        Float samples.
    peak_dbfs : float
        Peak level of the output in dB full scale (<= 0).

    Returns
    -------
    numpy.ndarray
        int16 samples.

    Example
    -------
    >>> to_pcm16(np.array([0.5, -0.25]), 0.0)
    array([ 32767, -16384], dtype=int16)
    """
    peak = float(np.max(np.abs(wave))) or 1.0
    scaled = wave * (10 ** (peak_dbfs / 20) / peak)
    int16_max = np.iinfo(np.int16).max
    return np.round(np.clip(scaled, -1.0, 1.0) * int16_max).astype(np.int16)


def render_utterance(job):
    """Renders one job: synthesis, trimming, resampling, noise and gain.

    Arguments
    ---------
    job : UtteranceJob
        What to render.

    Returns
    -------
    numpy.ndarray
        16 kHz mono int16 samples.

    Example
    -------
    >>> from speechbrain_mmspeech.mini_aishell.speakers import (
    ...     SpeakerStyle,
    ...     UtteranceJob,
    ... )
    >>> voice = SpeakerStyle("m1", 180, 50)
    >>> job = UtteranceJob(
    ...     "U1", "ni3 hao3", voice, (0.1, 0.1), 30.0, 1.0, -3.0, 0
    ... )
    >>> pcm = render_utterance(job)
    >>> pcm.dtype, 0.5 < len(pcm) / 16000 < 2.0
    (dtype('int16'), True)
    """
    voice = job.voice
    wave, rate = synthesize_pinyin(
        job.pinyin, voice.variant, voice.speed, voice.pitch
    )
    wave = resample(set_silence_margins(wave, rate, job.margins_s), rate)
    rng = np.random.default_rng(job.noise_seed)
    wave = add_noise(wave, job.snr_db, job.noise_slope, rng)
    return to_pcm16(wave, job.peak_dbfs)
