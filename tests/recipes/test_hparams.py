"""The recipe YAML files take their architecture from the presets.

Every stage builds its model with ``MMSpeech.from_architecture`` from an
``architecture`` mapping that ``!include``s a preset of
``hparams/presets/``; command-line overrides change single keys or the
whole preset.

Authors
 * MMSpeech plugin contributors 2026
"""

from pathlib import Path

import pytest
import torch
import yaml
from hyperpyyaml import load_hyperpyyaml

from speechbrain_mmspeech.lobes.models.mmspeech import ARCHITECTURE_KEYS

HPARAMS = (
    Path(__file__).resolve().parents[2] / "recipes" / "AISHELL-1" / "hparams"
)
PRESETS = HPARAMS.parents[2] / "hparams"
STAGES = ["finetune.yaml", "pretrain.yaml"]
PLACEHOLDERS = {
    "data_folder": "/nowhere/data",
    "text_files": ["/nowhere/text.txt"],
    "unpaired_speech": "/nowhere/unpaired.csv",
    "output_folder": "/nowhere/results",
}


def load_stage(name, architecture=None):
    """A stage YAML with its placeholders (and ``architecture``) set."""
    text = (HPARAMS / name).read_text(encoding="utf-8")
    overrides = {k: v for k, v in PLACEHOLDERS.items() if f"\n{k}:" in text}
    if architecture is not None:
        overrides["architecture"] = architecture
    with open(HPARAMS / name, encoding="utf-8") as stream:
        return load_hyperpyyaml(stream, overrides)


def preset(name):
    return yaml.safe_load((PRESETS / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["cpu.yaml", "base.yaml", "large.yaml"])
def test_presets_hold_exactly_the_architecture_keys(name):
    assert list(preset(name)) == list(ARCHITECTURE_KEYS)


@pytest.mark.parametrize("stage", STAGES)
def test_stages_build_the_cpu_preset(stage):
    hparams = load_stage(stage)
    expected = preset("cpu.yaml")
    if stage.startswith("pretrain"):
        expected["code_vocab_size"] = 1000  # the code block of pre-training
    assert hparams["architecture"] == expected
    decoder = hparams["model"].decoder
    vocab = expected["text_vocab_size"] + expected["code_vocab_size"]
    assert decoder.embed_tokens.num_embeddings == vocab
    assert len(hparams["model"].encoder.encoder.layers) == 6


def test_an_override_changes_one_key_and_keeps_the_others():
    hparams = load_stage("finetune.yaml", {"num_encoder_layers": 4})
    assert len(hparams["model"].encoder.encoder.layers) == 4
    assert hparams["architecture"]["d_model"] == preset("cpu.yaml")["d_model"]


def test_a_misspelt_architecture_key_is_an_error():
    with pytest.raises(ValueError, match="unknown keys num_encoder_layer"):
        load_stage("finetune.yaml", {"num_encoder_layer": 4})


def test_another_preset_replaces_the_whole_architecture():
    overrides = (
        "architecture: !include:../../../hparams/base.yaml\n"
        + "\n".join(
            f"{key}: {value}"
            for key, value in PLACEHOLDERS.items()
            if key != "unpaired_speech"
        )
        # SpeechBrain's resamplers compute their filters when built, which
        # a meta device cannot; the Base weights need it (no 211M copy).
        + "\nspeed_perturb: null\ntelephone_band: null\nwav_augment: null"
    )
    with torch.device("meta"), open(HPARAMS / "finetune.yaml") as stream:
        hparams = load_hyperpyyaml(stream, overrides)
    assert hparams["architecture"] == preset("base.yaml")
    assert len(hparams["model"].encoder.encoder.layers) == 12


def test_the_clipping_augmentation_flattens_the_peaks():
    # The fine-tuning's clipping must clip whatever the recording level:
    # a quiet sine comes out with flat tops, at its own level.
    clipping = load_stage("finetune.yaml")["clipping"]
    wave = 0.05 * torch.sin(torch.arange(16000) / 5.0).repeat(2, 1)
    clipped = clipping(wave)
    peak = clipped.abs().amax(dim=1, keepdim=True)
    at_peak = (clipped.abs() >= 0.999 * peak).float().mean()
    assert torch.allclose(peak, torch.full_like(peak, 0.05), atol=1e-3)
    assert at_peak > 0.5  # a sine spends under 5% of its samples there
