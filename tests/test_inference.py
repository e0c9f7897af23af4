"""End-to-end tests of a tiny model folder through SpeechBrain inference."""

import numpy as np
import pytest
import soundfile
import torch
from speechbrain.inference.ASR import EncoderDecoderASR

from speechbrain_mmspeech.export import write_model_folder
from speechbrain_mmspeech.frontend import AudioError
from speechbrain_mmspeech.inference import MMSpeechASR
from speechbrain_mmspeech.tokenizers import CharTokenizer
from tiny_models import TEMPLATE_SIZES, model_from_template

TEXTS = ["今天天气很好", "我们去公园", "你好世界"]
TEXT_VOCAB = 24
TINY = {
    **TEMPLATE_SIZES,
    "max_positions": 16,
    "rel_pos_bucket_size": 4,
    "text_vocab_size": TEXT_VOCAB,
    "code_vocab_size": 3,
    "beam_size": 2,
    "no_repeat_ngram_size": 2,
}


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    tokenizer = CharTokenizer()
    tokenizer.build(TEXTS, TEXT_VOCAB)
    model = model_from_template(TINY)
    return write_model_folder(folder, model, tokenizer, TINY)


def write_wav(path, data, sample_rate):
    soundfile.write(str(path), data, sample_rate, subtype="PCM_16")
    return str(path)


def noise(n_samples, channels=None, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n_samples,) if channels is None else (n_samples, channels)
    return (0.3 * rng.standard_normal(shape)).clip(-1, 1).astype(np.float32)


def test_stock_encoder_decoder_asr_loads_and_transcribes(
    model_folder, tmp_path
):
    asr = EncoderDecoderASR.from_hparams(
        source=str(model_folder),
        savedir=str(tmp_path / "save"),
        run_opts={"device": "cpu"},
    )
    # The loaded weights are the exported ones.
    saved = torch.load(model_folder / "model.ckpt")
    for key, value in asr.mods.transformer.state_dict().items():
        assert torch.equal(value, saved[key]), key
    expected = CharTokenizer()
    expected.build(TEXTS, TEXT_VOCAB)
    assert asr.tokenizer.tokens == expected.tokens
    assert asr.tokenizer.tokens[4:6] == ["天", "好"]
    wav = write_wav(tmp_path / "stereo8k.wav", noise(8000, channels=2), 8000)
    text = asr.transcribe_file(wav)
    assert isinstance(text, str)
    assert all(char in "".join(TEXTS) + "\u2047" for char in text)
    wavs = torch.zeros(2, 16000)
    wavs[0] = torch.from_numpy(noise(16000, seed=1))
    wavs[1, :9600] = torch.from_numpy(noise(9600, seed=2))
    words, tokens = asr.transcribe_batch(wavs, torch.tensor([1.0, 0.6]))
    assert len(words) == 2 and all(isinstance(w, str) for w in words)
    for hyp in tokens:
        # Never audio codes, <s> or <pad>; at most max_positions - 1 steps.
        assert all(2 < int(t) < TEXT_VOCAB for t in hyp)
        assert len(hyp) < TINY["max_positions"] - 1


def test_mmspeech_asr_file_handling(model_folder, tmp_path):
    asr = MMSpeechASR.from_hparams(
        source=str(model_folder),
        savedir=str(tmp_path / "save"),
        run_opts={"device": "cpu"},
    )
    missing = tmp_path / "missing.wav"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        asr.transcribe_file(str(missing))
    calls = []
    transcribe_batch = asr.transcribe_batch

    def recording_transcribe_batch(wavs, wav_lens):
        calls.append(wavs.shape)
        return transcribe_batch(wavs, wav_lens)

    asr.transcribe_batch = recording_transcribe_batch
    silence = write_wav(
        tmp_path / "zeros.wav", np.zeros(16000, np.float32), 16000
    )
    assert asr.transcribe_file(silence) == ""
    assert calls == []  # silence never reaches the model
    wav = write_wav(tmp_path / "stereo8k.wav", noise(8000, channels=2), 8000)
    assert isinstance(asr.transcribe_file(wav), str)
    assert calls == [(1, 16000)]
    short = write_wav(tmp_path / "short.wav", noise(800), 16000)
    with pytest.raises(AudioError, match=f"{short}: .*too short"):
        asr.transcribe_file(short)


def test_sixty_second_file_transcribes(model_folder, tmp_path):
    """Long input: decoding stops at the decoder's positions, no crash."""
    asr = MMSpeechASR.from_hparams(
        source=str(model_folder),
        savedir=str(tmp_path / "save"),
        run_opts={"device": "cpu"},
    )
    wav = write_wav(tmp_path / "long.wav", noise(60 * 16000, seed=3), 16000)
    text = asr.transcribe_file(wav)
    assert isinstance(text, str)
    assert len(text) <= TINY["max_positions"] - 1
