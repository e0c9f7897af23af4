"""Tests for speechbrain_mmspeech.inference.segmentation: cutting long audio."""

import pytest
import torch

from speech_audio import SAMPLE_RATE, recording, speak, white_noise
from speechbrain_mmspeech.inference.segmentation import SpeechSegmenter

FIVE_MINUTES = 300.0


@pytest.fixture(scope="module")
def five_minutes():
    rec = recording(85, pause_range=(1.0, 3.0), seed=3)
    assert rec.audio.shape[0] / SAMPLE_RATE >= FIVE_MINUTES
    return rec


def test_five_minute_recording_gives_one_segment_per_utterance(five_minutes):
    segments = SpeechSegmenter().segment(five_minutes.audio)
    assert len(segments) == len(five_minutes.utterances)
    for (start, end), (true_start, true_end) in zip(
        segments, five_minutes.utterances
    ):
        assert abs(start / SAMPLE_RATE - true_start) <= 0.3
        assert abs(end / SAMPLE_RATE - true_end) <= 0.3
    bounds = [sample for segment in segments for sample in segment]
    assert bounds == sorted(bounds)  # in order, not overlapping


def test_overlong_speech_is_cut_at_its_quietest_point():
    # 24 utterances with 0.2 s pauses (too short to end speech): about 32 s
    # of speech, under noise 60 dB below its peak.
    pause = torch.zeros(round(0.2 * SAMPLE_RATE))
    pieces = [torch.zeros(SAMPLE_RATE)]
    for index in range(24):
        pieces += [
            speak(["ni3 hao3 shi4 jie4", "jin1 tian1 hao3"][index % 2]),
            pause,
        ]
    audio = torch.cat([*pieces, torch.zeros(SAMPLE_RATE)])
    audio = audio / audio.abs().max() + white_noise(
        len(audio) / SAMPLE_RATE, 1e-3
    )
    segments = SpeechSegmenter(max_segment_seconds=10.0).segment(audio)
    assert len(segments) >= 4
    assert all(end - start <= 10 * SAMPLE_RATE for start, end in segments)
    for (_, cut), (next_start, _) in zip(segments, segments[1:]):
        assert cut == next_start  # speech is cut, not dropped
        around = audio[cut - 256 : cut + 256]
        assert around.abs().max() < 2e-3, cut  # in a pause: only the noise


def test_audio_up_to_the_maximum_is_decoded_whole():
    audio = torch.cat([torch.zeros(SAMPLE_RATE), speak("ni3 hao3")])
    audio = torch.cat([audio, torch.zeros(3 * SAMPLE_RATE)])
    assert SpeechSegmenter().segment(audio) == [(0, audio.shape[0])]
    assert SpeechSegmenter().segment(white_noise(5, 0.5)) == []
    assert SpeechSegmenter().segment(torch.zeros(SAMPLE_RATE)) == []


def test_a_padded_batch_is_segmented_signal_by_signal():
    segmenter = SpeechSegmenter("energy", max_segment_seconds=4.0)
    first = recording(2, pause_range=(0.6, 1.0), seed=4).audio
    second = recording(1, pause_range=(0.6, 1.0), seed=5).audio
    wavs = torch.zeros(2, first.shape[0])
    wavs[0], wavs[1, : second.shape[0]] = first, second
    lens = torch.tensor([1.0, second.shape[0] / first.shape[0]])
    batch = segmenter(wavs, lens)
    assert [s.shape[0] for s in batch.signals] == [len(first), len(second)]
    assert batch.segments == [
        segmenter.segment(first),
        segmenter.segment(second),
    ]
    assert len(batch.segments[0]) == 2 and len(batch.segments[1]) == 1


def test_unknown_detector_is_named():
    with pytest.raises(ValueError, match="'vosk'"):
        SpeechSegmenter("vosk")
