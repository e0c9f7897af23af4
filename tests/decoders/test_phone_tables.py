"""Tests of speechbrain_mmspeech/decoders/phone_tables.py."""

import pytest
import torch

from speechbrain_mmspeech.decoders.phone_tables import (
    CharPhoneTable,
    ReadingTrie,
)
from speechbrain_mmspeech.tokenizers import CharTokenizer


def test_padded_table_adds_phoneless_ids():
    table = CharPhoneTable.from_tokenizers(CharTokenizer(["他", "我"]))
    padded = table.padded(table.vocab_size + 2)
    assert torch.equal(padded.phones[: table.vocab_size], table.phones)
    assert padded.lengths[table.vocab_size :].tolist() == [[0], [0]]
    assert padded.sequence_phones([4, 6, 5]) == table.sequence_phones([4, 5])
    with pytest.raises(ValueError, match="more than the decoder's"):
        table.padded(table.vocab_size - 1)


def test_reading_trie_numbers_every_reading_once():
    table = CharPhoneTable.from_tokenizers(
        CharTokenizer(["他", "她", "塔", "难", "行"]), heteronyms=True
    )
    trie = ReadingTrie.from_table(table)
    n_nodes = sum(len(phones) for _, phones, _ in trie.levels)
    nodes = trie.char_nodes[trie.char_nodes >= 0]
    assert nodes.max() < n_nodes
    # 他 and 她 share their reading, hence their node.
    assert trie.char_nodes[4, 0] == trie.char_nodes[5, 0]
    readings = {
        tuple(table.phones[i, k, : table.lengths[i, k]].tolist())
        for i, k in (trie.char_nodes >= 0).nonzero().tolist()
    }
    assert len(set(nodes.tolist())) == len(readings)
