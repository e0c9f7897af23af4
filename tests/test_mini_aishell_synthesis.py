"""Tests of mini-AISHELL's speech synthesis (espeak-ng reading pinyin).

Authors
 * MMSpeech plugin contributors 2026
"""

import pytest

from speechbrain_mmspeech.mini_aishell import synthesis
from speechbrain_mmspeech.mini_aishell.synthesis import (
    check_espeak,
    espeak_phonemes,
)
from speechbrain_mmspeech.mini_aishell.text import clause_pinyin


def test_espeak_reads_pinyin_not_english():
    """espeak-ng's pinyin voice reads tone syllables, and v as u-umlaut."""
    phonemes = espeak_phonemes(["ni3", "hao3", "lv4", "lu4"])
    assert all("(" not in p and any(c.isdigit() for c in p) for p in phonemes)
    assert phonemes[2] != phonemes[3]  # lv4 (ü) differs from lu4 (u)
    assert clause_pinyin("绿") == ["lv4"]


def test_missing_espeak_is_a_clear_error(monkeypatch):
    """Without espeak-ng the error names the install command."""
    monkeypatch.setattr(synthesis.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng"):
        check_espeak()
