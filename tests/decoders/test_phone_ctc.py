"""Tests for speechbrain_mmspeech.decoders.phone_ctc: prefix scores and search.

The prefix scores are checked against references that share no code with
the scorer: a sum over every alignment (all label paths of a few frames),
a textbook CTC forward pass, and ``torch.nn.functional.ctc_loss``. A stand-in
phone head (the "hidden states" are the phone logits, or fixed logits that
spell given phones) makes the audio say what a test needs, and a "rigged"
decoder gives the same next-token scores whatever the input.

Authors
 * MMSpeech plugin contributors 2026
"""

import itertools

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.decoders.scorer import ScorerBuilder

from speechbrain_mmspeech.decoders.phone_ctc import (
    MINUS_INF,
    CharPhoneTable,
    CTCScorer,
    phone_ctc_log_likelihood,
)
from speechbrain_mmspeech.decoders.scorers import TransformerLMScorer
from speechbrain_mmspeech.decoders.seq2seq import MMSpeechBeamSearcher
from speechbrain_mmspeech.lobes.models.transformer_lm import TransformerLM
from speechbrain_mmspeech.pinyin import LETTER_READINGS
from speechbrain_mmspeech.tokenizers import CharTokenizer, PinyinTokenizer
from tiny_models import tiny_model

BOS, PAD, EOS, UNK = 0, 1, 2, 3
TEXTS = ["他我很难", "今天天气很好", "你们好。a"]
TEXT_VOCAB = 20
VOCAB = 30  # the decoder's ids: text, then audio codes
CODE = 25  # an audio code
PINYIN = PinyinTokenizer()

# A toy inventory (blank 0 and phones 1-3) for sums over all alignments.
TOY_CLASSES = 4
TOY_PHONES = {4: [1], 5: [2, 1], 6: [1, 1], 7: [3, 2, 3], 8: []}
TOY_VOCAB = 10
HETERONYM = 9  # two readings: [2] and [1, 3]
HETERONYM_READINGS = [[2], [1, 3]]


def toy_table():
    """The toy table: ids 0-3 and 8 without phones, 9 with two readings."""
    phones = torch.full((TOY_VOCAB, 2, 3), -1)
    lengths = torch.full((TOY_VOCAB, 2), -1)
    lengths[:, 0] = 0
    readings = {key: [value] for key, value in TOY_PHONES.items()}
    readings[HETERONYM] = HETERONYM_READINGS
    for index, reads in readings.items():
        for k, reading in enumerate(reads):
            lengths[index, k] = len(reading)
            if reading:
                phones[index, k, : len(reading)] = torch.tensor(reading)
    return CharPhoneTable(phones, lengths)


def tokenizer():
    """The decoder's character tokenizer (20 text ids)."""
    char_tokenizer = CharTokenizer()
    char_tokenizer.build(TEXTS, TEXT_VOCAB)
    return char_tokenizer


def char_id(char):
    """The id of one character of ``TEXTS``."""
    return tokenizer().token_to_id(char)


def phone_classes(text):
    """The CTC classes of a text's phones."""
    return PINYIN.ids_to_ctc_targets(PINYIN.encode_as_ids(text))


def random_log_probs(batch, frames, classes, seed=0):
    """Peaky random phone log-posteriors ``[batch, frames, classes]``."""
    torch.manual_seed(seed)
    logits = 3.0 * torch.randn(batch, frames, classes, dtype=torch.float64)
    return logits.log_softmax(dim=-1)


def packed(log_probs, lengths=None):
    """A packed memory whose hidden states are the phone log-posteriors."""
    batch, frames, _ = log_probs.shape
    if lengths is None:
        lengths = torch.full((batch,), frames)
    valid = torch.arange(frames)[None, :] < torch.as_tensor(lengths)[:, None]
    valid = valid.unsqueeze(-1).to(log_probs.dtype)
    return torch.cat([log_probs, torch.zeros_like(log_probs), valid], dim=-1)


def identity_scorer(table, **kwargs):
    """A scorer whose phone head returns the hidden states unchanged."""
    return CTCScorer(lambda hidden: hidden, table, **kwargs)


