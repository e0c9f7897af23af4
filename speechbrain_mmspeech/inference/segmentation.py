"""Cutting long audio into segments the model can decode.

MMSpeech decodes at most its learned number of positions per utterance and
was trained on utterances of a few seconds (the official limit is 20 s), so
long audio is decoded segment by segment:

1. a speech detector (``speechbrain_mmspeech.inference.vad``) finds the speech
   regions; audio without any (silence, noise) has no segment at all;
2. audio no longer than ``max_segment_seconds`` that has speech is one
   segment, the whole file, exactly as it was decoded before segmentation
   existed;
3. longer audio gets one segment per speech region, widened by
   ``padding_seconds`` on each side (never past the middle of the pause to
   its neighbour), and a segment longer than ``max_segment_seconds`` is cut
   at its quietest 32 ms window between half and all of the maximum length.

``SpeechSegmenter`` does this for a padded batch. In a model folder's
``hyperparams.yaml`` it is the ``encoder`` module, so that the stock
``EncoderDecoderASR.transcribe_batch`` hands the segments to the
``decoder`` module (``speechbrain_mmspeech.inference.segment_decoding.SegmentTranscriber``).

Authors
 * MMSpeech plugin contributors 2026
"""

from dataclasses import dataclass
from typing import List, Tuple

import torch

from speechbrain_mmspeech.inference.vad import (
    DETECTORS,
    FRAME_SAMPLES,
    MIN_SILENCE_SECONDS,
    MIN_SPEECH_SECONDS,
    SAMPLE_RATE,
    SILENCE_PEAK,
    SILERO,
    SPEECH_THRESHOLD,
    make_speech_detector,
    speech_regions,
)

QUIET_SEARCH_HOP = 128  # 8 ms between the windows searched for a cut


@dataclass
class SegmentedBatch:
    """Waveforms and the segments to decode in each.

    Arguments
    ---------
    signals : list of torch.Tensor
        ``[time]`` 16 kHz waveforms, without padding.
    segments : list of list of tuple
        For each waveform, ``(start, end)`` sample indices, end exclusive,
        in order and not overlapping.
    sample_rate : int
        Sampling rate of the waveforms.
    """

    signals: List[torch.Tensor]
    segments: List[List[Tuple[int, int]]]
    sample_rate: int = SAMPLE_RATE

    def __len__(self):
        return len(self.signals)


def unpad(wavs, wav_lens):
    """Splits a padded batch into its waveforms.

    Arguments
    ---------
    wavs : torch.Tensor
        ``[batch, time]``.
    wav_lens : torch.Tensor
        ``[batch]`` relative lengths.

    Returns
    -------
    list of torch.Tensor

    Example
    -------
    >>> [w.shape[0] for w in unpad(torch.zeros(2, 10), torch.tensor([1, 0.3]))]
    [10, 3]
    """
    n_samples = torch.round(wav_lens.float() * wavs.shape[1]).long().tolist()
    return [wav[:length] for wav, length in zip(wavs, n_samples)]


def quietest_point(signal, low, high):
    """The middle of the quietest 32 ms window of ``signal[low:high]``.

    Windows start every 8 ms.

    Arguments
    ---------
    signal : torch.Tensor
        ``[time]`` samples.
    low : int
        First sample to consider.
    high : int
        End of the range (exclusive).

    Returns
    -------
    int
        A sample index in ``[low, high)``.

    Example
    -------
    >>> signal = torch.ones(4096)
    >>> signal[2048:2560] = 0.0
    >>> quietest_point(signal, 1024, 4096)
    2304
    """
    piece = signal[low:high].float()
    if piece.shape[0] < FRAME_SAMPLES:
        return (low + high) // 2
    frames = piece.unfold(0, FRAME_SAMPLES, QUIET_SEARCH_HOP)
    quietest = int(torch.argmin(frames.pow(2).mean(dim=1)))
    return low + quietest * QUIET_SEARCH_HOP + FRAME_SAMPLES // 2


