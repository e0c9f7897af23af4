"""Tests for speechbrain_mmspeech.lm.ngram: Kneser-Ney counts, scorer, search."""

import pytest
import torch
from speechbrain.decoders.scorer import ScorerBuilder

from speechbrain_mmspeech.decoders.phone_ctc import CTCScorer
from speechbrain_mmspeech.decoders.seq2seq import MMSpeechBeamSearcher
from speechbrain_mmspeech.lm.ngram import NgramLM, NgramLMScorer
from speechbrain_mmspeech.tokenizers import CharTokenizer
from tiny_models import tiny_model

BOS, PAD, EOS, UNK = 0, 1, 2, 3
A, B, C = 4, 5, 6  # "a b c" of the hand-computed examples
SMALL_VOCAB = 7
TEXT_VOCAB = 20
VOCAB = 30  # the decoder's ids: text, then audio codes
TEXTS = ["今天天气很好", "我们去公园", "天气很好", "今天我们去"]


def fitted(order, discount=0.5):
    """The hand-computed example: "ab" twice and "ac" once."""
    return NgramLM(SMALL_VOCAB, order=order, discount=discount).fit(
        [[A, B], [A, B], [A, C]]
    )


def test_bigram_matches_the_hand_computation():
    # Unigram continuation counts: a, b, c follow one id each, </s> two
    # (b, c); 5 in all, 4 ids seen, 4 predictable ids (not <s>, <pad>,
    # <unk>).
    p1 = {A: 0.5 / 5 + 0.5 * 4 / 5 / 4, EOS: 1.5 / 5 + 0.5 * 4 / 5 / 4}
    probs = fitted(2).probs(torch.tensor([[A], [BOS], [C]]))
    # After "a": b twice, c once; 2 distinct continuations.
    assert probs[0, B].item() == pytest.approx(1.5 / 3 + 0.5 * 2 / 3 * p1[A])
    assert probs[0, C].item() == pytest.approx(0.5 / 3 + 0.5 * 2 / 3 * p1[A])
    # After <s>: "a" three times, one continuation.
    assert probs[1, A].item() == pytest.approx(2.5 / 3 + 0.5 / 3 * p1[A])
    assert probs[2, EOS].item() == pytest.approx(0.5 + 0.5 * p1[EOS])
    assert (probs[:, [BOS, PAD, UNK]] == 0).all()


def test_trigram_matches_the_hand_computation():
    # Bigrams not starting with <s> use continuation counts: "a b" and
    # "a c" follow only <s>, so P2(b | a) = 0.5 / 2 + 0.5 * 2 / 2 * P1(b).
    p1_b = 0.5 / 5 + 0.5 * 4 / 5 / 4
    p2_b = 0.5 / 2 + 0.5 * p1_b
    probs = fitted(3).probs(torch.tensor([[BOS, A], [B, A]]))
    assert probs[0, B].item() == pytest.approx(1.5 / 3 + 0.5 * 2 / 3 * p2_b)
    # "b a" was never seen: the bigram decides.
    assert probs[1, B].item() == pytest.approx(p2_b)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_probabilities_sum_to_one(order):
    torch.manual_seed(0)
    sentences = [torch.randint(3, 12, (n,)).tolist() for n in range(1, 30)]
    lm = NgramLM(12, order=order).fit(sentences)
    histories = torch.randint(0, 12, (50, order - 1))
    histories[:5] = BOS  # sentence starts
    histories[5:10] = torch.tensor(sentences[-1][: order - 1] or [])
    sums = lm.probs(histories).sum(dim=-1)
    assert torch.allclose(sums, torch.ones(50), atol=1e-5)


def test_discounts_come_from_the_counts_of_counts():
    lm = fitted(2, discount=None)
    # Bigram counts 3, 2, 1, 2, 1: n1 = 2, n2 = 2, D = 2 / (2 + 4).
    after_a = lm.probs(torch.tensor([[A]]))[0]
    d = 2 / 6
    p1 = lm.unigram
    assert after_a[B].item() == pytest.approx(
        (2 - d) / 3 + d * 2 / 3 * p1[B].item()
    )


def test_unfitted_and_empty_models_are_uniform():
    for lm in [NgramLM(6, order=2), NgramLM(6, order=2).fit([])]:
        probs = lm.probs(torch.tensor([[A]]))[0]
        third = 1 / 3
        assert probs.tolist() == pytest.approx([0, 0, third, 0, third, third])


def test_unknown_characters_are_dropped_and_never_predicted(caplog):
    """Text full of <unk> (characters outside the vocabulary): the LM
    counts the rest, logs how many it dropped, never predicts <unk>."""
    with caplog.at_level("INFO"):
        lm = NgramLM(SMALL_VOCAB, order=2).fit([[UNK, A, UNK, B], [UNK] * 6])
    assert "8 unpredicted ids" in caplog.text
    probs = lm.probs(torch.tensor([[A], [BOS], [UNK]]))
    assert (probs[:, UNK] == 0).all()
    assert probs[0, B] > 0.5  # "a b" once <unk> is dropped
    assert torch.allclose(probs.sum(dim=-1), torch.ones(3, dtype=probs.dtype))


def test_bad_ids_and_orders_are_refused():
    with pytest.raises(ValueError, match="ids must lie"):
        NgramLM(6, order=2).fit([[7]])
    with pytest.raises(ValueError, match="int64"):
        NgramLM(21134, order=5)


