"""Tests for speechbrain_mmspeech.decoders.hotwords: gate, graph, search.

A stand-in phone head (``SpelledPhones`` of the phone CTC tests: frames
that spell given phones) makes the audio say what a test needs, and a
"rigged" decoder gives the same next-token scores whatever the input, so
that the decoder's preference between homophones is fixed by the test.

Authors
 * MMSpeech plugin contributors 2026
"""

import pytest
import torch
from speechbrain.decoders.scorer import ScorerBuilder
from test_phone_ctc import (
    EOS,
    VOCAB,
    SpelledPhones,
    make_searcher,
    rigged_model,
    search,
)

from speechbrain_mmspeech.decoders.hotwords import (
    ContextGraph,
    HotwordError,
    HotwordScorer,
    HotwordTable,
    read_hotwords,
)
from speechbrain_mmspeech.decoders.phone_ctc import CTCScorer
from speechbrain_mmspeech.tokenizers import CharTokenizer, PinyinTokenizer

TEXTS = ["他她来了", "李明黎明"]
TEXT_VOCAB = 20


def tokenizer():
    char_tokenizer = CharTokenizer()
    char_tokenizer.build(TEXTS, TEXT_VOCAB)
    return char_tokenizer


def ids(text):
    return tokenizer().encode_as_ids(text)


def builder(phone_head, hotwords, weight=3.0, threshold=-1.0):
    """Phone CTC (full) and hotword scorers over the rigged vocabulary."""
    ctc = CTCScorer(phone_head, tokenizer(), vocab_size=VOCAB)
    hot = HotwordScorer(
        phone_head,
        tokenizer(),
        hotwords,
        threshold=threshold,
        vocab_size=VOCAB,
        eos_index=EOS,
    )
    scorer = ScorerBuilder(
        full_scorers=[ctc, hot], weights={"ctc": 0.5, "hotword": weight}
    )
    return scorer, hot


def test_a_hotword_beats_its_homophone_when_its_phones_are_spoken():
    ta, ta_she = ids("他她")
    model = rigged_model({ta: 3.0, ta_she: 2.0})
    phones = SpelledPhones("她")  # t a1: 他 and 她 alike
    plain, _ = builder(phones, None)
    assert search(make_searcher(model, plain), model) == [[ta], [ta]]
    biased, hot = builder(phones, ["她"])
    assert search(make_searcher(model, biased), model) == [[ta_she]] * 2
    assert hot.active_hotwords() == [["她"], ["她"]]


def test_a_hotword_is_not_inserted_when_its_phones_are_absent():
    ta, lai = ids("他来")
    model = rigged_model({ta: 2.0, lai: 2.5})
    phones = SpelledPhones("来")
    plain, _ = builder(phones, None, weight=6.0)
    expected = search(make_searcher(model, plain), model)
    assert expected == [[lai], [lai]]
    gated, hot = builder(phones, ["她", "李明"], weight=6.0)
    assert search(make_searcher(model, gated), model) == expected
    assert hot.active_hotwords() == [[], []]
    # Without the gate the absent hotword would be boosted.
    ungated, hot = builder(phones, ["她"], weight=6.0, threshold=None)
    search(make_searcher(model, ungated), model)
    assert hot.active_hotwords() == [["她"], ["她"]]


def test_a_partial_match_gives_its_bonus_back():
    she, lai, le, ta = ids("她来了他")
    graph = ContextGraph([[she, lai, le]], VOCAB)

    def points(tokens, final_eos=True):
        state, total = 0, 0.0
        for token in tokens:
            total += float(graph.delta[state, token])
            state = int(graph.next[state, token])
        if final_eos:
            total -= float(graph.pending[state])
        return total

    assert points([she, lai, le]) == 3.0  # completed: kept
    assert points([she, lai, ta]) == 0.0  # broken: given back
    assert points([she, lai]) == 0.0  # </s> inside the match
    assert points([she, lai], final_eos=False) == 2.0
    assert points([ta, she, lai, le, ta]) == 3.0
    # A broken match that restarts the hotword keeps the new start.
    assert points([she, she, lai, le]) == 3.0