def split_long_span(signal, start, end, max_samples):
    """Cuts ``[start, end)`` into pieces of at most ``max_samples``.

    Each cut is the quietest point between half and all of the maximum
    length from the previous cut, leaving at least a quarter of the
    maximum for the rest.

    Arguments
    ---------
    signal : torch.Tensor
        ``[time]`` samples.
    start : int
        First sample of the span.
    end : int
        End of the span (exclusive).
    max_samples : int
        Longest piece.

    Returns
    -------
    list of tuple
        ``(start, end)`` pieces that tile the span.

    Example
    -------
    >>> signal = torch.ones(16000)
    >>> signal[9000:10000] = 0.0
    >>> split_long_span(signal, 0, 16000, 10000)
    [(0, 9352), (9352, 16000)]
    """
    pieces = []
    while end - start > max_samples:
        low = start + max_samples // 2
        high = min(start + max_samples, end - max_samples // 4)
        cut = quietest_point(signal, low, high)
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


class SpeechSegmenter(torch.nn.Module):
    """Finds the speech in waveforms and cuts it into decodable segments.

    See the module docstring for the rules.

    Arguments
    ---------
    detector : str or callable
        ``"silero"`` or ``"energy"`` (``vad.make_speech_detector``, called
        when the first waveform is segmented), or any callable mapping a
        ``[time]`` waveform to one speech probability per 32 ms frame.
    max_segment_seconds : float
        Longest segment; also the longest audio decoded whole.
    padding_seconds : float
        Audio kept before and after each speech region.
    min_silence_seconds, min_speech_seconds, threshold : float
        The speech region rules, as in
        :func:`~speechbrain_mmspeech.inference.vad.speech_regions`.

    Example
    -------
    >>> segmenter = SpeechSegmenter("energy", max_segment_seconds=2.0)
    >>> speech = torch.randn(8192).clamp(-1, 1)
    >>> audio = torch.cat([torch.zeros(16384), speech, torch.zeros(16384)])
    >>> segmenter.segment(audio)  # long audio: the speech, padded by 0.1 s
    [(14784, 26688)]
    >>> segmenter.segment(audio[8000:32000])  # short audio: all of it
    [(0, 24000)]
    >>> segmenter.segment(torch.zeros(64000))
    []
    """

    def __init__(
        self,
        detector=SILERO,
        max_segment_seconds=20.0,
        padding_seconds=0.1,
        min_silence_seconds=MIN_SILENCE_SECONDS,
        min_speech_seconds=MIN_SPEECH_SECONDS,
        threshold=SPEECH_THRESHOLD,
    ):
        super().__init__()
        self.detector = detector
        self.max_segment_seconds = max_segment_seconds
        self.padding_seconds = padding_seconds
        self.min_silence_seconds = min_silence_seconds
        self.min_speech_seconds = min_speech_seconds
        self.threshold = threshold

    @property
    def detector(self):
        """The speech detector (a named one is built on first use)."""
        if isinstance(self._detector, str):
            self._detector = make_speech_detector(self._detector)
        return self._detector

    @detector.setter
    def detector(self, detector):
        if isinstance(detector, str) and detector not in DETECTORS:
            raise ValueError(
                f"Unknown speech detector {detector!r}; choose one of "
                f"{DETECTORS}"
            )
        self._detector = detector

    def segment(self, signal, sample_rate=SAMPLE_RATE):
        """Segments of one waveform.

        Arguments
        ---------
        signal : torch.Tensor
            ``[time]`` samples at 16 kHz.
        sample_rate : int
            Must be 16000 (the detectors' rate).

        Returns
        -------
        list of tuple
            ``(start, end)`` sample indices, in order; empty when the
            waveform has no speech.
        """
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"Segmentation needs {SAMPLE_RATE} Hz audio")
        n_samples = signal.shape[0]
        if n_samples == 0 or signal.abs().max() < SILENCE_PEAK:
            return []
        regions = speech_regions(
            self.detector(signal),
            threshold=self.threshold,
            min_silence_seconds=self.min_silence_seconds,
            min_speech_seconds=self.min_speech_seconds,
        )
        if not regions:
            return []
        max_samples = round(self.max_segment_seconds * sample_rate)
        if n_samples <= max_samples:
            return [(0, n_samples)]
        pad = round(self.padding_seconds * sample_rate)
        bounds = [
            (first * FRAME_SAMPLES, min(end * FRAME_SAMPLES, n_samples))
            for first, end in regions
        ]
        segments = []
        for index, (start, end) in enumerate(bounds):
            lowest = 0 if index == 0 else (bounds[index - 1][1] + start) // 2
            last = index == len(bounds) - 1
            highest = n_samples if last else (end + bounds[index + 1][0]) // 2
            start, end = max(start - pad, lowest), min(end + pad, highest)
            segments.extend(split_long_span(signal, start, end, max_samples))
        return segments

    @torch.no_grad()
    def forward(self, wavs, wav_lens=None):
        """Segments a padded batch.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, time]`` 16 kHz waveforms.
        wav_lens : torch.Tensor
            ``[batch]`` relative lengths (default: all full).

        Returns
        -------
        SegmentedBatch
        """
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0])
        signals = unpad(wavs, wav_lens)
        return SegmentedBatch(signals, [self.segment(s) for s in signals])