def test_state_dict_round_trip(tmp_path):
    lm = fitted(3, discount=None)
    torch.save(lm.state_dict(), tmp_path / "ngram_lm.ckpt")
    loaded = NgramLM(SMALL_VOCAB, order=3)
    loaded.load_state_dict(torch.load(tmp_path / "ngram_lm.ckpt"))
    histories = torch.tensor([[BOS, BOS], [BOS, A], [A, B], [C, C]])
    assert torch.equal(loaded.probs(histories), lm.probs(histories))
    with pytest.raises(RuntimeError, match="not of order 2"):
        NgramLM(SMALL_VOCAB, order=2).load_state_dict(lm.state_dict())
    with pytest.raises(RuntimeError, match="not of order 4"):
        NgramLM(SMALL_VOCAB, order=4).load_state_dict(lm.state_dict())


def test_sentence_log_prob_sums_the_steps():
    lm = fitted(2)
    probs = lm.probs(torch.tensor([[BOS], [A], [B]]))
    expected = probs[0, A].log() + probs[1, B].log() + probs[2, EOS].log()
    assert lm.sentence_log_prob([A, B]) == pytest.approx(expected.item())


def test_scorer_prefers_the_frequent_continuation_and_pads():
    scorer = NgramLMScorer(fitted(3), vocab_size=10)
    builder = ScorerBuilder(full_scorers=[scorer], weights={"ngramlm": 0.5})
    assert builder.full_scorers == {"ngramlm": scorer}
    start, memory = scorer.score(torch.tensor([BOS, BOS]), None, None, None)
    assert start.shape == (2, 10) and start[0].argmax().item() == A
    scores, memory = scorer.score(torch.tensor([A, C]), memory, None, None)
    assert memory.tolist() == [[BOS, A], [BOS, C]]
    assert scores[0, B] > scores[0, C] > scores[0, UNK]
    assert (scores[:, [BOS, PAD, 7, 8, 9]] == -1e20).all()
    assert scorer.permute_mem(memory, torch.tensor([1, 1])).tolist() == [
        [BOS, C],
        [BOS, C],
    ]
    # A zero weight adds exactly nothing.
    assert (scores * 0.0 == 0).all()


def tokenizer():
    char_tokenizer = CharTokenizer()
    char_tokenizer.build(TEXTS, TEXT_VOCAB)
    return char_tokenizer


def text_lm(order=3):
    chars = tokenizer()
    lm = NgramLM(TEXT_VOCAB, order=order)
    return lm.fit(chars.encode_as_ids(text) for text in TEXTS * 5)


def builder(model, ngram_weight, phone_weight):
    partial = []
    weights = {"ngramlm": ngram_weight}
    if phone_weight:
        partial = [CTCScorer(model, tokenizer(), vocab_size=VOCAB)]
        weights["ctc"] = phone_weight
    return ScorerBuilder(
        full_scorers=[NgramLMScorer(text_lm(), vocab_size=VOCAB)],
        partial_scorers=partial,
        weights=weights,
        scorer_beam_scale=2,
    )


def search(model, scorer, beam_size, use_cache):
    searcher = MMSpeechBeamSearcher(
        model,
        text_vocab_size=TEXT_VOCAB,
        no_repeat_ngram_size=3,
        banned_indices=[BOS, PAD],
        bos_index=BOS,
        eos_index=EOS,
        beam_size=beam_size,
        min_decode_ratio=0.0,
        max_decode_ratio=1.0,
        using_eos_threshold=False,
        use_cache=use_cache,
        scorer=scorer,
    )
    torch.manual_seed(3)
    lens = torch.tensor([1.0, 0.7])
    with torch.no_grad():
        memory = model.encode(torch.randn(2, 100, 80), lens)
        hyps, _, _, _ = searcher(memory, lens)
    return [[int(t) for t in hyp] for hyp in hyps]


@pytest.mark.parametrize("beam_size", [1, 5])
def test_beam_search_with_the_phone_scorer(beam_size):
    model = tiny_model(VOCAB, decoder={"max_positions": 16}).eval()
    scorer = builder(model, 0.5, 0.4)
    cached = search(model, scorer, beam_size, use_cache=True)
    assert len(cached) == 2
    assert all(all(3 <= t < TEXT_VOCAB for t in hyp) for hyp in cached)
    assert search(model, scorer, beam_size, use_cache=False) == cached


def bigrams(text):
    """Character pairs of a sentence, with ^ and $ at its ends."""
    padded = f"^{text}$"
    return list(zip(padded, padded[1:]))


@pytest.mark.parametrize("beam_size", [1, 5])
def test_a_heavy_weight_writes_what_the_text_pool_says(beam_size):
    model = tiny_model(VOCAB, decoder={"max_positions": 16}).eval()
    hyps = search(model, builder(model, 20.0, 0.0), beam_size, True)
    seen = {pair for text in TEXTS for pair in bigrams(text)}
    for hyp in hyps:
        decoded = tokenizer().decode_ids(hyp)
        assert decoded and set(bigrams(decoded)) <= seen, decoded
    # Weight 0 decodes as the decoder alone.
    plain = search(model, None, beam_size, True)
    assert search(model, builder(model, 0.0, 0.0), beam_size, True) == plain
