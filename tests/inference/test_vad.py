"""Tests for speechbrain_mmspeech.inference.vad: speech detectors and speech regions."""

import builtins

import pytest
import torch

from speech_audio import brown_noise, recording, white_noise
from speechbrain_mmspeech.inference import vad
from speechbrain_mmspeech.inference.vad import (
    FRAME_SECONDS,
    EnergySpeechDetector,
    SileroSpeechDetector,
    make_speech_detector,
    speech_regions,
)

LEVELS = [1.0, 0.1, 0.01, 1e-3, 3e-4]


@pytest.fixture(scope="module")
def detectors():
    return {"silero": SileroSpeechDetector(), "energy": EnergySpeechDetector()}


@pytest.mark.parametrize("kind", ["silero", "energy"])
def test_noise_and_silence_are_not_speech(detectors, kind):
    detector = detectors[kind]
    assert speech_regions(detector(torch.zeros(5 * 16000))) == []
    for level in LEVELS:
        for noise in (white_noise(10, level), brown_noise(10, level)):
            assert speech_regions(detector(noise)) == [], (kind, level)


@pytest.mark.parametrize("kind", ["silero", "energy"])
def test_speech_is_found_where_it_is(detectors, kind):
    rec = recording(4, pause_range=(1.0, 2.0), seed=1)
    regions = speech_regions(detectors[kind](rec.audio))
    assert len(regions) == len(rec.utterances)
    for (first, end), (start, stop) in zip(regions, rec.utterances):
        assert abs(first * FRAME_SECONDS - start) < 0.15
        assert abs(end * FRAME_SECONDS - stop) < 0.15


def test_silero_streams_agree_with_one_pass(detectors):
    audio = recording(6, seed=2).audio
    streamed = detectors["silero"](audio)
    one_pass = SileroSpeechDetector(
        min_stream_seconds=600, max_stream_seconds=600, warmup_seconds=0
    )(audio)
    assert streamed.shape == one_pass.shape
    regions, reference = speech_regions(streamed), speech_regions(one_pass)
    assert len(regions) == len(reference) == 6
    for (a, b), (c, d) in zip(regions, reference):
        assert abs(a - c) <= 2 and abs(b - d) <= 2  # 64 ms


def test_silero_keeps_the_thread_count():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        vad.load_silero_model()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_missing_silero_falls_back_to_energy(monkeypatch, caplog):
    real_import = builtins.__import__

    def no_silero(name, *args, **kwargs):
        if name == "silero_vad":
            raise ImportError("No module named 'silero_vad'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_silero)
    detector = make_speech_detector("silero")
    assert isinstance(detector, EnergySpeechDetector)
    assert "pip install silero-vad" in caplog.text
    with pytest.raises(ValueError, match="'webrtc'"):
        make_speech_detector("webrtc")


def test_speech_regions_hysteresis_pauses_and_lengths():
    frames = [0.0] * 5 + [0.6] * 10 + [0.4] + [0.6] * 10
    frames += [0.0] * 20 + [0.9] * 3 + [0.0] * 5
    probs = torch.tensor(frames)
    # 0.4 keeps speech going (above 0.5 - 0.15); 3 frames are too short.
    assert speech_regions(probs) == [(5, 26)]
    assert speech_regions(probs, min_speech_seconds=0.09) == [(5, 26), (46, 49)]
    # With speech ending below 0.45, the dip is a pause, bridged unless
    # pauses of one frame count.
    assert speech_regions(probs, neg_threshold=0.45) == [(5, 26)]
    assert speech_regions(
        probs, neg_threshold=0.45, min_silence_seconds=0.0
    ) == [(5, 15), (16, 26)]
    tail = torch.tensor([0.0] + [0.9] * 10)
    assert speech_regions(tail) == [(1, 11)]  # speech up to the end
