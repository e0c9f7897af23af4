"""Where is the speech? Voice activity detection on 16 kHz waveforms.

A speech detector scores every 32 ms frame (512 samples, silero-vad's
window) of a waveform with a speech probability; ``speech_regions`` turns the
scores into speech regions (hysteresis, short pauses bridged, short blips
dropped). ``speechbrain_mmspeech.inference.segmentation`` cuts long audio there.

 * ``SileroSpeechDetector`` runs the silero-vad model that the ``silero-vad``
   package ships inside itself (TorchScript, no download). Long audio is
   scored as parallel streams of a few seconds, each warmed up on the audio
   before it, so a 5-minute file takes one to two seconds on one CPU core.
 * ``EnergySpeechDetector`` is the fallback when silero-vad is missing: a
   frame is speech when the energy of the differenced waveform rises well
   above the file's own noise floor, so stationary noise (white, brown) at any level
   is never speech.

Both detectors peak-normalise the audio first (as the MMSpeech front end
does), so their decisions do not depend on the recording level, and both
score digital silence as non-speech.

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
import warnings

import torch

from speechbrain_mmspeech.dataio.audio import SAMPLE_RATE, SILENCE_PEAK

logger = logging.getLogger(__name__)

FRAME_SAMPLES = 512  # 32 ms at 16 kHz: the window of silero-vad
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
SILERO = "silero"
ENERGY = "energy"
DETECTORS = (SILERO, ENERGY)
# The speech region rules' defaults (``speech_regions``, ``SpeechSegmenter``).
SPEECH_THRESHOLD = 0.5
MIN_SILENCE_SECONDS = 0.5
MIN_SPEECH_SECONDS = 0.25


def frame_count(n_samples):
    """Number of 32 ms frames covering ``n_samples`` (the last one padded).

    Arguments
    ---------
    n_samples : int
        Length of the waveform.

    Returns
    -------
    int

    Example
    -------
    >>> frame_count(512), frame_count(513)
    (1, 2)
    """
    return -(-n_samples // FRAME_SAMPLES)


def peak_scale(signal):
    """The factor that brings a waveform to a peak of 1 (1 for silence).

    Arguments
    ---------
    signal : torch.Tensor
        ``[time]`` samples.

    Returns
    -------
    float

    Example
    -------
    >>> peak_scale(torch.tensor([0.0, -0.5])), peak_scale(torch.zeros(3))
    (2.0, 1.0)
    """
    peak = float(signal.abs().max()) if signal.numel() else 0.0
    return 1.0 / peak if peak >= SILENCE_PEAK else 1.0


def load_silero_model():
    """Loads the TorchScript silero-vad model shipped in its PyPI package.

    Importing ``silero_vad`` sets torch to one thread; the thread count is
    put back as it was.

    Returns
    -------
    torch.jit.ScriptModule
        The model, on the CPU, in evaluation mode.

    Raises
    ------
    ImportError
        If the ``silero-vad`` package is not installed.
    """
    threads = torch.get_num_threads()
    try:
        from silero_vad import load_silero_vad
    except ImportError as error:
        raise ImportError(
            "silero-vad is not installed (pip install silero-vad); use the "
            f"'{ENERGY}' speech detector instead"
        ) from error
    finally:
        torch.set_num_threads(threads)
    with warnings.catch_warnings():
        # Its loader uses APIs that torch and importlib now call deprecated.
        warnings.simplefilter("ignore", DeprecationWarning)
        return load_silero_vad(onnx=False)


class SileroSpeechDetector:
    """Speech probabilities per 32 ms frame from the silero-vad model.

    The model is recurrent and scores 512 samples per call, so a waveform
    read in one go costs one call per 32 ms. To make fewer calls, the
    waveform is cut into streams that run as one batch: as many streams as
    ``max_streams`` allows, each between ``min_stream_seconds`` and
    ``max_stream_seconds`` long. Each stream first reads the
    ``warmup_seconds`` before it (the first one reads zeros), whose scores
    are dropped; speech regions then fall within a frame or two of those
    of a single pass. The model stays on the CPU whatever device the ASR
    model uses.

    Arguments
    ---------
    min_stream_seconds : float
        Shortest stream (more warm-up than stream would be wasteful).
    max_stream_seconds : float
        Longest stream (bounds the memory to about ``max_streams *
        (max_stream_seconds + warmup_seconds)`` of audio).
    warmup_seconds : float
        Audio read before each stream to set the model's state.
    max_streams : int
        Streams per batch.

    Example
    -------
    >>> detector = SileroSpeechDetector()
    >>> probs = detector(torch.zeros(16000))
    >>> probs.shape, bool(probs.max() < 0.5)
    (torch.Size([32]), True)
    """

    def __init__(
        self,
        min_stream_seconds=1.0,
        max_stream_seconds=10.0,
        warmup_seconds=0.5,
        max_streams=32,
    ):
        self.model = load_silero_model()
        self.min_stream_frames = max(
            1, round(min_stream_seconds / FRAME_SECONDS)
        )
        self.max_stream_frames = max(
            self.min_stream_frames, round(max_stream_seconds / FRAME_SECONDS)
        )
        self.warmup_frames = round(warmup_seconds / FRAME_SECONDS)
        self.max_streams = max_streams

    @torch.no_grad()
    def __call__(self, signal):
        """Scores each frame of a 16 kHz waveform.

        Arguments
        ---------
        signal : torch.Tensor
            ``[time]`` samples (any device).

        Returns
        -------
        torch.Tensor
            ``[frame_count(time)]`` speech probabilities, on the CPU.
        """
        signal = signal.detach().float().cpu()
        n_frames = frame_count(signal.shape[0])
        scale = peak_scale(signal)
        stream = -(-n_frames // self.max_streams)
        stream = max(
            self.min_stream_frames, min(stream, self.max_stream_frames)
        )
        stream = min(stream, n_frames)
        n_streams = -(-n_frames // stream)
        scores = []
        for first in range(0, n_streams, self.max_streams):
            batch = [
                self._stream_input(signal, index, stream, scale)
                for index in range(
                    first, min(first + self.max_streams, n_streams)
                )
            ]
            # TorchScript's optimising executor would recompile the model
            # for every new number of streams (each time slower than the
            # whole run); the plain interpreter is fast and steady.
            with torch.jit.optimized_execution(False):
                probs = self.model.audio_forward(
                    torch.stack(batch), SAMPLE_RATE
                )
            scores.append(probs[:, self.warmup_frames :].reshape(-1))
        return torch.cat(scores)[:n_frames]

    def _stream_input(self, signal, index, stream, scale):
        """Samples of stream ``index`` with its warm-up, zero-padded."""
        start = (index * stream - self.warmup_frames) * FRAME_SAMPLES
        length = (self.warmup_frames + stream) * FRAME_SAMPLES
        piece = signal[max(start, 0) : start + length] * scale
        before = max(-start, 0)
        after = length - before - piece.shape[0]
        return torch.nn.functional.pad(piece, (before, after))


class EnergySpeechDetector:
    """Speech where the energy rises well above the file's noise floor.

    Each 32 ms frame of the differenced (``x[n] - x[n-1]``, which turns
    brown noise into white noise), peak-normalised waveform gets its energy
    in dB. The noise floor is a low percentile of those energies; a frame is
    speech (probability 1) when it is ``margin_db`` above the floor and above
    ``min_level_db``, otherwise 0. Stationary noise keeps its frame energies
    within a few dB of its floor, so it never counts as speech.

    Arguments
    ---------
    margin_db : float
        How far above the noise floor speech must be.
    floor_percentile : float
        Which percentile of the frame energies is the noise floor.
    min_level_db : float
        Frames below this level (dB of the peak-normalised waveform) are
        never speech.

    Example
    -------
    >>> detector = EnergySpeechDetector()
    >>> noise = 0.01 * torch.randn(16000)
    >>> burst = torch.cat([noise, noise + torch.randn(16000).clamp(-1, 1)])
    >>> probs = detector(burst)
    >>> probs[:31].max().item(), probs[33:].min().item()
    (0.0, 1.0)
    """

    def __init__(
        self, margin_db=12.0, floor_percentile=10.0, min_level_db=-50.0
    ):
        self.margin_db = margin_db
        self.floor_percentile = floor_percentile
        self.min_level_db = min_level_db

    @torch.no_grad()
    def __call__(self, signal):
        """Scores each frame of a 16 kHz waveform (see ``SileroSpeechDetector``)."""
        signal = signal.detach().float().cpu()
        n_frames = frame_count(signal.shape[0])
        if signal.abs().max() < SILENCE_PEAK:
            return torch.zeros(n_frames)
        levels = frame_levels_db(signal * peak_scale(signal))
        floor = torch.quantile(levels, self.floor_percentile / 100)
        threshold = max(float(floor) + self.margin_db, self.min_level_db)
        return (levels > threshold).float()


def frame_levels_db(signal, preemphasis=1.0):
    """Energy of each 32 ms frame of the pre-emphasised waveform, in dB.

    The default coefficient, 1, takes a first difference.

    The default coefficient 1 is a first difference.

    Arguments
    ---------
    signal : torch.Tensor
        ``[time]`` samples.
    preemphasis : float
        Coefficient of ``x[n] - c x[n-1]``.

    Returns
    -------
    torch.Tensor
        ``[frame_count(time)]`` levels (at least -200 dB).

    Example
    -------
    >>> frame_levels_db(torch.ones(1024), preemphasis=0.0).tolist()
    [0.0, 0.0]
    """
    emphasised = signal.clone()
    emphasised[1:] -= preemphasis * signal[:-1]
    n_frames = frame_count(signal.shape[0])
    padded = torch.nn.functional.pad(
        emphasised, (0, n_frames * FRAME_SAMPLES - signal.shape[0])
    )
    power = padded.reshape(n_frames, FRAME_SAMPLES).pow(2).mean(dim=1)
    return 10 * torch.log10(power.clamp(min=1e-20))


def make_speech_detector(kind=SILERO):
    """Builds the named speech detector; silero falls back to energy.

    Arguments
    ---------
    kind : str
        ``"silero"`` (``SileroSpeechDetector``; if the ``silero-vad``
        package is missing, a warning and ``EnergySpeechDetector``) or
        ``"energy"``.

    Returns
    -------
    SileroSpeechDetector or EnergySpeechDetector

    Example
    -------
    >>> type(make_speech_detector("energy")).__name__
    'EnergySpeechDetector'
    """
    if kind not in DETECTORS:
        raise ValueError(
            f"Unknown speech detector {kind!r}; choose one of {DETECTORS}"
        )
    if kind == ENERGY:
        return EnergySpeechDetector()
    try:
        return SileroSpeechDetector()
    except ImportError as error:
        logger.warning("%s; falling back to the energy detector", error)
        return EnergySpeechDetector()


def speech_regions(
    probs,
    threshold=SPEECH_THRESHOLD,
    neg_threshold=None,
    min_silence_seconds=MIN_SILENCE_SECONDS,
    min_speech_seconds=MIN_SPEECH_SECONDS,
):
    """Turns frame speech probabilities into speech regions.

    Speech starts at a frame scoring at least ``threshold`` and lasts while
    frames score at least ``neg_threshold`` (hysteresis); pauses shorter than
    ``min_silence_seconds`` are bridged; regions shorter than
    ``min_speech_seconds`` are dropped.

    Arguments
    ---------
    probs : torch.Tensor
        ``[frames]`` probabilities, one per 32 ms frame.
    threshold : float
        Probability that starts speech.
    neg_threshold : float
        Probability below which speech ends (default ``threshold - 0.15``).
    min_silence_seconds : float
        Shorter pauses do not end a region.
    min_speech_seconds : float
        Shorter regions are dropped.

    Returns
    -------
    list of tuple
        ``(first_frame, end_frame)`` pairs, end exclusive, in order.

    Example
    -------
    >>> probs = torch.tensor([0.0] * 20 + [0.9] * 10 + [0.0] * 5 + [0.9] * 10)
    >>> speech_regions(probs)
    [(20, 45)]
    >>> speech_regions(probs, min_silence_seconds=0.1)
    [(20, 30), (35, 45)]
    """
    if neg_threshold is None:
        neg_threshold = threshold - 0.15
    runs, start = [], None
    for index, prob in enumerate(probs.tolist()):
        if start is None and prob >= threshold:
            start = index
        elif start is not None and prob < neg_threshold:
            runs.append((start, index))
            start = None
    if start is not None:
        runs.append((start, len(probs)))
    min_gap = round(min_silence_seconds / FRAME_SECONDS)
    merged = []
    for run in runs:
        if merged and run[0] - merged[-1][1] < min_gap:
            merged[-1] = (merged[-1][0], run[1])
        else:
            merged.append(run)
    min_length = round(min_speech_seconds / FRAME_SECONDS)
    return [(first, end) for first, end in merged if end - first >= min_length]