def walk(scorer, memory, sequences, candidates=None):
    """Runs the scorer along given token sequences, as a searcher would.

    ``sequences`` holds ``batch * beam`` equally long sequences, beam-major
    per utterance; ``candidates(step)`` gives the candidates of each step
    (default: all ids). Returns the scores of every step and of the step
    after the last token (``[hyps, vocab]`` each).
    """
    scorer.reset_mem(memory, None)
    n_hyps, batch = len(sequences), memory.shape[0]
    beam = n_hyps // batch
    vocab = scorer.char_phone_table.vocab_size
    state, tokens, steps = None, torch.full((n_hyps,), BOS), []
    for step in range(len(sequences[0]) + 1):
        cands = None if candidates is None else candidates(step)
        scores, out = scorer.score(tokens, state, cands, None)
        steps.append(scores)
        if step == len(sequences[0]):
            return steps
        tokens = torch.tensor([seq[step] for seq in sequences])
        index = torch.arange(beam).repeat(batch) * vocab + tokens
        state = scorer.permute_mem(out, index.view(batch, beam))


def walked_log_probs(steps, sequences):
    """Prefix and full-sequence log-probabilities from ``walk`` scores."""
    prefix = torch.zeros(len(sequences), dtype=torch.float64)
    for step, scores in enumerate(steps[:-1]):
        tokens = torch.tensor([seq[step] for seq in sequences])
        prefix += scores[torch.arange(len(sequences)), tokens]
    return prefix, prefix + steps[-1][:, EOS]


def brute_force(log_probs, labels):
    """Prefix and full log-probabilities of ``labels`` over all paths."""
    frames, classes = log_probs.shape
    paths = list(itertools.product(range(classes), repeat=frames))
    path_log_probs = log_probs[torch.arange(frames), torch.tensor(paths)]
    path_log_probs = path_log_probs.sum(dim=1)
    prefix, full = [], []
    for path in paths:
        output = [k for k, _ in itertools.groupby(path) if k != 0]
        prefix.append(output[: len(labels)] == labels)
        full.append(output == labels)
    return (
        torch.logsumexp(path_log_probs[torch.tensor(prefix)], dim=0).item(),
        torch.logsumexp(path_log_probs[torch.tensor(full)], dim=0).item(),
    )


def prefix_dp(log_probs, labels):
    """Textbook CTC forward pass over ``blank l1 blank ... lL blank``; the
    prefix probability sums, over frames, the entries into ``lL``'s state
    from an earlier state."""
    if not labels:
        return 0.0
    extended = [0]
    for label in labels:
        extended += [label, 0]
    target = 2 * len(extended[1::2]) - 1

    def logsumexp(terms):
        return torch.logsumexp(torch.tensor(terms, dtype=torch.float64), 0)

    def entries(alpha, s):
        terms = [alpha[s - 1]] if s >= 1 else []
        if s >= 2 and extended[s] != 0 and extended[s] != extended[s - 2]:
            terms.append(alpha[s - 2])
        return terms or [float("-inf")]

    alpha, entered = None, []
    for frame in log_probs.tolist():
        if alpha is None:
            into = [0.0] if target == 1 else [float("-inf")]
            alpha = [float("-inf")] * len(extended)
            alpha[0], alpha[1] = frame[0], frame[extended[1]]
        else:
            into = entries(alpha, target)
            alpha = [
                logsumexp([alpha[s], *entries(alpha, s)]).item()
                + frame[extended[s]]
                for s in range(len(extended))
            ]
        entered.append(logsumexp(into).item() + frame[extended[target]])
    return logsumexp(entered).item()


TOY_SEQUENCES = [
    [4],
    [4, 4],  # the same phone across characters needs a blank
    [5, 4],  # 2 1 then 1
    [6],  # a repeat inside a character
    [6, 4],
    [5, 6],
]


@pytest.mark.parametrize("sequence", TOY_SEQUENCES)
def test_scores_equal_the_sum_over_all_alignments(sequence):
    log_probs = random_log_probs(1, 6, TOY_CLASSES)
    table = toy_table()
    steps = walk(identity_scorer(table), packed(log_probs), [sequence])
    prefix, full = walked_log_probs(steps, [sequence])
    labels = table.sequence_phones(sequence)
    expected_prefix, expected_full = brute_force(log_probs[0], labels)
    assert prefix.item() == pytest.approx(expected_prefix, abs=1e-9)
    assert full.item() == pytest.approx(expected_full, abs=1e-9)
    assert prefix.item() == pytest.approx(
        prefix_dp(log_probs[0], labels), abs=1e-9
    )
    helper = phone_ctc_log_likelihood(
        log_probs, torch.tensor([6]), [sequence], table
    )
    assert helper.item() == pytest.approx(expected_full, abs=1e-9)


