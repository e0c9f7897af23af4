"""Tests of speechbrain_mmspeech/dataio/text_pool.py: the held-out policy."""

import pytest

from speechbrain_mmspeech.dataio.text_pool import (
    read_text_pool,
    training_sentences,
)

HEADER = "ID,duration,wav,transcript\n"


@pytest.fixture
def hparams(tmp_path):
    """Dev holds 天气, test 公园; the text file has one of each, in two ways."""
    (tmp_path / "dev.csv").write_text(HEADER + "d1,1.0,a.wav,天 气\n")
    (tmp_path / "test.csv").write_text(HEADER + "t1,1.0,a.wav,公园\n")
    text = tmp_path / "text.txt"
    text.write_text("今天 天气\n天气。\n去，公园！\n\n你好\n", encoding="utf-8")
    return {
        "valid_csv": tmp_path / "dev.csv",
        "test_csv": tmp_path / "test.csv",
        "text_files": [text],
        "text_files_have_ids": False,
        "use_train_transcripts": False,
        "drop_heldout_sentences": True,
        "max_text_chars": 128,
        "max_text_sentences": None,
        "max_sentence_chars": 200,
    }


def test_pool_and_lm_text_leave_out_the_same_lines(hparams):
    # 天气 (the line) and 公园 (a clause) are held out; 今天天气 is not.
    assert read_text_pool(hparams) == ["今天天气", "你好"]
    assert training_sentences(hparams) == ["今天天气", "你好"]
    hparams["max_text_sentences"] = 1
    assert read_text_pool(hparams) == ["今天天气"]


@pytest.mark.parametrize("read", [read_text_pool, training_sentences])
def test_heldout_text_is_an_error_by_default(hparams, read):
    hparams["drop_heldout_sentences"] = False
    with pytest.raises(ValueError, match=r"text.txt:2: .* 天气 "):
        read(hparams)
