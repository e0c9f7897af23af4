"""End-to-end tests of a tiny model folder through SpeechBrain inference."""

import numpy as np
import pytest
import soundfile
import torch
import torchaudio
from speechbrain.inference.ASR import EncoderDecoderASR

from speech_audio import (
    PHRASES,
    SAMPLE_RATE,
    brown_noise,
    recording,
    speak,
    speech_batch,
    white_noise,
    write_wav,
)
from speechbrain_mmspeech.dataio.audio import AudioError
from speechbrain_mmspeech.export.folders import write_model_folder
from speechbrain_mmspeech.inference import ASR as asr_module
from speechbrain_mmspeech.inference.ASR import MMSpeechASR
from speechbrain_mmspeech.tokenizers import CharTokenizer
from tiny_models import FOLDER_SETTINGS as TINY
from tiny_models import FOLDER_TEXT_VOCAB as TEXT_VOCAB
from tiny_models import FOLDER_TEXTS as TEXTS
from tiny_models import folder_values, load_folder, model_from_template

INTERFACES = [EncoderDecoderASR, MMSpeechASR]
NOISE_LEVELS = [1.0, 0.1, 0.01, 1e-3]


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    tokenizer = CharTokenizer()
    tokenizer.build(TEXTS, TEXT_VOCAB)
    model = model_from_template(TINY)
    return write_model_folder(folder, model, tokenizer, folder_values(TINY))


def noise(n_samples, channels=None, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n_samples,) if channels is None else (n_samples, channels)
    return (0.3 * rng.standard_normal(shape)).clip(-1, 1).astype(np.float32)


def stereo_8k_speech():
    """An utterance with pauses as 8 kHz stereo (the channels differ)."""
    (wav,), _ = speech_batch([PHRASES[0]])
    wav = torchaudio.functional.resample(wav, SAMPLE_RATE, 8000)
    return torch.stack([wav, 0.5 * wav], dim=1).numpy()


def test_stock_encoder_decoder_asr_loads_and_transcribes(
    model_folder, tmp_path
):
    asr = load_folder(EncoderDecoderASR, model_folder, tmp_path / "save")
    # The loaded weights are the exported ones.
    saved = torch.load(model_folder / "model.ckpt")
    for key, value in asr.mods.transformer.state_dict().items():
        assert torch.equal(value, saved[key]), key
    expected = CharTokenizer()
    expected.build(TEXTS, TEXT_VOCAB)
    assert asr.tokenizer.tokens == expected.tokens
    assert asr.tokenizer.tokens[4:6] == ["天", "好"]
    wav = write_wav(tmp_path / "stereo8k.wav", stereo_8k_speech(), 8000)
    text = asr.transcribe_file(wav)
    assert isinstance(text, str) and text
    assert all(char in "".join(TEXTS) + "\u2047" for char in text)
    words, tokens = asr.transcribe_batch(*speech_batch())
    assert len(words) == 2 and all(isinstance(w, str) and w for w in words)
    for hyp in tokens:
        # Never audio codes, <s> or <pad>; at most max_positions - 1 steps.
        assert all(2 < int(t) < TEXT_VOCAB for t in hyp)
        assert 1 <= len(hyp) < TINY["max_positions"]


def test_mmspeech_asr_file_handling(model_folder, tmp_path, monkeypatch):
    asr = load_folder(MMSpeechASR, model_folder, tmp_path / "save")
    missing = tmp_path / "missing.wav"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        asr.transcribe_file(str(missing))

    # A relative path whose folder is not here reads as a hub path; when
    # that fetch fails too (no such repo, or offline), the error names it.
    def failing_fetch(filename, source, savedir=None):
        raise OSError(f"cannot reach {source}")

    monkeypatch.setattr(asr_module, "fetch", failing_fetch)
    with pytest.raises(AudioError, match="no/such/a.wav: no such local file"):
        asr.transcribe_file("no/such/a.wav")
    monkeypatch.undo()
    segmented, encoded = [], []
    segment, encode = asr.segmenter.segment, asr.mods.transformer.encode

    def recording_segment(signal, *args):
        segmented.append(tuple(signal.shape))
        return segment(signal, *args)

    def recording_encode(feats, lens):
        encoded.append(feats.shape[0])
        return encode(feats, lens)

    asr.segmenter.segment = recording_segment
    asr.mods.transformer.encode = recording_encode
    silence = write_wav(
        tmp_path / "zeros.wav", np.zeros(16000, np.float32), 16000
    )
    assert asr.transcribe_file(silence) == ""
    assert encoded == []  # silence never reaches the model
    stereo = stereo_8k_speech()
    wav = write_wav(tmp_path / "stereo8k.wav", stereo, 8000)
    assert asr.transcribe_file(wav)
    # Down-mixed and resampled to 16 kHz; one segment decoded.
    assert segmented[-1] == (2 * stereo.shape[0],)
    assert encoded == [1]
    noisy = write_wav(tmp_path / "noise.wav", noise(8000, channels=2), 8000)
    assert asr.transcribe_file(noisy) == ""
    assert encoded == [1]  # noise has no speech to decode
    short = write_wav(tmp_path / "short.wav", noise(800), 16000)
    with pytest.raises(AudioError, match=f"{short}: .*too short"):
        asr.transcribe_file(short)


