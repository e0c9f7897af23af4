"""Tests for speechbrain_mmspeech.tokenizers: phone and character vocabularies.

Tests marked by the official files read them from ``shared/reference/ofa``
next to the repository and are skipped when that folder is absent.
"""

import logging
from pathlib import Path

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.parameter_transfer import Pretrainer

from speechbrain_mmspeech.pinyin import LETTER_READINGS, build_phone_inventory
from speechbrain_mmspeech.tokenizers import (
    UNK_PLACEHOLDER,
    CharTokenizer,
    PinyinTokenizer,
    escape_token,
    unescape_token,
)

OFFICIAL_DIR = Path(__file__).resolve().parents[2] / "shared/reference/ofa"
NUM_BERT_LINES = 21128
BERT_LINE_OF_U2028 = 344
MIN_SINGLE_CHAR_AGREEMENT = 0.97


def official_file(name):
    """Returns the path of an official reference file or skips the test."""
    if not OFFICIAL_DIR.is_dir():
        pytest.skip(f"official reference files not found in {OFFICIAL_DIR}")
    return OFFICIAL_DIR / name


# PinyinTokenizer: inventory


def test_inventory_layout():
    tokenizer = PinyinTokenizer()
    assert len(tokenizer) == 141
    assert tokenizer.tokens[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert (tokenizer.bos_index, tokenizer.pad_index) == (0, 1)
    assert (tokenizer.eos_index, tokenizer.unk_index) == (2, 3)
    assert tokenizer.phone_offset == 4
    assert tokenizer.num_phones == 120
    assert tokenizer.mask_index == 124
    assert tokenizer.tokens[125] == "#2" and tokenizer.tokens[140] == "#17"
    assert tokenizer.ctc_blank_index == 0
    assert tokenizer.num_ctc_classes == 121


def test_inventory_equals_official_phone_dict():
    lines = official_file("phone_dict.txt").read_text("utf-8").splitlines()
    official_symbols = [line.split(" ")[0] for line in lines]
    assert build_phone_inventory() == official_symbols[:120]
    assert PinyinTokenizer().tokens[4:] == official_symbols


def test_saved_inventory_is_the_official_file(tmp_path):
    official = official_file("phone_dict.txt")
    PinyinTokenizer().save(tmp_path / "phones.txt")
    assert (tmp_path / "phones.txt").read_text("utf-8") == official.read_text(
        "utf-8"
    )
    loaded = PinyinTokenizer.from_phone_dict(official)
    assert loaded.tokens == PinyinTokenizer().tokens


# PinyinTokenizer: conversion


@pytest.mark.parametrize(
    "text, phones",
    [
        ("张", "zh a1 ng"),
        ("银", "y i2 n"),
        ("北京", "b ei3 j i1 ng"),
        ("女", "n v3"),
        ("略", "l ue4"),
        ("熊", "x i2 o2 ng"),
        ("云", "y u2 n"),
        ("元", "y ua2 n"),
        ("鱼", "y u2"),
        ("句", "j v4"),
        ("军", "j u1 n"),
        ("儿", "er2"),
        ("嗯", "ng"),
        ("吃", "ch i1"),
        ("东西", "d o1 ng x i1"),
        ("什么", "sh e2 n m e5"),
    ],
)
def test_known_pronunciations(text, phones):
    assert PinyinTokenizer().text_to_phones(text) == phones.split()


@pytest.mark.parametrize(
    "text, phones",
    [
        ("银行", "y i2 n h a2 ng"),
        ("行走", "x i2 ng z ou3"),
        ("重要", "zh o4 ng y ao4"),
        ("重新", "ch o2 ng x i1 n"),
        ("长大", "zh a3 ng d a4"),
        ("长度", "ch a2 ng d u4"),
    ],
)
def test_polyphones_follow_phrase_context(text, phones):
    assert PinyinTokenizer().text_to_phones(text) == phones.split()


def test_digits_and_punctuation():
    tokenizer = PinyinTokenizer()
    assert tokenizer.text_to_phones("3个") == tokenizer.text_to_phones("三个")
    assert tokenizer.text_to_phones("1998年") == tokenizer.text_to_phones(
        "一九九八年"
    )
    assert tokenizer.text_to_phones("你好，世界！") == tokenizer.text_to_phones(
        "你好世界"
    )


def test_latin_letters_use_the_letter_table():
    tokenizer = PinyinTokenizer()
    assert tokenizer.text_to_phones("A") == ["ei1"]
    assert tokenizer.text_to_phones("ab") == tokenizer.text_to_phones("AB")
    for reading in LETTER_READINGS.values():
        assert tokenizer.unk_index not in tokenizer.encode_as_ids(reading)
        for phone in reading.split():
            assert tokenizer.token_to_id(phone) != tokenizer.unk_index


def test_characters_without_pinyin_are_dropped_and_counted():
    tokenizer = PinyinTokenizer()
    # Emoji are symbols, removed by normalisation; kana and hangul are dropped.
    assert tokenizer.text_to_phones("한国あ😀") == ["g", "uo2"]
    assert tokenizer.dropped_chars == {"한": 1, "あ": 1}
    assert tokenizer.text_to_phones("") == []


def test_agreement_with_official_single_character_lexicon():
    lexicon = official_file("text2phone_dict.txt")
    pronunciations = {}
    for line in lexicon.read_text("utf-8").splitlines():
        word, _, phones = line.partition("\t")
        if len(word) == 1 and "\u4e00" <= word <= "\u9fff":
            pronunciations.setdefault(word, []).append(phones.split())
    tokenizer = PinyinTokenizer()
    agreeing = sum(
        tokenizer.text_to_phones(char) in options
        for char, options in pronunciations.items()
    )
    assert agreeing / len(pronunciations) >= MIN_SINGLE_CHAR_AGREEMENT
    assert not tokenizer.dropped_chars


def test_encode_decode_and_ctc_targets():
    tokenizer = PinyinTokenizer()
    ids = tokenizer.encode_as_ids("北京欢迎你")
    assert all(4 <= index < 124 for index in ids)
    assert tokenizer.decode_ids(ids) == " ".join(
        tokenizer.text_to_phones("北京欢迎你")
    )
    padded = torch.tensor([tokenizer.bos_index, *ids, tokenizer.eos_index])
    assert tokenizer.decode_ids(padded) == tokenizer.decode_ids(ids)
    targets = tokenizer.ids_to_ctc_targets(ids)
    assert targets == [index - 3 for index in ids]
    assert all(1 <= target < tokenizer.num_ctc_classes for target in targets)
    assert tokenizer.ctc_targets_to_ids(targets) == ids
    tensor_targets = tokenizer.ids_to_ctc_targets(torch.tensor(ids))
    assert tensor_targets.tolist() == targets
    with pytest.raises(ValueError):
        tokenizer.ids_to_ctc_targets([tokenizer.pad_index])
    with pytest.raises(ValueError):
        tokenizer.ids_to_ctc_targets([tokenizer.mask_index])


def test_custom_inventory_file(tmp_path):
    path = tmp_path / "phone_dict.txt"
    path.write_text("b 1\na1 2\n<mask> 3\n", encoding="utf-8")
    tokenizer = PinyinTokenizer.from_phone_dict(path)
    assert len(tokenizer) == 7
    assert (tokenizer.num_phones, tokenizer.mask_index) == (2, 6)
    assert tokenizer.encode_as_ids("八") == [4, 5]


def test_inventory_without_mask_is_rejected():
    with pytest.raises(ValueError):
        PinyinTokenizer(["a1", "b"])


# CharTokenizer


def test_empty_char_tokenizer_holds_the_specials():
    tokenizer = CharTokenizer()
    assert tokenizer.tokens == ["<s>", "<pad>", "</s>", "<unk>"]
    assert tokenizer.mask_index is None and tokenizer.blank_index is None
    assert tokenizer.encode_as_ids("好") == [tokenizer.unk_index]


def test_build_orders_by_count_then_code_point_and_pads():
    tokenizer = CharTokenizer()
    tokenizer.build(["好 好 好", "你们", "你"], vocab_size=10)
    assert len(tokenizer) == 10
    assert tokenizer.tokens[4:7] == ["好", "你", "们"]
    assert tokenizer.tokens[7:] == ["<unused_0>", "<unused_1>", "<unused_2>"]


def test_build_truncates_and_logs(caplog):
    tokenizer = CharTokenizer()
    with caplog.at_level(logging.WARNING):
        tokenizer.build(["aaabbc", "d"], vocab_size=6)
    assert tokenizer.tokens[4:] == ["a", "b"]
    assert "dropped 2 of 4 distinct characters (2 of 7 occurrences)" in (
        caplog.text
    )
    with pytest.raises(ValueError):
        tokenizer.build(["a"], vocab_size=3)


def test_encode_normalises_and_decode_skips_silent_ids():
    tokenizer = CharTokenizer()
    tokenizer.build(["我有十个苹果"], vocab_size=12)
    ids = tokenizer.encode_as_ids("我 有 10 个 梨，")
    assert ids[:4] == [tokenizer.token_to_id(c) for c in "我有十个"]
    assert ids[4] == tokenizer.unk_index
    decorated = [tokenizer.bos_index, *ids, tokenizer.eos_index, 11, 1, 1]
    assert tokenizer.id_to_token(11) == "<unused_1>"
    assert tokenizer.decode_ids(torch.tensor(decorated)) == (
        "我有十个" + UNK_PLACEHOLDER
    )


def write_bert_vocab(path, num_lines):
    """Writes a synthetic BERT-Chinese style vocab.txt with a U+2028 line."""
    lines = ["[PAD]", "[unused1]", "[UNK]", "##子"]
    lines += [chr(0x4E00 + k) for k in range(num_lines - len(lines))]
    lines[BERT_LINE_OF_U2028 - 1] = "\u2028"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def test_from_bert_vocab_layout(tmp_path):
    lines = write_bert_vocab(tmp_path / "vocab.txt", NUM_BERT_LINES)
    tokenizer = CharTokenizer.from_bert_vocab(tmp_path / "vocab.txt")
    assert len(tokenizer) == 21134
    assert tokenizer.tokens[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert tokenizer.token_to_id("[PAD]") == 4
    assert tokenizer.token_to_id(lines[-1]) == 21131
    assert tokenizer.id_to_token(BERT_LINE_OF_U2028 + 3) == "\u2028"
    assert (tokenizer.mask_index, tokenizer.blank_index) == (21132, 21133)
    ids = tokenizer.encode_as_ids("一丁")
    assert ids == [4 + lines.index("一"), 4 + lines.index("丁")]
    silent = [tokenizer.mask_index, tokenizer.blank_index, tokenizer.pad_index]
    decoded = tokenizer.decode_ids(
        [*ids, *silent, tokenizer.token_to_id("##子")]
    )
    assert decoded == "一丁子"


def test_official_bert_vocab_ids():
    tokenizer = CharTokenizer.from_bert_vocab(
        official_file("bert_cn_vocab.txt")
    )
    assert len(tokenizer) == 21134
    assert tokenizer.token_to_id("[PAD]") == 4
    assert tokenizer.token_to_id("[unused1]") == 5
    assert tokenizer.token_to_id("[UNK]") == 104
    assert (tokenizer.mask_index, tokenizer.blank_index) == (21132, 21133)


def test_escape_round_trip():
    for token in [
        "\u2028",
        "a\\b",
        "\\u2028",
        " ",
        "\t",
        "",
        "好",
        "\U0001f600",
    ]:
        escaped = escape_token(token)
        assert "\n" not in escaped and escaped.isprintable()
        assert unescape_token(escaped) == token


def test_char_tokenizer_save_load_round_trip(tmp_path):
    tokenizer = CharTokenizer(["好", "\u2028", "\\u2028", " ", "##a", "a\\"])
    tokenizer.save(tmp_path / "tokens.txt")
    loaded = CharTokenizer()
    loaded.load(tmp_path / "tokens.txt")
    assert loaded.tokens == tokenizer.tokens


@pytest.mark.parametrize("tokenizer_class", [CharTokenizer, PinyinTokenizer])
def test_checkpointer_recovers_tokenizer(tmp_path, tokenizer_class):
    tokenizer = tokenizer_class()
    if tokenizer_class is CharTokenizer:
        tokenizer.build(["北京欢迎你"], vocab_size=12)
    Checkpointer(tmp_path, {"tokenizer": tokenizer}).save_checkpoint()
    recovered = tokenizer_class()
    Checkpointer(tmp_path, {"tokenizer": recovered}).recover_if_possible()
    assert recovered.tokens == tokenizer.tokens


def test_pretrainer_loads_tokenizers(tmp_path):
    char_tokenizer = CharTokenizer()
    char_tokenizer.build(["北京欢迎你"], vocab_size=12)
    char_tokenizer.save(tmp_path / "tokenizer.txt")
    PinyinTokenizer().save(tmp_path / "phone_dict.txt")
    loaded_chars, loaded_phones = CharTokenizer(), PinyinTokenizer(["<mask>"])
    pretrainer = Pretrainer(
        collect_in=tmp_path / "collected",
        loadables={"tokenizer": loaded_chars, "phones": loaded_phones},
        paths={
            "tokenizer": str(tmp_path / "tokenizer.txt"),
            "phones": str(tmp_path / "phone_dict.txt"),
        },
    )
    pretrainer.collect_files()
    pretrainer.load_collected()
    assert loaded_chars.tokens == char_tokenizer.tokens
    assert loaded_phones.tokens == PinyinTokenizer().tokens


def test_tokenizers_from_hyperpyyaml():
    hparams = load_hyperpyyaml(
        "chars: !new:speechbrain_mmspeech.tokenizers.CharTokenizer\n"
        "phones: !new:speechbrain_mmspeech.tokenizers.PinyinTokenizer\n"
    )
    assert len(hparams["chars"]) == 4
    assert len(hparams["phones"]) == 141
