"""A wheel of the package holds what the package reads, and works unpacked.

The repository's top-level ``hparams/`` (architecture presets, inference
templates) is linked into the package as ``speechbrain_mmspeech/hparams``,
so the wheel carries it there.

The wheel is built (``pip wheel --no-deps --no-build-isolation``) from a copy
of the sources in a temporary folder, so the repository stays clean. It is
then installed without ``-e`` into a temporary virtual environment that
reuses the installed dependencies (``--system-site-packages``,
``--no-deps``), whose Python, run outside the repository, writes a model
folder from the packaged template and loads it through
``EncoderDecoderASR.from_hparams``.
"""

import os
import shutil
import subprocess
import sys
import zipfile
from importlib.resources import files
from pathlib import Path

import pytest

from speechbrain_mmspeech.export import folders as export

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = "speechbrain_mmspeech/hparams/inference.yaml"
# The top-level hparams/ folder ships as speechbrain_mmspeech/hparams.
SHIPPED_HPARAMS = sorted(
    path.name for path in (REPO / "hparams").glob("*.yaml")
)
# Runs in the fresh Python: a tiny model from the packaged template, written
# as a folder and loaded back; prints where the package and template are.
WRITE_AND_LOAD = """
import sys
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.inference.ASR import EncoderDecoderASR

import speechbrain_mmspeech
from speechbrain_mmspeech.export import folders as export
from speechbrain_mmspeech.tokenizers import CharTokenizer

architecture = {
    "n_mels": 80, "d_model": 16, "nhead": 2, "num_encoder_layers": 2,
    "num_decoder_layers": 1, "d_ffn": 32, "subsample_channels": 4,
    "context_layer": 1, "pos_conv_depth": 1, "pos_conv_kernel": 3,
    "pos_conv_groups": 2, "phone_vocab_size": 141, "max_positions": 8,
    "rel_pos_bucket_size": 4, "text_vocab_size": 12, "code_vocab_size": 0,
    "scale_embedding": True, "entangle_position_embedding": True,
}
values = {"architecture": architecture, "beam_size": 1}
template = export.read_template()
model = load_hyperpyyaml(export.render_hparams(template, values))["model"]
tokenizer = CharTokenizer()
tokenizer.build(["你好世界"], 12)
folder = export.write_model_folder("model", model, tokenizer, values)
asr = EncoderDecoderASR.from_hparams(
    source=str(folder), savedir="save", run_opts={"device": "cpu"}
)
words, _ = asr.transcribe_batch(torch.zeros(1, 16000), torch.ones(1))
print(speechbrain_mmspeech.__file__)
print(export.INFERENCE_TEMPLATE)
print(repr(words))
"""


def test_template_is_a_package_resource():
    assert export.INFERENCE_TEMPLATE == (
        files("speechbrain_mmspeech") / "hparams" / "inference.yaml"
    )
    assert export.read_template() == export.INFERENCE_TEMPLATE.read_text(
        encoding="utf-8"
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel built from a copy of the sources.

    Building needs ``setuptools`` and ``wheel``: both are in the ``test``
    extras (``pip install -e .[test]``), so the test runs rather than skips.
    """
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ("setup.py", "README.md", "pyproject.toml"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "speechbrain_mmspeech",
        source / "speechbrain_mmspeech",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    command = [
        sys.executable, "-m", "pip", "wheel", "--no-deps",
        "--no-build-isolation", "--disable-pip-version-check",
        "--wheel-dir", str(root / "dist"), str(source),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{result.stdout}\n{result.stderr}")
    (path,) = (root / "dist").glob("speechbrain_mmspeech-*.whl")
    return path


def test_wheel_holds_the_template_and_the_commands(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert TEMPLATE in names
        packaged = archive.read(TEMPLATE).decode("utf-8")
        (entry_points,) = [n for n in names if n.endswith("entry_points.txt")]
        commands = archive.read(entry_points).decode("utf-8")
    assert packaged == (REPO / "hparams" / "inference.yaml").read_text(
        encoding="utf-8"
    )
    assert "cpu.yaml" in SHIPPED_HPARAMS
    for name in SHIPPED_HPARAMS:
        assert f"speechbrain_mmspeech/hparams/{name}" in names
    assert "mmspeech-transcribe = speechbrain_mmspeech.inference.cli:main" in (
        commands
    )
    assert "mmspeech-convert = speechbrain_mmspeech.convert.cli:main" in (
        commands
    )


def test_installed_wheel_writes_and_loads_a_model_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
        check=True,
    )
    python = venv / "bin" / "python"
    command = [
        str(python), "-m", "pip", "install", "--no-deps", "--no-index",
        "--disable-pip-version-check", str(wheel),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    work = tmp_path / "work"
    work.mkdir()
    env = {
        key: value for key, value in os.environ.items() if key != "PYTHONPATH"
    }
    result = subprocess.run(
        [str(python), "-c", WRITE_AND_LOAD],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    module, template, words = result.stdout.splitlines()[-3:]
    assert Path(module).is_relative_to(venv)
    assert Path(template).is_relative_to(venv)
    assert words == "['']"  # digital silence
    assert (work / "model" / "hyperparams.yaml").is_file()