@pytest.mark.parametrize("text", ["很难", "他我很难", "难难", "你们好", "a他"])
def test_real_characters_match_a_forward_pass_and_ctc_loss(text):
    """很难 is h e3 n + n a2 n: the same phone across characters."""
    char_tokenizer = tokenizer()
    ids = char_tokenizer.encode_as_ids(text)
    log_probs = random_log_probs(1, 40, PINYIN.num_ctc_classes, seed=1)
    scorer = identity_scorer(char_tokenizer)
    steps = walk(scorer, packed(log_probs), [ids])
    prefix, full = walked_log_probs(steps, [ids])
    labels = phone_classes(text)
    assert scorer.char_phone_table.sequence_phones(ids) == labels
    assert prefix.item() == pytest.approx(
        prefix_dp(log_probs[0], labels), abs=1e-7
    )
    ctc = torch.nn.functional.ctc_loss(
        log_probs.transpose(0, 1),
        torch.tensor([labels]),
        torch.tensor([40]),
        torch.tensor([len(labels)]),
        reduction="none",
    )
    assert full.item() == pytest.approx(-ctc.item(), abs=1e-7)


def test_partial_scoring_equals_full_scoring_on_the_candidates():
    log_probs = random_log_probs(1, 8, TOY_CLASSES)
    sequences = [[5, 4, 7]]
    full = walk(identity_scorer(toy_table()), packed(log_probs), sequences)

    def candidates(step):
        # The next token, then two others (eos is not a candidate).
        next_token = sequences[0][step] if step < 3 else 6
        return torch.tensor([[next_token, 8, 6 if next_token != 6 else 4]])

    partial = walk(
        identity_scorer(toy_table()), packed(log_probs), sequences, candidates
    )
    for step, (expected, actual) in enumerate(zip(full, partial)):
        cands = candidates(step)[0]
        assert torch.allclose(actual[0, cands], expected[0, cands])
        assert actual[0, EOS] == pytest.approx(expected[0, EOS].item())
        others = torch.ones(TOY_VOCAB, dtype=torch.bool)
        others[cands], others[EOS] = False, False
        assert (actual[0, others] == MINUS_INF).all()
        assert actual[0, PAD] == MINUS_INF  # the id SpeechBrain calls blank
    # Scores never add probability: banned ids stay banned.
    assert all((scores <= 1e-9).all() for scores in full)


@pytest.mark.parametrize("prefix_beam", [None, 1, 2])
def test_padded_batch_equals_one_at_a_time(prefix_beam):
    """The shorter utterance comes second, so that no state of it sits in
    column 0 of the batch; with a prefix beam, prefixes are pruned (the
    toy tree has inner nodes at every level, and 6 repeats its phone)."""
    lengths = [9, 5]
    log_probs = random_log_probs(2, 9, TOY_CLASSES, seed=3)
    # Garbage in the padding: it must be ignored.
    log_probs[1, 5:] = torch.randn(4, TOY_CLASSES, dtype=torch.float64)
    sequences = [[5, 4], [7, 6], [4, 4], [9, 8]]  # two beams per utterance
    batched = walk(
        identity_scorer(toy_table(), prefix_beam=prefix_beam),
        packed(log_probs, lengths),
        sequences,
    )
    for utterance, length in enumerate(lengths):
        alone = walk(
            identity_scorer(toy_table(), prefix_beam=prefix_beam),
            packed(log_probs[utterance : utterance + 1, :length]),
            sequences[2 * utterance : 2 * utterance + 2],
        )
        for expected, actual in zip(alone, batched):
            rows = actual[2 * utterance : 2 * utterance + 2]
            finite = expected > MINUS_INF
            assert torch.equal(finite, rows > MINUS_INF)
            assert torch.allclose(rows[finite], expected[finite], atol=1e-6)


