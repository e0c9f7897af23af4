"""Fixtures for the AISHELL-1 recipe tests: import path and a tiny corpus.

The recipe scripts are not a package, so ``recipes/AISHELL-1`` is put on
``sys.path``. The tiny mini-AISHELL corpus is generated once per session.

Authors
 * MMSpeech plugin contributors 2026
"""

import sys
from pathlib import Path

import pytest

RECIPE_DIR = Path(__file__).resolve().parents[2] / "recipes" / "AISHELL-1"
if str(RECIPE_DIR) not in sys.path:
    sys.path.insert(0, str(RECIPE_DIR))

# 3 train speakers x 3 utterances, 1 dev, 1 test and 1 unpaired speaker.
TINY_CORPUS = {
    "seed": 7,
    "n_train_speakers": 3,
    "n_dev_speakers": 1,
    "n_test_speakers": 1,
    "utts_per_speaker": 3,
    "n_unpaired_speakers": 1,
}


@pytest.fixture(scope="session")
def tiny_settings():
    """Settings of the tiny corpus (``generate_mini_aishell`` keywords).

    Returns
    -------
    dict
        A copy of ``TINY_CORPUS``.
    """
    return dict(TINY_CORPUS)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """Generates the tiny mini-AISHELL once; returns its output folder.

    Arguments
    ---------
    tmp_path_factory : pytest.TempPathFactory
        pytest's session temporary folders.

    Returns
    -------
    pathlib.Path
        The folder holding ``data_aishell/``, ``text_corpus.txt`` and
        ``unpaired_speech/``. Tests must not modify it.
    """
    from mini_aishell import generate_mini_aishell

    output = tmp_path_factory.mktemp("mini_aishell")
    generate_mini_aishell(output, **TINY_CORPUS)
    return output
