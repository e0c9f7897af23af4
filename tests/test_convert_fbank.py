"""Tests for speechbrain_mmspeech.convert.fbank.

The official front-end configuration (see ``official_layouts``).
"""

import shutil

import numpy as np
import pytest
import torch

from official_layouts import load_asr
from speechbrain_mmspeech.convert.fbank import read_fbank_config
from speechbrain_mmspeech.convert.modelscope import convert_modelscope
from speechbrain_mmspeech.convert.reading import ConversionError

# Both official readers ask for the "test" split: its own entry first, then
# "_eval", then "*"; an empty entry falls through. OFA's fairseq reads only
# "transforms", ModelScope's (0.12.3) appends "feature_transforms".
PRECEDENCE = {
    "split first": (
        "transforms:\n  '*': [utterance_cmvn]\n  _eval: [utterance_cmvn]\n"
        "  test: [global_cmvn]\n",
        "global",
        "global",
    ),
    "empty split falls through": (
        "transforms:\n  '*': [utterance_cmvn]\n  _eval: [global_cmvn]\n"
        "  test:\n",
        "global",
        "global",
    ),
    "wildcard last": (
        "transforms:\n  '*': [global_cmvn]\n  _train: [utterance_cmvn]\n",
        "global",
        "global",
    ),
    "feature_transforms appended": (
        "transforms:\n  '*': [utterance_cmvn]\n"
        "feature_transforms:\n  test: [specaugment]\n",
        "sentence",
        r"transform\(s\) \['specaugment'\] at inference",
    ),
    "feature_transforms alone": (
        "feature_transforms:\n  '*': [global_cmvn]\n",
        r"found \[\]; 'feature_transforms' is not read by OFA's fairseq",
        "global",
    ),
}


@pytest.mark.parametrize("case", sorted(PRECEDENCE))
@pytest.mark.parametrize("layout", ["fairseq", "modelscope"])
def test_transforms_follow_the_official_precedence(case, layout, tmp_path):
    text, fairseq, modelscope = PRECEDENCE[case]
    expected = fairseq if layout == "fairseq" else modelscope
    np.savez(tmp_path / "cmvn.npz", mean=np.zeros(80), std=np.ones(80))
    text += "global_cmvn:\n  stats_npz_path: cmvn.npz\n"
    path = tmp_path / "fbank_config.yaml"
    path.write_text(text)
    feature_transforms = layout == "modelscope"
    if expected in ("global", "sentence"):
        values, notes = read_fbank_config(path, feature_transforms)
        assert values["norm_type"] == expected
        assert notes["eval_split"] == "test"
    else:
        with pytest.raises(ConversionError, match=expected):
            read_fbank_config(path, feature_transforms)


def test_train_transforms_are_recorded(tmp_path):
    path = tmp_path / "fbank_config.yaml"
    path.write_text(
        "transforms:\n  '*': [utterance_cmvn]\n"
        "  _train: [utterance_cmvn, specaugment]\n  train: [utterance_cmvn]\n"
    )
    _, notes = read_fbank_config(path)
    assert notes["train_transforms"] == ["utterance_cmvn"]
    assert notes["eval_transforms"] == ["utterance_cmvn"]
    assert notes["transform_keys_read"] == ["transforms"]


def test_global_cmvn_statistics(converted, tmp_path):
    folder = tmp_path / "ms"
    shutil.copytree(converted["root"] / "ms", folder)
    mean = np.linspace(-1.0, 1.0, 80).astype(np.float32)
    std = np.linspace(0.5, 2.0, 80).astype(np.float32)
    np.savez(folder / "global_cmvn.npz", mean=mean, std=std)
    (folder / "fbank_config.yaml").write_text(
        "global_cmvn:\n  stats_npz_path: global_cmvn.npz\n"
        "transforms:\n  _eval: [global_cmvn]\n  _train: [global_cmvn]\n"
    )
    report = convert_modelscope(folder, tmp_path / "out")
    assert report["hyperparameters"]["norm_type"] == "global"
    asr = load_asr(tmp_path / "out", tmp_path / "save")
    feats = torch.randn(1, 20, 80)
    normalized = asr.hparams.normalize(feats, torch.ones(1))
    expected = (feats - torch.from_numpy(mean)) / torch.from_numpy(std)
    assert torch.allclose(normalized, expected)