def test_characters_without_phones_are_never_free():
    """An id without phones scores minus_inf (it is never heard), and a
    state that goes through one anyway is the state before it."""
    log_probs = random_log_probs(1, 8, TOY_CLASSES, seed=3)
    scorer = identity_scorer(toy_table())
    with_silent = walk(scorer, packed(log_probs), [[5, 8, 3, 4]])
    without = walk(scorer, packed(log_probs), [[5, 4]])
    for step in (1, 2):  # scoring <unk> (3) and 8 after 5
        assert with_silent[step][0, 8] == MINUS_INF
        assert with_silent[step][0, UNK] == MINUS_INF
    assert torch.equal(with_silent[3], without[1])
    assert torch.equal(with_silent[4], without[2])


def test_heteronyms_take_the_best_reading():
    log_probs = random_log_probs(1, 6, TOY_CLASSES, seed=4)
    labels = [toy_table().sequence_phones([5])]
    prefixes = [
        brute_force(log_probs[0], labels[0] + reading)[0]
        for reading in HETERONYM_READINGS
    ]
    steps = walk(identity_scorer(toy_table()), packed(log_probs), [[5, 9, 4]])
    prefix, _ = walked_log_probs(steps[:2], [[5]])
    assert (prefix + steps[1][0, HETERONYM]).item() == pytest.approx(
        max(prefixes), abs=1e-9
    )
    # The search goes on from the best reading.
    best = HETERONYM_READINGS[prefixes.index(max(prefixes))]
    total, full = walked_log_probs(steps, [[5, 9, 4]])
    expected = brute_force(log_probs[0], labels[0] + best + [1])
    assert total.item() == pytest.approx(expected[0], abs=1e-9)
    assert full.item() == pytest.approx(expected[1], abs=1e-9)


def test_impossible_hypotheses_are_penalised_once():
    log_probs = random_log_probs(1, 2, TOY_CLASSES, seed=5)
    steps = walk(identity_scorer(toy_table()), packed(log_probs), [[7, 4]])
    assert steps[0][0, 7] == MINUS_INF  # three phones in two frames
    assert (steps[1][0, [4, 5, EOS]] == 0.0).all()
    assert (steps[2][0, [4, 5, EOS]] == 0.0).all()


def test_table_of_a_tokenizer():
    char_tokenizer = tokenizer()
    table = CharPhoneTable.from_tokenizers(char_tokenizer, vocab_size=VOCAB)
    assert table.phones.shape[:2] == (VOCAB, 1)
    for index, token in enumerate(char_tokenizer.tokens):
        length = int(table.lengths[index, 0])
        # Characters have phones; specials and <unused_k> have none.
        expected = phone_classes(token) if len(token) == 1 else []
        assert table.phones[index, 0, :length].tolist() == expected, token
        assert (table.phones[index, 0, length:] == -1).all()
    assert (table.lengths[TEXT_VOCAB:, 0] == 0).all()  # audio codes
    letter = [PINYIN.token_to_id(p) for p in LETTER_READINGS["a"].split()]
    assert phone_classes("a") == PINYIN.ids_to_ctc_targets(letter)
    pinyin_tokenizer = PinyinTokenizer()
    others = CharTokenizer(["a", "。", "α", "他"])
    table = CharPhoneTable.from_tokenizers(others, pinyin_tokenizer)
    assert table.lengths[:, 0].tolist() == [0, 0, 0, 0, 1, 0, 0, 2]
    assert table.sequence_phones(range(8)) == phone_classes("a他")
    assert not pinyin_tokenizer.dropped_chars  # the table is not text


def test_heteronym_table():
    table = CharPhoneTable.from_tokenizers(
        CharTokenizer(["行", "我"]), heteronyms=True
    )
    readings = [
        table.phones[4, k, : table.lengths[4, k]].tolist()
        for k in range(table.lengths.shape[1])
        if table.lengths[4, k] >= 0
    ]
    assert readings[0] == phone_classes("行")  # the default reading first
    assert phone_classes("银行")[3:] in readings  # hang2
    assert (table.lengths[5, 1:] == -1).all()  # 我 has one reading


