"""Tests for speechbrain_mmspeech.convert.cli.

``mmspeech-convert`` and ``python -m speechbrain_mmspeech.convert`` (see
``official_layouts``).
"""

import shutil
import subprocess
import sys
from pathlib import Path

from official_layouts import fairseq_inputs
from speechbrain_mmspeech.convert.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_command_line(converted, tmp_path, capsys):
    inputs = fairseq_inputs(converted["root"] / "fs")
    output = tmp_path / "out"
    argv = ["fairseq", str(inputs["checkpoint"]), str(output)]
    argv += ["--vocab", str(inputs["vocab"])]
    argv += ["--phone-dict", str(inputs["phone_dict"])]
    argv += ["--fbank-config", str(inputs["fbank_config"])]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Skipped 15 tensor(s)" in printed
    assert "decoder.embed_image_positions.weight (1765, 16)" in printed
    assert "decoder.code_layernorm_embedding.bias (16,)" in printed
    assert main(argv) == 1
    assert "already exists" in capsys.readouterr().err
    ms_folder = str(converted["root"] / "ms")
    assert main(["modelscope", ms_folder, str(output)]) == 1
    capsys.readouterr()
    result = subprocess.run(
        [sys.executable, "-m", "speechbrain_mmspeech.convert", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "modelscope" in result.stdout and "publish" in result.stdout


def test_command_line_reports_failures(converted, tmp_path, capsys):
    folder = tmp_path / "ms"
    shutil.copytree(converted["root"] / "ms", folder)
    (folder / "config.json").unlink()
    output = tmp_path / "out"
    assert main(["modelscope", str(folder), str(output)]) == 1
    assert "config.json" in capsys.readouterr().err
    assert not output.exists()