@pytest.mark.parametrize("interface", INTERFACES)
def test_silence_and_noise_give_no_text(model_folder, tmp_path, interface):
    asr = load_folder(interface, model_folder, tmp_path / "save")
    signals = {"silence": torch.zeros(3 * SAMPLE_RATE)}
    for level in NOISE_LEVELS:
        signals[f"white {level}"] = white_noise(3, level, seed=1)
        signals[f"brown {level}"] = brown_noise(3, level, seed=2)
    for name, signal in signals.items():
        wav = write_wav(tmp_path / f"{name}.wav", signal.numpy(), SAMPLE_RATE)
        assert asr.transcribe_file(wav) == "", name
    wavs = torch.stack(list(signals.values()))
    words, tokens = asr.transcribe_batch(wavs, torch.ones(len(wavs)))
    assert words == [""] * len(signals) and tokens == [[]] * len(signals)


@pytest.mark.parametrize(
    "minutes, n_utterances, seed",
    [(1, 17, 7), (5, 85, 3)],
    ids=["1min", "5min"],
)
def test_long_file_returns_all_its_speech(
    model_folder, tmp_path, minutes, n_utterances, seed
):
    """Every utterance is decoded, in order, past the decoder's 15 positions."""
    rec = recording(n_utterances, pause_range=(1.0, 3.0), seed=seed)
    assert rec.audio.shape[0] >= minutes * 60 * SAMPLE_RATE
    wav = write_wav(tmp_path / "long.wav", rec.audio.numpy())
    texts = {}
    for interface in INTERFACES:
        # At least two characters per segment: more than one decoding of
        # the whole file could hold.
        asr = load_folder(
            interface, model_folder, tmp_path / "save", min_decode_length=2
        )
        texts[interface] = asr.transcribe_file(wav)
    assert texts[EncoderDecoderASR] == texts[MMSpeechASR]
    assert len(texts[MMSpeechASR]) >= 2 * len(rec.utterances)
    assert len(texts[MMSpeechASR]) > TINY["max_positions"]
    result = asr.transcribe_file(wav, return_details=True)
    assert result.text == texts[MMSpeechASR]
    assert abs(result.duration - rec.audio.shape[0] / SAMPLE_RATE) < 1e-3
    assert len(result.segments) == len(rec.utterances)
    assert "".join(segment.text for segment in result.segments) == result.text
    for segment, (start, end) in zip(result.segments, rec.utterances):
        assert abs(segment.start - start) <= 0.3
        assert abs(segment.end - end) <= 0.3
        assert len(segment.chars) == len(segment.text) >= 2
        times = [t for char in segment.chars for t in (char.start, char.end)]
        assert times == sorted(times)
        assert segment.start <= times[0] and times[-1] <= segment.end
        assert all(0 < char.confidence <= 1 for char in segment.chars)


@pytest.mark.parametrize("interface", INTERFACES)
def test_padded_batch_equals_one_file_at_a_time(
    model_folder, tmp_path, interface
):
    """Mixed lengths (one of several segments, one of noise), zero-padded."""
    signals = [
        speak(PHRASES[3]),
        recording(6, pause_range=(0.5, 1.5), seed=4).audio,
        white_noise(2, 0.3, seed=3),
        speak(PHRASES[2]) * 0.3,
    ]
    paths, waveforms = [], []
    for index, signal in enumerate(signals):
        paths.append(write_wav(tmp_path / f"{index}.wav", signal.numpy()))
        # The batch holds what the files hold (16-bit samples).
        data, _ = soundfile.read(paths[-1], dtype="float32")
        waveforms.append(torch.from_numpy(data))
    longest = max(len(wav) for wav in waveforms)
    wavs = torch.zeros(len(waveforms), longest)
    for row, wav in enumerate(waveforms):
        wavs[row, : len(wav)] = wav
    lens = torch.tensor([len(wav) / longest for wav in waveforms])
    asr = load_folder(interface, model_folder, tmp_path / "save")
    words, tokens = asr.transcribe_batch(wavs, lens)
    alone = [asr.transcribe_file(path) for path in paths]
    assert words == alone
    assert words[2] == "" and all(words[i] for i in (0, 1, 3))
    assert [asr.tokenizer.decode_ids(ids) for ids in tokens] == words