def test_score_hypotheses_equals_the_incremental_scores():
    lengths = [9, 6]
    log_probs = random_log_probs(2, 9, TOY_CLASSES, seed=6)
    scorer = identity_scorer(toy_table())
    nbest = [[[5, 4], [7]], [[4]]]
    scores = scorer.score_hypotheses(packed(log_probs, lengths), nbest)
    for utterance, (hyps, length) in enumerate(zip(nbest, lengths)):
        alone = packed(log_probs[utterance : utterance + 1, :length])
        for k, hyp in enumerate(hyps):
            _, full = walked_log_probs(walk(scorer, alone, [hyp]), [hyp])
            assert scores[utterance][k].item() == pytest.approx(full.item())


# Beam search with a rigged decoder and a phone head that spells phones.


class SpelledPhones:
    """A phone head whose frames spell given phones, blanks elsewhere."""

    def __init__(self, *texts):
        self.classes = [c for text in texts for c in (*phone_classes(text), 0)]

    def __call__(self, hidden):
        batch, frames, _ = hidden.shape
        logits = torch.zeros(batch, frames, PINYIN.num_ctc_classes)
        logits[:, :, 0] = 20.0
        for frame, phone in enumerate(self.classes[: frames - 1], start=1):
            logits[:, frame, 0], logits[:, frame, phone] = 0.0, 20.0
        return logits


def rigged_model(favourites):
    """A tiny model with fixed next-token logits, whatever the input.

    The final LayerNorm outputs e_0, so the tied logits are column 0 of the
    embeddings: an audio code first, then <s> and <pad>, the ``favourites``
    ({id: logit}), </s> (1.0, so that a hypothesis ends once the audio's
    phones are spent), the other text ids (0.0).
    """
    model = tiny_model(VOCAB, decoder={"max_positions": 32}).eval()
    scores = torch.zeros(VOCAB)
    for index, score in favourites.items():
        scores[index] = score
    scores[[BOS, PAD]] = 9.0
    scores[CODE] = 10.0
    scores[EOS] = 1.0
    decoder = model.decoder
    with torch.no_grad():
        decoder.layer_norm.weight.zero_()
        decoder.layer_norm.bias.zero_()
        decoder.layer_norm.bias[0] = 1.0
        decoder.embed_tokens.weight[:, 0] = scores
    return model


def make_searcher(model, scorer=None, **overrides):
    options = {
        "text_vocab_size": TEXT_VOCAB,
        "banned_indices": [BOS, PAD],
        "bos_index": BOS,
        "eos_index": EOS,
        "beam_size": 3,
        "min_decode_ratio": 0.0,
        "max_decode_ratio": 1.0,
        "using_eos_threshold": False,
        "scorer": scorer,
    }
    options.update(overrides)
    return MMSpeechBeamSearcher(model, **options)


def phone_builder(
    phone_head, weight=0.5, table=None, lm=None, lm_weight=0.0, full=False
):
    """A ScorerBuilder with the phone CTC scorer (and the LM if given);
    ``full``: the phone scorer scores every id, not the pruned candidates."""
    scorer = CTCScorer(phone_head, table or tokenizer(), vocab_size=VOCAB)
    weights = {"ctc": weight}
    full_scorers = [scorer] if full else []
    if lm is not None:
        full_scorers.append(TransformerLMScorer(lm, vocab_size=VOCAB))
        weights["transformerlm"] = lm_weight
    return ScorerBuilder(
        full_scorers=full_scorers,
        partial_scorers=[] if full else [scorer],
        weights=weights,
        scorer_beam_scale=2,
    )


def search(searcher, model, lens=(1.0, 0.7), frames=100):
    torch.manual_seed(3)
    lens = torch.tensor(lens)
    with torch.no_grad():
        memory = model.encode(torch.randn(len(lens), frames, 80), lens)
        hyps, _, _, _ = searcher(memory, lens)
    return [[int(t) for t in hyp] for hyp in hyps]


@pytest.mark.parametrize("spoken", ["他", "我"])
def test_equal_decoder_scores_the_phones_decide(spoken):
    ta, wo = char_id("他"), char_id("我")
    model = rigged_model({ta: 2.0, wo: 2.0})
    plain = search(make_searcher(model), model)
    assert all(hyp[0] in (ta, wo) for hyp in plain)  # whatever the audio
    builder = phone_builder(SpelledPhones(spoken))
    hyps = search(make_searcher(model, builder), model)
    assert hyps == [[char_id(spoken)], [char_id(spoken)]]


