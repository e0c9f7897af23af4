"""Tests of the ``mmspeech-mini-aishell`` command line.

Authors
 * MMSpeech plugin contributors 2026
"""

import json
import re
import subprocess
import sys
from pathlib import Path

from speechbrain_mmspeech.mini_aishell.cli import main

SETUP_PY = Path(__file__).resolve().parents[1] / "setup.py"


def tiny_argv(folder, settings):
    """The command line that generates ``settings`` into ``folder``."""
    argv = [str(folder)]
    for key, value in settings.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


def test_main_prints_the_statistics(tiny_corpus, tiny_settings, capsys):
    """Same settings as the tiny corpus: nothing redone, statistics printed."""
    main(tiny_argv(tiny_corpus, tiny_settings))
    stats = json.loads(capsys.readouterr().out)
    assert {k: stats["config"][k] for k in tiny_settings} == tiny_settings


def test_console_script_and_module_run_main():
    """setup.py names ``cli:main``; ``python -m`` runs the same parser."""
    setup = SETUP_PY.read_text(encoding="utf-8")
    assert re.search(
        r"mmspeech-mini-aishell=speechbrain_mmspeech\.mini_aishell\.cli:main",
        setup,
    )
    result = subprocess.run(
        [sys.executable, "-m", "speechbrain_mmspeech.mini_aishell", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--n-unpaired-speakers" in result.stdout
