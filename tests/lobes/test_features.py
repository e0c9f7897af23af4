"""Tests for speechbrain_mmspeech.lobes.features: audio checks and fbank features."""

import numpy as np
import pytest
import soundfile
import torch
import torchaudio.compliance.kaldi as kaldi

from speechbrain_mmspeech.dataio.audio import (
    AudioError,
    ValidatingAudioNormalizer,
    check_waveform,
    is_silent,
    load_audio,
)
from speechbrain_mmspeech.lobes.features import (
    FeatureCache,
    FeatureNormalization,
    MMSpeechFbank,
)


def noise(n_samples, seed=0, channels=None):
    rng = np.random.default_rng(seed)
    shape = (n_samples,) if channels is None else (n_samples, channels)
    return (0.3 * rng.standard_normal(shape)).clip(-1, 1).astype(np.float32)


def write_wav(path, data, sample_rate=16000, subtype="PCM_16"):
    soundfile.write(str(path), data, sample_rate, subtype=subtype)
    return path


# MMSpeechFbank


def test_fbank_equals_kaldi_fbank_of_peak_normalised_int16_audio():
    torch.manual_seed(0)
    wav = 0.2 * torch.randn(16000)
    expected = kaldi.fbank(
        (wav / wav.abs().max() * 32768).unsqueeze(0),
        num_mel_bins=80,
        sample_frequency=16000,
        dither=0.0,
    )
    got = MMSpeechFbank()(wav.unsqueeze(0))
    assert got.shape == (1, 98, 80)
    torch.testing.assert_close(got[0], expected)


def test_fbank_is_invariant_to_input_gain():
    torch.manual_seed(0)
    wav = 0.5 * torch.randn(1, 8000)
    fbank = MMSpeechFbank()
    torch.testing.assert_close(fbank(0.1 * wav), fbank(wav), atol=1e-4, rtol=0)
    # Without peak normalisation the gain does change the features.
    raw = MMSpeechFbank(peak_normalize=False)
    assert not torch.allclose(raw(0.1 * wav), raw(wav), atol=1e-2)


def test_batch_padding_does_not_change_features():
    torch.manual_seed(0)
    long, short = 0.3 * torch.randn(16000), 0.3 * torch.randn(8000)
    batch = torch.zeros(2, 16000)
    batch[0], batch[1, :8000] = long, short
    fbank = MMSpeechFbank()
    feats = fbank(batch, torch.tensor([1.0, 0.5]))
    alone = fbank(short.unsqueeze(0))[0]
    assert feats.shape == (2, 98, 80) and alone.shape == (48, 80)
    torch.testing.assert_close(feats[1, :48], alone)
    # Padding repeats the last real frame (never zeros, see MMSpeechFbank).
    torch.testing.assert_close(feats[1, 48:], alone[-1].expand(50, -1))


def test_fbank_stays_fp32_under_bf16_autocast():
    """bf16 training (SpeechBrain's autocast) must not compute the mel
    filterbank's matmul in bf16: the features are the fp32 ones, computed
    directly or through the feature cache (which training uses)."""
    torch.manual_seed(0)
    wavs = 0.2 * torch.randn(2, 16000)
    fbank = MMSpeechFbank()
    cache = FeatureCache(fbank)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = fbank(wavs)
        cached = cache(["a", "b"], wavs)
    assert under_autocast.dtype == cached.dtype == torch.float32
    assert torch.equal(under_autocast, fbank(wavs))
    assert torch.equal(cached, fbank(wavs))


def test_digital_silence_is_not_amplified():
    fbank = MMSpeechFbank()
    silent = fbank(torch.zeros(1, 16000))
    assert torch.isfinite(silent).all()
    # A -120 dBFS signal is left as it is, not scaled to full range.
    torch.manual_seed(0)
    quiet = 1e-6 * torch.randn(1, 16000)
    raw = MMSpeechFbank(peak_normalize=False)
    torch.testing.assert_close(fbank(quiet), raw(quiet))
    assert fbank(quiet).max() < fbank(1e3 * quiet).max() - 5
    assert is_silent(torch.full((10,), 1e-5))
    assert not is_silent(torch.full((10,), 1e-3))


# check_waveform and ValidatingAudioNormalizer


def test_check_waveform_messages():
    with pytest.raises(AudioError, match=r"x\.wav: the audio is empty"):
        check_waveform(torch.zeros(0), 16000, "x.wav")
    with pytest.raises(AudioError, match="x.wav: .*NaN"):
        check_waveform(torch.tensor([0.0, float("nan")] * 1000), 16000, "x.wav")
    with pytest.raises(AudioError, match="x.wav: .*infinite"):
        check_waveform(torch.tensor([0.0, float("inf")] * 1000), 16000, "x.wav")
    with pytest.raises(AudioError, match="x.wav: the audio is too short"):
        check_waveform(torch.zeros(1599), 16000, "x.wav")
    signal = torch.zeros(1600)
    assert check_waveform(signal, 16000) is signal