def test_the_phones_overrule_a_slight_decoder_preference():
    ta, wo = char_id("他"), char_id("我")
    model = rigged_model({ta: 2.0, wo: 2.2})
    plain = search(make_searcher(model), model)
    assert all(hyp and set(hyp) == {wo} for hyp in plain)
    builder = phone_builder(SpelledPhones("他"))
    assert search(make_searcher(model, builder), model) == [[ta], [ta]]


def test_banned_ids_stay_banned():
    """The phones spell 他 three times and an audio code's phones are 他's,
    yet no audio code is emitted and n-grams do not repeat."""
    ta = char_id("他")
    model = rigged_model({ta: 2.0})
    table = CharPhoneTable.from_tokenizers(tokenizer(), vocab_size=VOCAB)
    table.phones[CODE] = table.phones[ta]
    table.lengths[CODE] = table.lengths[ta]
    builder = phone_builder(SpelledPhones("他", "他", "他"), 0.9, table)
    searcher = make_searcher(model, builder, no_repeat_ngram_size=1)
    for hyp in search(searcher, model):
        assert hyp[0] == ta and hyp.count(ta) == 1
        assert all(3 < t < TEXT_VOCAB for t in hyp)


def tiny_lm():
    torch.manual_seed(0)
    return TransformerLM(
        vocab=TEXT_VOCAB, d_model=16, nhead=2, num_encoder_layers=1, d_ffn=32
    ).eval()


def lm_builder(lm):
    """LM fusion alone (None without an LM)."""
    if lm is None:
        return None
    return ScorerBuilder(
        full_scorers=[TransformerLMScorer(lm, vocab_size=VOCAB)],
        weights={"transformerlm": 0.3},
    )


@pytest.mark.parametrize("beam_size", [1, 5])
@pytest.mark.parametrize("with_lm", [False, True])
def test_end_to_end_on_a_tiny_model(beam_size, with_lm):
    model = tiny_model(VOCAB, decoder={"max_positions": 16}).eval()
    lm = tiny_lm() if with_lm else None

    def decode(builder):
        return search(make_searcher(model, builder, beam_size=beam_size), model)

    hyps = decode(phone_builder(model, 0.4, lm=lm, lm_weight=0.3))
    assert len(hyps) == 2
    assert all(all(3 <= t < TEXT_VOCAB for t in hyp) for hyp in hyps)
    # Weight 0: the phone scorer runs, and decodes as without it.
    zero = decode(phone_builder(model, 0.0, lm=lm, lm_weight=0.3))
    assert zero == decode(lm_builder(lm))


def test_candidates_without_phones_are_scored():
    """A step whose candidates all lack phones (</s>, <unk>) still scores:
    </s> by the phones ending there, <unk> minus_inf."""
    scorer = identity_scorer(tokenizer(), vocab_size=VOCAB)
    memory = packed(random_log_probs(2, 12, PINYIN.num_ctc_classes))
    steps = walk(
        scorer, memory, [[], []], lambda step: torch.tensor([[EOS, UNK]] * 2)
    )
    assert steps[0].shape == (2, VOCAB)
    assert (steps[0][:, UNK] == MINUS_INF).all()
    assert (steps[0][:, EOS] > MINUS_INF).all()


def test_full_scorer_equals_partial_scorer_over_every_id():
    model = tiny_model(VOCAB, decoder={"max_positions": 16}).eval()
    partial = phone_builder(model, 0.4)
    partial.scorer_beam_scale = VOCAB  # every id is a candidate
    full = phone_builder(model, 0.4, full=True)
    assert list(full.full_scorers) == ["ctc"]
    expected = search(make_searcher(model, partial, beam_size=2), model)
    assert search(make_searcher(model, full, beam_size=2), model) == expected