def test_the_scorer_gives_back_through_the_search_interface():
    she, lai, le, ta = ids("她来了他")
    phones = SpelledPhones("她来了")
    scorer = HotwordScorer(phones, tokenizer(), ["她来了"], vocab_size=VOCAB)
    memory = torch.zeros(1, 40, 2 * 16 + 1)
    memory[..., -1] = 1.0
    scorer.reset_mem(memory, None)
    total, state = 0.0, None
    for token in [0, she, lai]:  # <s> first
        scores, state = scorer.score(torch.tensor([token]), state, None, None)
        nxt = {0: she, she: lai, lai: ta}[token]
        total += float(scores[0, nxt])
    assert total == 0.0  # 她 +1, 来 +1, 他 -2


def test_bad_hotword_lists_are_named(tmp_path):
    with pytest.raises(HotwordError, match="does not exist"):
        read_hotwords(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n", encoding="utf-8")
    with pytest.raises(HotwordError, match="holds no hotword"):
        read_hotwords(empty)
    with pytest.raises(HotwordError, match="empty"):
        HotwordTable([], tokenizer())
    with pytest.raises(HotwordError, match="'ABC' has no Chinese"):
        HotwordTable(["李明", "ABC"], tokenizer())
    with pytest.raises(HotwordError, match="'张三'.*vocabulary"):
        HotwordTable(["张三"], tokenizer())
    with pytest.raises(HotwordError, match="one string"):
        HotwordTable("李明", tokenizer())
    with pytest.raises(HotwordError, match="more than max_hotwords"):
        HotwordTable(["李明", "黎明"], tokenizer(), max_hotwords=1)
    with pytest.raises(HotwordError, match="'李明' has no pinyin"):
        HotwordTable(["李明"], tokenizer(), Mute())
    scorer = HotwordScorer(lambda h: h, tokenizer())
    with pytest.raises(HotwordError, match="one string"):
        scorer.hotwords = "李明"


class Mute(PinyinTokenizer):
    """A phone inventory that reads nothing."""

    def text_to_phones(self, text):
        return []


def test_overlap_suppression_drops_a_near_homophone_not_a_homophone():
    # The audio says li3 ming2: 黎明 (li2 ming2) passes a tone-tolerant
    # gate over the same frames, and loses to 李明 once overlaps compete.
    memory = SpelledPhones("李明")(torch.zeros(1, 12, 1))
    memory = torch.cat([memory, memory, torch.ones(1, 12, 1)], dim=-1)
    phone_head = lambda hidden: hidden  # noqa: E731 (the memory is logits)
    words = ["李明", "黎明"]
    for suppress, expected in [(False, words), (True, ["李明"])]:
        scorer = HotwordScorer(
            phone_head,
            tokenizer(),
            words,
            tone_penalty=0.5,
            suppress_overlaps=suppress,
        )
        scorer.reset_mem(memory, None)
        assert scorer.active_hotwords() == [sorted(expected, key=words.index)]
    # 他 and 她 are both t a1: the same score, neither suppresses the other.
    memory = SpelledPhones("她")(torch.zeros(1, 6, 1))
    memory = torch.cat([memory, memory, torch.ones(1, 6, 1)], dim=-1)
    scorer = HotwordScorer(
        phone_head, tokenizer(), ["他", "她"], suppress_overlaps=True
    )
    scorer.reset_mem(memory, None)
    assert scorer.active_hotwords() == [["他", "她"]]


def test_short_hotwords_have_their_own_threshold():
    # The audio says li3 ming2 lai2: 黎明 (li2 ming2) passes the
    # tone-tolerant gate at a cost; a stricter short-word threshold stops it
    # but not 李明, and not the three-character 黎明来 either.
    memory = SpelledPhones("李明来")(torch.zeros(1, 18, 1))
    memory = torch.cat([memory, memory, torch.ones(1, 18, 1)], dim=-1)
    phone_head = lambda hidden: hidden  # noqa: E731 (the memory is logits)
    words = ["李明", "黎明", "黎明来"]
    scorer = HotwordScorer(
        phone_head, tokenizer(), words, tone_penalty=0.5, short_threshold=None
    )
    scorer.reset_mem(memory, None)
    assert scorer.active_hotwords() == [words]
    near = float(scorer.spotted[0][1])
    assert -1.0 < near < 0.0
    assert scorer.word_thresholds().tolist() == [-1.0] * 3
    scorer.short_threshold = near / 2
    assert scorer.word_thresholds().tolist() == [near / 2, near / 2, -1.0]
    scorer.reset_mem(memory, None)
    assert scorer.active_hotwords() == [["李明", "黎明来"]]
