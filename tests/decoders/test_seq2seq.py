"""Tests for speechbrain_mmspeech.decoders.seq2seq: n-gram bans and beam search.

Beam search with and without the decoder cache, with and without an LM,
one utterance at a time and in padded batches.
"""

import pytest
import torch
from speechbrain.decoders.scorer import ScorerBuilder

from speechbrain_mmspeech.decoders.scorers import TransformerLMScorer
from speechbrain_mmspeech.decoders.seq2seq import (
    MMSpeechBeamSearcher,
    banned_ngram_tokens,
)
from speechbrain_mmspeech.lobes.models.transformer_lm import TransformerLM
from tiny_models import tiny_model

VOCAB = 30
TEXT_VOCAB = 20
BOS, PAD, EOS = 0, 1, 2
FAVOURITE = 5  # the text token the rigged model prefers
CODE = 25  # an audio-code id (>= TEXT_VOCAB) the rigged model prefers most


@pytest.mark.parametrize(
    "history, size, expected",
    [
        ([[1, 2, 3, 1, 2]], 3, [[3]]),
        ([[5, 6, 5, 7, 5]], 2, [[6, 7]]),
        ([[5, 5]], 2, [[5]]),
        ([[1, 2, 3]], 2, [[]]),
        ([[1, 2]], 3, [[]]),
        ([[1]], 2, [[]]),
        ([[4, 4, 4]], 0, [[]]),
        ([[7, 8, 7]], 1, [[7, 8, 7]]),
        ([[1, 2, 1], [3, 1, 3]], 2, [[2], [1]]),
        ([[1, 2, 9, 1, 2, 8, 1, 2]], 3, [[9, 8]]),
    ],
)
def test_banned_ngram_tokens(history, size, expected):
    assert banned_ngram_tokens(torch.tensor(history), size) == expected


def test_banned_ngram_tokens_empty_history():
    assert banned_ngram_tokens(torch.zeros(2, 0, dtype=torch.long), 2) == [
        [],
        [],
    ]


def rigged_model(max_positions=32):
    """A tiny model whose next-token scores are fixed, whatever the input.

    The final LayerNorm outputs the constant e_0, so the (tied) logits are
    column 0 of the embedding table: the audio code CODE scores highest,
    then <s> and <pad>, then FAVOURITE, then 6, 7, ...; </s> scores lowest.
    """
    sizes = {"max_positions": max_positions, "rel_pos_bucket_size": 8}
    model = tiny_model(VOCAB, decoder=sizes).eval()
    decoder = model.decoder
    with torch.no_grad():
        decoder.layer_norm.weight.zero_()
        decoder.layer_norm.bias.zero_()
        decoder.layer_norm.bias[0] = 1.0
        scores = torch.zeros(VOCAB)
        scores[FAVOURITE:TEXT_VOCAB] = torch.linspace(
            5, 1, TEXT_VOCAB - FAVOURITE
        )
        scores[[BOS, PAD]] = 9.0
        scores[CODE] = 10.0
        scores[EOS] = -10.0
        decoder.embed_tokens.weight[:, 0] = scores
    return model


def make_searcher(model, **overrides):
    options = {
        "text_vocab_size": TEXT_VOCAB,
        "no_repeat_ngram_size": 0,
        "banned_indices": [BOS, PAD],
        "bos_index": BOS,
        "eos_index": EOS,
        "beam_size": 3,
        "min_decode_ratio": 0.0,
        "max_decode_ratio": 1.0,
        "using_eos_threshold": False,
    }
    options.update(overrides)
    return MMSpeechBeamSearcher(model, **options)


def search(searcher, model, frames=60, batch=2):
    torch.manual_seed(3)
    with torch.no_grad():
        memory = model.encode(torch.randn(batch, frames, 80))
        hyps, _, _, _ = searcher(memory, torch.ones(batch))
    return [[int(t) for t in hyp] for hyp in hyps]