YAML = """
tokenizer: !new:speechbrain_mmspeech.tokenizers.CharTokenizer

model: !new:speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
    encoder: !new:speechbrain_mmspeech.lobes.models.encoder.SpeechEncoder
        d_model: 16
        nhead: 2
        num_layers: 2
        d_ffn: 32
        subsample_channels: 4
        context_layer: 1
        pos_conv_depth: 1
        pos_conv_kernel: 3
        pos_conv_groups: 2
    decoder: !new:speechbrain_mmspeech.lobes.models.decoder.TextDecoder
        vocab_size: 30
        d_model: 16
        nhead: 2
        num_layers: 1
        d_ffn: 32
        max_positions: 16
        rel_pos_bucket_size: 4

lm_model: !new:speechbrain_mmspeech.lobes.models.transformer_lm.TransformerLM
    vocab: 20
    d_model: 16
    nhead: 2
    num_encoder_layers: 1
    d_ffn: 32

scorer: !new:speechbrain.decoders.scorer.ScorerBuilder
    full_scorers:
        - !new:speechbrain_mmspeech.decoders.scorers.TransformerLMScorer
            language_model: !ref <lm_model>
            vocab_size: 30
    partial_scorers:
        - !new:speechbrain_mmspeech.decoders.phone_ctc.CTCScorer
            phone_head: !ref <model>
            char_phones: !ref <tokenizer>
            eos_index: 2
    weights:
        transformerlm: 0.3
        ctc: 0.4
    scorer_beam_scale: 2

decoder: !new:speechbrain_mmspeech.decoders.seq2seq.MMSpeechBeamSearcher
    model: !ref <model>
    text_vocab_size: 20
    banned_indices: [0, 1]
    bos_index: 0
    eos_index: 2
    beam_size: 3
    min_decode_ratio: 0.0
    max_decode_ratio: 1.0
    using_eos_threshold: False
    scorer: !ref <scorer>
"""


def test_yaml_wiring_with_the_lm():
    hparams = load_hyperpyyaml(YAML)
    scorer = hparams["scorer"]
    assert set(scorer.full_scorers) == {"transformerlm"}
    assert set(scorer.partial_scorers) == {"ctc"}
    phone_scorer = scorer.partial_scorers["ctc"]
    assert phone_scorer.vocab_size == VOCAB  # read from the model
    # The tokenizer is filled after the YAML is read, as a Pretrainer does.
    hparams["tokenizer"].build(TEXTS, TEXT_VOCAB)
    model = hparams["model"].eval()
    hyps = search(hparams["decoder"], model)
    assert all(all(3 <= t < TEXT_VOCAB for t in hyp) for hyp in hyps)
    table = phone_scorer.char_phone_table
    assert table.sequence_phones([char_id("他")]) == phone_classes("他")


# The full scorer: readings scored at once, before the searcher prunes.


@pytest.mark.parametrize("heteronyms", [False, True])
def test_reading_tree_scores_equal_per_character_scores(heteronyms):
    """Scoring the vocabulary through the reading tree (homophones share a
    reading's score) equals scoring every id as its own candidate."""
    char_tokenizer = CharTokenizer()
    char_tokenizer.build(["他她塔踏我窝握今天天气很好你们好难男南行长"], 40)
    vocab = len(char_tokenizer) + 4
    scorer = CTCScorer(
        lambda hidden: hidden,
        char_tokenizer,
        heteronyms=heteronyms,
        vocab_size=vocab,
    )
    log_probs = random_log_probs(2, 9, PINYIN.num_ctc_classes, seed=4)
    every_id = torch.arange(vocab).expand(6, vocab)
    sequences = [[4, 7], [5, 9], [6, 6], [8, 4], [9, 10], [11, 5]]
    full = walk(scorer, packed(log_probs, [9, 7]), sequences)
    each = walk(
        scorer, packed(log_probs, [9, 7]), sequences, lambda _: every_id
    )
    for full_step, each_step in zip(full, each):
        finite = each_step > MINUS_INF
        assert torch.equal(finite, full_step > MINUS_INF)
        assert torch.allclose(full_step[finite], each_step[finite], atol=1e-9)


