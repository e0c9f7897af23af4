"""Fixtures shared by the unit tests in this folder and the recipe tests.

The tiny mini-AISHELL corpus is generated once per session.
"""

import socket

import pytest

from official_layouts import convert_both
from speechbrain_mmspeech.mini_aishell import generate_mini_aishell


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A tiny model converted from both official layouts (``convert_both``)."""
    return convert_both(tmp_path_factory.mktemp("convert"))


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
    output = tmp_path_factory.mktemp("mini_aishell")
    generate_mini_aishell(output, **TINY_CORPUS)
    return output


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
