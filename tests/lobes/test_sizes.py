"""The networks' Base defaults are the Base preset's sizes."""

from pathlib import Path

import yaml

from speechbrain_mmspeech.lobes.models.sizes import (
    BASE_D_FFN,
    BASE_D_MODEL,
    BASE_NHEAD,
    N_MELS,
)

BASE_PRESET = Path(__file__).resolve().parents[2] / "hparams" / "base.yaml"


def test_base_sizes_match_the_base_preset():
    preset = yaml.safe_load(BASE_PRESET.read_text(encoding="utf-8"))
    assert (BASE_D_MODEL, BASE_NHEAD, BASE_D_FFN) == (
        preset["d_model"],
        preset["nhead"],
        preset["d_ffn"],
    )
    assert preset["subsample_channels"] == BASE_D_MODEL
    assert preset["n_mels"] == N_MELS