def test_a_pruned_prefix_beam_keeps_the_best_readings():
    """With a prefix beam of 1, the readings under the most probable prefix
    keep their exact scores; the others score minus_inf."""
    ta = char_id("他")
    exact = identity_scorer(tokenizer(), vocab_size=VOCAB)
    pruned = identity_scorer(tokenizer(), vocab_size=VOCAB, prefix_beam=1)
    memory = packed(SpelledPhones("他")(torch.zeros(1, 6, 1)).log_softmax(-1))
    exact_scores = walk(exact, memory, [[]])[0]
    pruned_scores = walk(pruned, memory, [[]])[0]
    assert pruned_scores[0, ta] == exact_scores[0, ta]
    assert (pruned_scores <= exact_scores).all()
    assert (pruned_scores == MINUS_INF).sum() > (
        exact_scores == MINUS_INF
    ).sum()


@pytest.mark.parametrize("seed", range(4))
def test_a_pruned_prefix_beam_never_borrows_a_score(seed):
    """With a prefix beam of 1, a reading scores its exact prefix
    probability or minus_inf, never a score computed from another prefix
    (7, phones 3 2 3, lies under a pruned prefix whenever 3 is not the best
    first phone); the heteronym 9 keeps the best of its unpruned readings.
    Hypotheses that took a pruned token are dead (scored 0 from then on)
    and not compared."""
    log_probs = random_log_probs(1, 7, TOY_CLASSES, seed=seed)
    sequences = [[4, 5], [5, 4], [6, 4], [7, 6]]  # four beams
    exact = walk(identity_scorer(toy_table()), packed(log_probs), sequences)
    pruned = walk(
        identity_scorer(toy_table(), prefix_beam=1),
        packed(log_probs),
        sequences,
    )
    one_reading = torch.arange(TOY_VOCAB) != HETERONYM
    alive = torch.ones(len(sequences), dtype=torch.bool)
    for step, (exact_step, pruned_step) in enumerate(zip(exact, pruned)):
        exact_step, pruned_step = exact_step[alive], pruned_step[alive]
        assert (pruned_step <= exact_step + 1e-9).all()
        scored = (pruned_step > MINUS_INF) & one_reading
        assert torch.allclose(
            pruned_step[scored], exact_step[scored], atol=1e-9
        )
        if step < len(sequences[0]):
            tokens = torch.tensor([seq[step] for seq in sequences])
            taken = pruned[step][torch.arange(len(sequences)), tokens]
            alive &= taken > MINUS_INF


def test_a_character_outside_the_decoders_favourites_wins():
    """The decoder ranks 他 below six other characters: a partial scorer
    (beam 3 x 2 candidates) never scores it, the full scorer lets the
    phones bring it in."""
    ta = char_id("他")
    others = [char_id(c) for c in "今天气很好你"]
    model = rigged_model({**dict.fromkeys(others, 3.0), ta: 0.0})
    spoken = SpelledPhones("他")
    partial = search(make_searcher(model, phone_builder(spoken, 0.9)), model)
    assert all(ta not in hyp for hyp in partial)
    full = search(
        make_searcher(model, phone_builder(spoken, 0.9, full=True)), model
    )
    assert full == [[ta], [ta]]


def test_unknown_and_phoneless_ids_are_never_emitted():
    """A decoder that prefers <unk> and 。, and a character n-gram fitted on
    text full of unknown characters: the search still writes what the phones
    spell, never <unk> nor 。."""
    from speechbrain_mmspeech.lm.ngram import NgramLM, NgramLMScorer

    ta, period = char_id("他"), char_id("。")
    model = rigged_model({UNK: 6.0, period: 6.0, ta: 0.0})
    ngram = NgramLM(vocab_size=TEXT_VOCAB, order=2)
    ngram.fit([[UNK] * 8, [UNK, ta, UNK, UNK], [UNK] * 5])
    assert ngram.probs(torch.tensor([[ta], [BOS]]))[:, UNK].eq(0).all()
    phone_scorer = CTCScorer(SpelledPhones("他"), tokenizer(), vocab_size=VOCAB)
    builder = ScorerBuilder(
        full_scorers=[NgramLMScorer(ngram, vocab_size=VOCAB), phone_scorer],
        weights={"ngramlm": 1.0, "ctc": 0.9},
    )
    searcher = make_searcher(model, builder, banned_indices=[BOS, PAD, UNK])
    for hyp in search(searcher, model):
        assert UNK not in hyp and period not in hyp
        assert hyp == [ta]
