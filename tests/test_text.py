"""Tests for speechbrain_mmspeech.text: number readings and normalisation."""

import pytest

from speechbrain_mmspeech.text import (
    normalize_text,
    read_cardinal,
    read_digits,
    read_integer,
    read_number,
    split_clauses,
    to_half_width,
    verbalize_numbers,
)


@pytest.mark.parametrize(
    "digits, reading",
    [
        ("0", "零"),
        ("7", "七"),
        ("10", "十"),
        ("15", "十五"),
        ("20", "二十"),
        ("100", "一百"),
        ("101", "一百零一"),
        ("110", "一百一十"),
        ("123", "一百二十三"),
        ("200", "二百"),
        ("1001", "一千零一"),
        ("1010", "一千零一十"),
        ("2000", "两千"),
        ("2200", "两千二百"),
        ("10010", "一万零一十"),
        ("12000", "一万二千"),
        ("20000", "两万"),
        ("100000", "十万"),
        ("110000", "十一万"),
        ("1000001", "一百万零一"),
        ("100001000", "一亿零一千"),
        ("123456789", "一亿二千三百四十五万六千七百八十九"),
    ],
)
def test_read_cardinal(digits, reading):
    assert read_cardinal(digits) == reading


def test_digit_by_digit_readings():
    assert read_digits("0123456789") == "零一二三四五六七八九"
    assert read_integer("007") == "零零七"
    assert read_integer("13812345678") == "一三八一二三四五六七八"


def test_no_number_reads_as_all_zeros():
    # The official code turned every digit into 零.
    for number in range(1, 2000):
        assert set(read_integer(str(number))) != {"零"}


def test_read_number_decimals():
    assert read_number("3.5") == "三点五"
    assert read_number("0.25") == "零点二五"
    assert read_number("10.05") == "十点零五"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1998年", "一九九八年"),
        ("3年", "三年"),
        ("涨了5%", "涨了百分之五"),
        ("12.5%", "百分之十二点五"),
        ("1,200人", "一千二百人"),
        ("第10名", "第十名"),
        ("没有数字", "没有数字"),
    ],
)
def test_verbalize_numbers(text, expected):
    assert verbalize_numbers(text) == expected


def test_to_half_width():
    assert to_half_width("ＡＢＣ１２３，！　") == "ABC123,! "
    assert to_half_width("中文、。《》") == "中文、。《》"


def test_normalize_text_removes_spaces_and_punctuation():
    text = "而 对 楼市 成交 抑制 作用 最 大 的 限 购，“真的”吗？!\u2028"
    assert normalize_text(text) == "而对楼市成交抑制作用最大的限购真的吗"


def test_normalize_text_lowercases_and_reads_full_width_numbers():
    assert normalize_text("ＡＰＰ下载了２０００次") == "app下载了两千次"


def test_split_clauses_splits_at_punctuation_only():
    assert split_clauses("银 行，行走。") == ["银行", "行走"]
    assert split_clauses("，。 ") == []
