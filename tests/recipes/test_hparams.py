"""The recipe's model section is the CPU preset, and the presets load.

Authors
 * MMSpeech plugin contributors 2026
"""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RECIPE_HPARAMS = ROOT / "recipes" / "AISHELL-1" / "hparams" / "finetune.yaml"
PRESETS = ROOT / "hparams" / "presets"


def top_level_scalars(path):
    """``key: value`` lines at the top level of a (HyperPyYAML) file."""
    pattern = re.compile(r"^([a-z_]+): ([^!\n]+)$", re.MULTILINE)
    text = path.read_text(encoding="utf-8")
    return {key: yaml.safe_load(value) for key, value in pattern.findall(text)}


def test_recipe_model_section_is_the_cpu_preset():
    preset = yaml.safe_load((PRESETS / "cpu.yaml").read_text(encoding="utf-8"))
    recipe = top_level_scalars(RECIPE_HPARAMS)
    assert preset == {key: recipe[key] for key in preset}


def test_presets_define_the_same_keys():
    keys = [
        set(yaml.safe_load(path.read_text(encoding="utf-8")))
        for path in sorted(PRESETS.glob("*.yaml"))
    ]
    assert len(keys) == 3 and keys[0] == keys[1] == keys[2]
