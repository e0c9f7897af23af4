"""Counting and smoothing: sentences of ids to an n-gram LM's tables.

``NgramLM.fit`` (``speechbrain_mmspeech.lm.ngram``) calls these: its
tables are what this module estimates, its queries read them. Each
sentence is counted as ``<s>`` x (order - 1), its ids, ``</s>``
(``sentence_stream``), and ``kneser_ney`` turns the counts into one sorted
tensor of n-gram keys per order with their discounted probabilities, the
keys of the histories with their backoff weights, and the unigram. An
n-gram's key is the sum of its ids times powers of the number of ids, the
oldest id highest.

Smoothing (Chen and Goodman's interpolated Kneser-Ney, one discount per
order, ``D = n1 / (n1 + 2 n2)`` from the counts of counts unless given)::

    P_n(w | h) = max(a(hw) - D_n, 0) / a(h.) + D_n N1+(h.) / a(h.) P_{n-1}(w | h')

where ``h'`` drops the oldest id of ``h``, ``a`` is the raw count at the
highest order and for n-grams that start with ``<s>``, the number of
distinct ids seen before it otherwise (continuation count), ``a(h.)`` its
sum over ``w`` and ``N1+(h.)`` the number of ``w`` with ``a(hw) > 0``. An
unseen history gives ``P_n = P_{n-1}``. The unigram interpolates with the
uniform distribution over the ids that can be predicted.

Authors
 * MMSpeech plugin contributors 2026
"""

import logging

import torch

FALLBACK_DISCOUNT = 0.5  # when the counts of counts cannot estimate one

logger = logging.getLogger(__name__)


def sentence_stream(
    sequences, vocab_size, order, bos_index, eos_index, unpredicted_indices
):
    """All sentences, padded, in one tensor; positions of their ids.

    Unpredicted ids (``<unk>``: characters outside the vocabulary) are
    dropped from the sentences, so that the LM never predicts them; how
    many is logged.

    Arguments
    ---------
    sequences : iterable of list of int
        One list of text ids per sentence, without ``<s>``/``</s>``.
    vocab_size, order, bos_index, eos_index, unpredicted_indices
        The LM's settings, as in ``speechbrain_mmspeech.lm.ngram.NgramLM``.

    Returns
    -------
    tokens : torch.Tensor
        Each sentence as ``<s>`` x (order - 1), its kept ids, ``</s>``.
    positions : torch.Tensor
        The positions in ``tokens`` of the ids an n-gram ends with (all
        but the ``<s>`` padding).

    Example
    -------
    >>> tokens, positions = sentence_stream([[4, 1, 5]], 7, 3, 0, 2, [0, 1])
    >>> tokens.tolist(), positions.tolist()
    ([0, 0, 4, 5, 2], [2, 3, 4])
    """
    pad = [bos_index] * (order - 1)
    unpredicted = set(unpredicted_indices)
    stream, ends, start, dropped = [], [], 0, 0
    for ids in sequences:
        kept = [index for index in ids if index not in unpredicted]
        dropped += len(ids) - len(kept)
        sentence = [*pad, *kept, eos_index]
        stream.extend(sentence)
        ends.append((start + len(pad), start + len(sentence)))
        start += len(sentence)
    if dropped:
        logger.info(
            "Character n-gram: %d unpredicted ids (<unk>: characters "
            "outside the vocabulary) dropped from the text",
            dropped,
        )
    tokens = torch.tensor(stream, dtype=torch.long)
    if len(tokens) and (tokens.min() < 0 or tokens.max() >= vocab_size):
        raise ValueError(f"ids must lie in [0, {vocab_size})")
    positions = [torch.arange(a, b) for a, b in ends]
    if not positions:
        return tokens, torch.zeros(0, dtype=torch.long)
    return tokens, torch.cat(positions)


