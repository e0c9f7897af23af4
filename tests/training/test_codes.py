"""Tests for speechbrain_mmspeech.training.codes: the S2C pseudo-code quantizer.

Authors
 * MMSpeech plugin contributors 2026
"""

import pytest
import torch
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_mmspeech.training.codes import (
    EncoderUnitFeatures,
    FbankUnitFeatures,
    PseudoCodeQuantizer,
    UnitBPE,
    merge_duplicates,
    string_to_units,
    units_to_string,
)
from tiny_models import tiny_encoder


def fbanks(n=6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.randn(120 + 20 * k, 80, generator=generator) for k in range(n)
    ]


def test_merge_duplicates():
    assert merge_duplicates([5, 5, 5, 2, 5, 5, 1]) == [5, 2, 5, 1]
    assert merge_duplicates(torch.tensor([1, 1])) == [1]
    assert merge_duplicates([]) == []


def test_units_round_trip_through_characters():
    units = [0, 1, 99, 499]
    text = units_to_string(units)
    assert len(text) == 4 and string_to_units(text) == units


def test_bpe_round_trip_and_size():
    sequences = [[1, 2, 3, 1, 2, 3, 4], [2, 3, 4, 5], [5, 1, 2, 3]] * 20
    bpe = UnitBPE()
    bpe.train(sequences, vocab_size=12)
    assert bpe.actual_size <= 12
    for units in sequences[:3]:
        ids = bpe.encode(units)
        assert bpe.decode(ids) == units
        assert all(0 <= i < 12 for i in ids)
    assert len(bpe.encode([1, 2, 3, 1, 2, 3])) < 6  # merges happened
    restored = UnitBPE()
    restored.load_bytes(bpe.to_bytes())
    assert restored.encode([1, 2, 3]) == bpe.encode([1, 2, 3])


def test_fbank_features_pool_to_the_encoder_rate():
    features = FbankUnitFeatures()
    out = features(torch.randn(101, 80) * 5 + 3)
    assert out.shape == (26, 80)
    assert out.mean().abs() < 0.2  # utterance-normalised before pooling


def test_encoder_features_load_the_encoder_of_a_model_checkpoint(tmp_path):
    trained = tiny_encoder()
    with torch.no_grad():
        trained.post_subsample_proj.bias.add_(1.0)
    state = {f"encoder.{k}": v for k, v in trained.state_dict().items()}
    state["decoder.layer_norm.weight"] = torch.ones(3)  # ignored
    torch.save(state, tmp_path / "model.ckpt")
    features = EncoderUnitFeatures(tiny_encoder(), tmp_path / "model.ckpt")
    assert torch.equal(
        features.encoder.post_subsample_proj.bias,
        trained.post_subsample_proj.bias,
    )
    assert not features.encoder.training
    assert features(torch.randn(100, 80)).shape == (24, 16)


def test_quantizer_fit_save_load_gives_the_same_codes(tmp_path):
    quantizer = PseudoCodeQuantizer(
        FbankUnitFeatures(), n_clusters=8, code_vocab_size=40, seed=1
    )
    stats = quantizer.fit(fbanks())
    assert stats["utterances"] == 6
    assert stats["merged_units_per_utterance"] <= stats["frames_per_utterance"]
    assert stats["codes_per_utterance"] <= stats["merged_units_per_utterance"]
    assert stats["bpe_size"] <= 40
    utterance = fbanks(1, seed=9)[0]
    codes = quantizer(utterance)
    assert codes and max(codes) < 40
    assert quantizer.bpe.decode(codes) == quantizer.units(utterance)
    units = quantizer.units(utterance)
    assert all(a != b for a, b in zip(units, units[1:]))

    quantizer.save(tmp_path / "codes.ckpt")
    loaded = PseudoCodeQuantizer(
        FbankUnitFeatures(), n_clusters=8, code_vocab_size=40
    )
    loaded.load(tmp_path / "codes.ckpt")
    assert loaded(utterance) == codes


def test_quantizer_refuses_a_file_built_otherwise(tmp_path):
    quantizer = PseudoCodeQuantizer(
        FbankUnitFeatures(), n_clusters=8, code_vocab_size=40
    )
    quantizer.fit(fbanks())
    quantizer.save(tmp_path / "codes.ckpt")
    for other in [
        PseudoCodeQuantizer(FbankUnitFeatures(), 9, 40),
        PseudoCodeQuantizer(FbankUnitFeatures(), 8, 50),
        PseudoCodeQuantizer(FbankUnitFeatures(pool=2), 8, 40),
    ]:
        with pytest.raises(ValueError, match="build the codes again"):
            other.load(tmp_path / "codes.ckpt")


def test_quantizer_is_a_checkpoint_recoverable(tmp_path):
    quantizer = PseudoCodeQuantizer(
        FbankUnitFeatures(), n_clusters=8, code_vocab_size=40
    )
    quantizer.fit(fbanks())
    Checkpointer(tmp_path, {"codes": quantizer}).save_checkpoint()
    fresh = PseudoCodeQuantizer(
        FbankUnitFeatures(), n_clusters=8, code_vocab_size=40
    )
    Checkpointer(tmp_path, {"codes": fresh}).recover_if_possible()
    utterance = fbanks(1, seed=5)[0]
    assert fresh(utterance) == quantizer(utterance)


def test_quantizer_fits_kmeans_on_a_seeded_subset():
    quantizer = PseudoCodeQuantizer(
        FbankUnitFeatures(), n_clusters=4, code_vocab_size=20, max_fit_frames=50
    )
    stats = quantizer.fit(fbanks())
    assert stats["kmeans_frames"] == 50
    assert stats["frames"] > 50