def test_rigged_model_emits_the_forbidden_code_without_restrictions():
    model = rigged_model()
    hyps = search(
        make_searcher(model, text_vocab_size=None, banned_indices=()), model
    )
    assert all(hyp and set(hyp) == {CODE} for hyp in hyps)


def test_searcher_never_emits_codes_or_banned_ids():
    model = rigged_model()
    hyps = search(make_searcher(model), model)
    # 60 frames -> 14 encoder frames -> 14 steps, the last one </s>.
    assert all(len(hyp) == 13 for hyp in hyps)
    assert all(set(hyp) == {FAVOURITE} for hyp in hyps)


def test_no_repeated_ngram_when_the_model_wants_to_repeat():
    model = rigged_model()
    hyps = search(make_searcher(model, no_repeat_ngram_size=2), model)
    for hyp in hyps:
        assert len(hyp) == 13
        assert all(2 < t < TEXT_VOCAB for t in hyp)
        bigrams = list(zip(hyp, hyp[1:]))
        assert len(set(bigrams)) == len(bigrams), hyp
        # Three FAVOURITE and one 6 in either order score the same (the
        # order is up to rounding).
        assert hyp[:4] in (
            [FAVOURITE, FAVOURITE, 6, FAVOURITE],
            [FAVOURITE, 6, FAVOURITE, FAVOURITE],
        )


@pytest.mark.parametrize("use_cache", [True, False])
def test_steps_are_capped_by_the_decoder_positions(use_cache):
    model = rigged_model(max_positions=8)
    lengths = []
    decode, decode_step = model.decode, model.decode_step

    def recording_decode(tokens, memory, enc_lens=None):
        lengths.append(tokens.shape[1])
        return decode(tokens, memory, enc_lens)

    def recording_decode_step(tokens, cache):
        lengths.append(cache.length + 1)
        return decode_step(tokens, cache)

    model.decode, model.decode_step = recording_decode, recording_decode_step
    searcher = make_searcher(model, beam_size=2, use_cache=use_cache)
    assert searcher.max_steps == 7
    # 2000 frames -> 499 encoder frames: 499 steps by max_decode_ratio.
    hyps = search(searcher, model, frames=2000, batch=1)
    assert max(lengths) == 7
    assert len(hyps[0]) == 6  # 7 steps, the last one forced to </s>


def test_change_max_decoding_length():
    searcher = make_searcher(rigged_model(max_positions=8))
    assert searcher.change_max_decoding_length(3, 100) == (3, 7)
    assert searcher.change_max_decoding_length(10, 100) == (7, 7)
    assert searcher.change_max_decoding_length(0, 5) == (0, 5)
    # Without a scorer only the text ids are scored.
    assert searcher.set_n_out() == TEXT_VOCAB


def random_model():
    """A tiny model with random weights: varied, long hypotheses."""
    sizes = {"max_positions": 32, "rel_pos_bucket_size": 8, "num_layers": 2}
    return tiny_model(VOCAB, decoder=sizes).eval()


def padded_features():
    """Three utterances of 120, 84 and 54 frames, padded to 120."""
    torch.manual_seed(3)
    lengths = [120, 84, 54]
    feats = torch.zeros(len(lengths), max(lengths), 80)
    utterances = []
    for row, length in enumerate(lengths):
        utterances.append(torch.randn(length, 80))
        feats[row, :length] = utterances[-1]
    relative = torch.tensor(lengths, dtype=torch.float) / max(lengths)
    return feats, relative, utterances


def tiny_lm_scorer(weight=0.5):
    """LM fusion with a tiny random LM over the text ids."""
    torch.manual_seed(4)
    lm = TransformerLM(
        vocab=TEXT_VOCAB, d_model=16, nhead=2, num_encoder_layers=1, d_ffn=32
    ).eval()
    return ScorerBuilder(
        full_scorers=[TransformerLMScorer(lm, vocab_size=VOCAB)],
        weights={"transformerlm": weight},
    )