def kneser_ney(
    tokens,
    positions,
    vocab_size,
    order,
    bos_index,
    unpredicted_indices,
    discount=None,
):
    """The smoothed tables of the n-grams ending at ``positions``.

    Arguments
    ---------
    tokens, positions : torch.Tensor
        The counted text, as ``sentence_stream`` returns it.
    vocab_size, order, bos_index, unpredicted_indices, discount
        The LM's settings, as in ``speechbrain_mmspeech.lm.ngram.NgramLM``.

    Returns
    -------
    unigram : torch.Tensor
        ``[vocab_size]`` float probabilities.
    tables : dict
        For each order ``n`` from 2: ``(ngrams, probs, contexts,
        backoffs)``, the sorted n-gram keys with their discounted
        probabilities (float) and the sorted keys of their histories with
        their backoff weights (float).

    Example
    -------
    >>> tokens, positions = sentence_stream([[4, 5]], 7, 2, 0, 2, [0, 1])
    >>> unigram, tables = kneser_ney(tokens, positions, 7, 2, 0, [0, 1], 0.5)
    >>> ngrams, probs, contexts, backoffs = tables[2]
    >>> ngrams.tolist(), contexts.tolist()  # <s>a, ab, b</s>: a * 7 + b
    ([4, 33, 37], [0, 4, 5])
    >>> probs.tolist(), backoffs.tolist()
    ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    """
    # Keys of the n-grams ending at each position, for n = 1 .. order:
    # key = sum of the ids times powers of vocab, the oldest id highest.
    keys, counted = tokens[positions], []
    for n in range(1, order + 1):
        if n > 1:
            keys = keys + tokens[positions - n + 1] * vocab_size ** (n - 1)
        counted.append(torch.unique(keys, return_counts=True))
    tables = {}
    for n in range(order, 0, -1):
        ngrams, counts = counted[n - 1]
        if n < order:
            counts = _adjusted_counts(
                ngrams, counts, counted[n][0], n, vocab_size, bos_index
            )
        discount_n = _discount(counts, discount)
        counts = counts.double()
        if n == 1:
            unigram = _unigram(
                ngrams, counts, discount_n, vocab_size, unpredicted_indices
            )
            continue
        contexts, inverse = torch.unique(
            torch.div(ngrams, vocab_size, rounding_mode="floor"),
            return_inverse=True,
        )
        totals = torch.zeros(len(contexts), dtype=torch.double)
        totals.index_add_(0, inverse, counts)
        types = torch.bincount(inverse, minlength=len(contexts))
        probs = (counts - discount_n).clamp(min=0) / totals[inverse]
        backoffs = discount_n * types / totals
        tables[n] = (ngrams, probs.float(), contexts, backoffs.float())
    return unigram, tables


def _adjusted_counts(ngrams, counts, longer, n, vocab_size, bos_index):
    """Continuation counts, but raw counts for n-grams starting with <s>.

    ``longer`` holds the distinct (n + 1)-grams; the number of those
    ending with an n-gram is the number of ids seen before it.
    """
    suffixes, predecessors = torch.unique(
        longer % vocab_size**n, return_counts=True
    )
    index = torch.searchsorted(suffixes, ngrams).clamp(
        max=max(len(suffixes) - 1, 0)
    )
    continuation = torch.where(
        suffixes[index] == ngrams, predecessors[index], 0
    )
    first = torch.div(ngrams, vocab_size ** (n - 1), rounding_mode="floor")
    return torch.where(first == bos_index, counts, continuation)


def _discount(counts, discount):
    """The given discount, or n1 / (n1 + 2 n2) of these counts."""
    if discount is not None:
        return discount
    n1 = int((counts == 1).sum())
    n2 = int((counts == 2).sum())
    if n1 == 0 or n2 == 0:
        return FALLBACK_DISCOUNT
    return n1 / (n1 + 2 * n2)


def _unigram(ids, counts, discount, vocab_size, unpredicted_indices):
    """Discounted unigram interpolated with the uniform distribution."""
    uniform = torch.ones(vocab_size, dtype=torch.double)
    uniform[unpredicted_indices] = 0
    uniform /= uniform.sum()
    total = counts.sum()
    if total == 0:
        return uniform.float()
    unigram = uniform * discount * len(ids) / total
    unigram[ids] += (counts - discount).clamp(min=0) / total
    return unigram.float()
