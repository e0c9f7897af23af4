"""Tests for speechbrain_mmspeech.convert.fbank.

The official front-end configuration (see ``official_layouts``).
"""

import shutil

import numpy as np
import torch

from official_layouts import load_asr
from speechbrain_mmspeech.convert.modelscope import convert_modelscope


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