def test_validating_normalizer_resamples_mixes_and_checks():
    normalizer = ValidatingAudioNormalizer()
    stereo = torch.from_numpy(noise(8000, channels=2))
    out = normalizer(stereo, 8000)
    assert out.shape == (16000,)
    mono = normalizer(stereo.mean(dim=1), 8000)
    torch.testing.assert_close(out, mono, atol=1e-5, rtol=0)
    with pytest.raises(AudioError, match="a.wav: the audio is empty"):
        normalizer(torch.zeros(0, 2), 8000, source="a.wav")
    nan = stereo.clone()
    nan[10, 1] = float("nan")
    with pytest.raises(AudioError, match="a.wav: .*NaN"):
        normalizer(nan, 8000, source="a.wav")
    with pytest.raises(AudioError, match="a.wav: the audio is too short"):
        normalizer(stereo[:400], 8000, source="a.wav")


# load_audio


def test_load_audio_missing_file(tmp_path):
    path = tmp_path / "missing.wav"
    with pytest.raises(FileNotFoundError, match=str(path)):
        load_audio(path)


def test_load_audio_garbage_bytes(tmp_path):
    path = tmp_path / "garbage.wav"
    path.write_bytes(b"this is not a RIFF file at all" * 10)
    with pytest.raises(AudioError, match=str(path)):
        load_audio(path)


def test_load_audio_empty_file(tmp_path):
    path = write_wav(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32))
    with pytest.raises(AudioError, match=rf"{path}: .*empty"):
        load_audio(path)


def test_load_audio_nan_samples(tmp_path):
    data = noise(16000)
    data[100] = np.nan
    path = write_wav(tmp_path / "nan.wav", data, subtype="FLOAT")
    with pytest.raises(AudioError, match=rf"{path}: .*NaN"):
        load_audio(path)


def test_load_audio_resamples_and_downmixes(tmp_path):
    path = write_wav(tmp_path / "stereo8k.wav", noise(8000, channels=2), 8000)
    signal = load_audio(path)
    assert signal.shape == (16000,)
    assert signal.dtype == torch.float32
    assert signal.abs().max() > 0.05


def test_load_audio_too_short(tmp_path):
    path = write_wav(tmp_path / "short.wav", noise(800))  # 0.05 s
    with pytest.raises(AudioError, match=rf"{path}: .*too short"):
        load_audio(path)


def test_load_audio_reuses_a_given_normalizer(tmp_path):
    path = write_wav(tmp_path / "a.wav", noise(16000))
    normalizer = ValidatingAudioNormalizer(sample_rate=8000)
    assert load_audio(path, normalizer=normalizer).shape == (8000,)
    assert load_audio(path, sample_rate=8000).shape == (8000,)


def test_batched_normalised_features_stay_close_to_single_utterance():
    """Padding never puts out-of-range frames into an utterance's statistics.

    Relative lengths cannot map exactly onto Kaldi frames, so a batched
    utterance's statistics may include one or two repeated edge frames
    (deviation up to about 0.3 here); zero padding used to put a zero
    log-mel frame into them (deviation above 2).
    """
    torch.manual_seed(0)
    fbank = MMSpeechFbank()
    normalize = FeatureNormalization(norm_type="sentence")
    lengths = [16000, 12345, 9001, 20000, 31999, 24100]
    wavs = torch.zeros(len(lengths), max(lengths))
    for row, length in enumerate(lengths):
        wavs[row, :length] = 0.3 * torch.randn(length)
    wav_lens = torch.tensor(lengths) / max(lengths)
    batched = normalize(fbank(wavs, wav_lens), wav_lens)
    for row, length in enumerate(lengths):
        alone = normalize(fbank(wavs[row : row + 1, :length]), torch.ones(1))
        frames = alone.shape[1]
        deviation = (batched[row, :frames] - alone[0]).abs().max()
        assert deviation < 0.5, (row, float(deviation))


def test_cached_features_equal_recomputed_ones():
    """FeatureCache: the first call computes, later calls look up, and both
    give exactly what MMSpeechFbank computes, in any batch."""
    from speechbrain_mmspeech.lobes.features import FeatureCache, MMSpeechFbank

    torch.manual_seed(0)
    fbank = MMSpeechFbank()
    wavs = torch.rand(3, 12000) - 0.5
    lens = torch.tensor([1.0, 0.6, 0.85])
    cache = FeatureCache(fbank)
    computed = cache(["a", "b", "c"], wavs, lens)
    looked_up = cache(["a", "b", "c"], wavs, lens)
    assert torch.equal(computed, fbank(wavs, lens))
    assert torch.equal(looked_up, computed)
    # Another batch of the same utterances: same features, other padding.
    alone = cache(["b"], wavs[1:2, :7200], torch.ones(1))
    assert torch.equal(alone, fbank(wavs[1:2, :7200]))
    assert len(cache) == 3