@pytest.mark.parametrize("beam_size", [1, 5])
@pytest.mark.parametrize("with_lm", [False, True])
def test_cached_search_equals_uncached(beam_size, with_lm):
    model = random_model()
    feats, lens, _ = padded_features()
    with torch.no_grad():
        memory = model.encode(feats, lens)
    results = []
    for use_cache in (True, False):
        searcher = make_searcher(
            model,
            beam_size=beam_size,
            no_repeat_ngram_size=2,
            use_cache=use_cache,
            scorer=tiny_lm_scorer() if with_lm else None,
        )
        with torch.no_grad():
            results.append(searcher(memory, lens))
    (cached, *cached_rest), (uncached, *uncached_rest) = results
    assert cached == uncached
    assert min(len(hyp) for hyp in cached) > 10  # a real test of the cache
    for expected, actual in zip(uncached_rest, cached_rest):
        torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


def test_cached_search_with_lm_scores_the_whole_vocabulary():
    model = random_model()
    searcher = make_searcher(model, scorer=tiny_lm_scorer())
    assert searcher.set_n_out() == VOCAB


def test_scorers_get_text_ids_after_an_utterance_ends():
    """Once every beam of an utterance has ended, the searcher picks an
    arbitrary next id for it (here an audio code); an LM over the text ids
    reads </s> instead of failing on an out-of-range id."""

    class EndsFirstUtterance(MMSpeechBeamSearcher):
        def forward_step(self, inp_tokens, memory, enc_states, enc_lens):
            log_probs, memory, attn = super().forward_step(
                inp_tokens, memory, enc_states, enc_lens
            )
            if (
                memory.tokens.shape[1] == 3
            ):  # the third step: </s> for utterance 0
                log_probs[0] = self.minus_inf
                log_probs[0, EOS] = 0.0
            return log_probs, memory, attn

    model = rigged_model()
    torch.manual_seed(0)
    lm = TransformerLM(
        vocab=TEXT_VOCAB, d_model=16, nhead=2, num_encoder_layers=1, d_ffn=32
    ).eval()
    inputs = []
    lm.register_forward_pre_hook(lambda _, args: inputs.append(args[0]))
    scorer = ScorerBuilder(
        full_scorers=[TransformerLMScorer(lm, vocab_size=VOCAB)],
        weights={"transformerlm": 0.3},
    )
    searcher = EndsFirstUtterance(
        model,
        text_vocab_size=TEXT_VOCAB,
        banned_indices=[BOS, PAD],
        bos_index=BOS,
        eos_index=EOS,
        beam_size=1,
        min_decode_ratio=0.0,
        max_decode_ratio=1.0,
        using_eos_threshold=False,
        scorer=scorer,
    )
    hyps = search(searcher, model)
    assert len(hyps[0]) == 2 and len(hyps[1]) == 13
    assert max(int(tokens.max()) for tokens in inputs) < TEXT_VOCAB
    hyps = search(searcher, model)
    assert all(hyp and all(2 < t < TEXT_VOCAB for t in hyp) for hyp in hyps)


@pytest.mark.parametrize("use_cache", [True, False])
def test_batched_search_equals_one_utterance_at_a_time(use_cache):
    model = random_model()
    feats, lens, utterances = padded_features()
    # Steps capped below the shortest encoder length: the same for all.
    searcher = make_searcher(
        model,
        beam_size=5,
        no_repeat_ngram_size=2,
        max_decode_length=12,
        use_cache=use_cache,
    )
    with torch.no_grad():
        batched, _, batched_scores, _ = searcher(
            model.encode(feats, lens), lens
        )
        for row, utterance in enumerate(utterances):
            memory = model.encode(utterance[None], torch.ones(1))
            alone, _, scores, _ = searcher(memory, torch.ones(1))
            assert alone[0] == batched[row]
            torch.testing.assert_close(
                scores[0], batched_scores[row], atol=1e-5, rtol=1e-5
            )
