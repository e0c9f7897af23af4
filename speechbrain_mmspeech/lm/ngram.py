"""A character n-gram language model for MMSpeech decoding, built in seconds.

The decoder guesses characters from the syllables it hears, and homophones
are where it goes wrong; a character n-gram counted on the text pool knows
which of them follow each other. This module holds it:

- ``NgramLM``: interpolated Kneser-Ney over the decoder's text ids (the
  ``CharTokenizer`` ids), of any order. Each sentence is counted as
  ``<s>`` x (order - 1), its ids, ``</s>``, so a history is always the
  last order - 1 ids, ``<s>`` before the first character: the ``<s>`` the
  decoder starts from. ``<s>``, ``<pad>`` and ``<unk>`` are never
  predicted (``<unk>`` is dropped from the text it counts). The
  counts are stored sparsely (one sorted tensor of n-gram keys per order)
  and the distribution after the beam's histories is computed on the fly
  with tensor lookups; ``fit`` counts a million characters in seconds. It
  is an ``nn.Module`` whose state dict is its tables (buffers that take the
  size of what is loaded), so a SpeechBrain checkpointer or ``Pretrainer``
  saves and loads it.
- ``NgramLMScorer``: a SpeechBrain full scorer (weight key ``ngramlm`` in
  ``ScorerBuilder``) that adds ``weight * log p(next | history)`` to every
  beam step, padded to the decoder's vocabulary (text ids then audio codes)
  with ``minus_inf`` for the ids the LM does not cover.

No package that pip installs here fits: ``kenlm``'s module only queries
ARPA/binary models (its estimator ``lmplz`` is a separate C++ program) and
compiles at install, and ``nltk.lm`` scores one word at a time in Python.

Smoothing (Chen and Goodman's interpolated Kneser-Ney, one discount per
order, ``D = n1 / (n1 + 2 n2)`` from the counts of counts unless given)::

    P_n(w | h) = max(a(hw) - D_n, 0) / a(h.) + D_n N1+(h.) / a(h.) P_{n-1}(w | h')

where ``h'`` drops the oldest id of ``h``, ``a`` is the raw count at the
highest order and for n-grams that start with ``<s>``, the number of
distinct ids seen before it otherwise (continuation count), ``a(h.)`` its
sum over ``w`` and ``N1+(h.)`` the number of ``w`` with ``a(hw) > 0``. An
unseen history gives ``P_n = P_{n-1}``. The unigram interpolates with the
uniform distribution over the ids that can be predicted.

Domain adaptation (``speechbrain_mmspeech.adaptation``) adds two things:
``resized`` re-encodes the tables for a grown vocabulary (old ids keep
their probabilities, new ids get none), and ``interpolate`` mixes in a
second ``NgramLM`` of the same ids and order, ``p = (1 - w) p_self + w
p_other``; the mixture is a child module (``mixture.*`` and
``mixture_weight`` in the state dict) that loading re-creates.

Authors
 * MMSpeech plugin contributors 2026
"""

import logging

import torch
from speechbrain.decoders import scorer as sb_scorer

from speechbrain_mmspeech.decoders.scorers import MINUS_INF, pad_to_vocabulary
from speechbrain_mmspeech.tokenizers import (
    BOS_INDEX,
    EOS_INDEX,
    PAD_INDEX,
    UNK_INDEX,
)

FALLBACK_DISCOUNT = 0.5  # when the counts of counts cannot estimate one
MAX_KEY = 2**63  # n-gram keys are int64

logger = logging.getLogger(__name__)


class NgramLM(torch.nn.Module):
    """Interpolated Kneser-Ney character n-gram LM (see the module docstring).

    Arguments
    ---------
    vocab_size : int
        The number of text ids (the LM covers ids ``0 .. vocab_size - 1``).
    order : int
        The n-gram order (1: unigram, 2: bigram, 3: trigram, ...).
    bos_index : int
        ``<s>``: the history before the first character.
    eos_index : int
        ``</s>``: predicted after the last character.
    unpredicted_indices : list of int
        Ids of probability 0 (``<s>``, ``<pad>`` and ``<unk>``), dropped
        from the sentences ``fit`` counts.
    discount : float
        One discount for every order; None estimates one per order from the
        counts of counts when fitting.

    Example
    -------
    >>> lm = NgramLM(vocab_size=7, order=2, discount=0.5)
    >>> _ = lm.fit([[4, 5], [4, 5], [4, 6]])  # "ab", "ab", "ac"
    >>> probs = lm.probs(torch.tensor([[4], [6]]))  # after "a", after "c"
    >>> [round(total, 6) for total in probs.sum(dim=-1).tolist()]
    [1.0, 1.0]
    >>> # P1(b) = (1 - 0.5) / 5 + 0.5 * 4 / 5 / 4: b follows one id (a) of 5
    >>> # continuations; 4 ids have some; 4 ids can be predicted (not <s>,
    >>> # <pad>, <unk>).
    >>> round(float(probs[0, 5]), 4)  # (2 - 0.5) / 3 + 0.5 * 2 / 3 * P1(b)
    0.5667
    >>> bool(probs[0, 5] > probs[0, 6] > probs[0, 3] == 0)
    True
    """

    def __init__(
        self,
        vocab_size,
        order=3,
        bos_index=BOS_INDEX,
        eos_index=EOS_INDEX,
        unpredicted_indices=(BOS_INDEX, PAD_INDEX, UNK_INDEX),
        discount=None,
    ):
        super().__init__()
        if order < 1:
            raise ValueError(f"order must be at least 1, not {order}")
        if vocab_size**order >= MAX_KEY:
            raise ValueError(
                f"{vocab_size} ids to the power {order} do not fit the int64 "
                "n-gram keys: use a lower order"
            )
        self.vocab_size = vocab_size
        self.order = order
        self.bos_index = bos_index
        self.eos_index = eos_index
        self.unpredicted_indices = list(unpredicted_indices)
        self.discount = discount
        predictable = torch.ones(vocab_size)
        predictable[self.unpredicted_indices] = 0
        # Before fitting: the uniform distribution over predictable ids.
        self.register_buffer("unigram", predictable / predictable.sum())
        for n in range(2, order + 1):
            self.register_buffer(
                f"ngrams_{n}", torch.zeros(0, dtype=torch.long)
            )
            self.register_buffer(f"probs_{n}", torch.zeros(0))
            self.register_buffer(
                f"contexts_{n}", torch.zeros(0, dtype=torch.long)
            )
            self.register_buffer(f"backoffs_{n}", torch.zeros(0))
        self.mixture = None
        self.register_buffer("mixture_weight", None)

    def same_kind(self, vocab_size=None):
        """An unfitted NgramLM with these settings (and maybe more ids).

        Arguments
        ---------
        vocab_size : int
            Its number of ids (default: this LM's).

        Returns
        -------
        NgramLM
        """
        return NgramLM(
            vocab_size or self.vocab_size,
            self.order,
            self.bos_index,
            self.eos_index,
            self.unpredicted_indices,
            self.discount,
        ).to(self.unigram.device)

    # ----------------------------------------------------- adaptation
    @torch.no_grad()
    def resized(self, vocab_size):
        """The same LM over ``vocab_size`` ids: old ids keep their
        probabilities, the new ids (at the end) get probability 0.

        Arguments
        ---------
        vocab_size : int
            At least the LM's number of ids.

        Returns
        -------
        NgramLM
            A new LM (with its mixture resized too).

        Example
        -------
        >>> lm = NgramLM(vocab_size=7, order=2).fit([[4, 5], [4, 6]])
        >>> big = lm.resized(9)
        >>> history = torch.tensor([[4]])
        >>> torch.allclose(big.probs(history)[:, :7], lm.probs(history))
        True
        >>> big.probs(history)[0, 7:].tolist()
        [0.0, 0.0]
        """
        if vocab_size < self.vocab_size:
            raise ValueError(
                f"cannot shrink an n-gram LM from {self.vocab_size} to "
                f"{vocab_size} ids"
            )
        grown = self.same_kind(vocab_size)
        grown.unigram = torch.zeros(vocab_size, device=self.unigram.device)
        grown.unigram[: self.vocab_size] = self.unigram
        for n in range(2, self.order + 1):
            for name, length in [("ngrams", n), ("contexts", n - 1)]:
                keys = getattr(self, f"{name}_{n}")
                setattr(
                    grown, f"{name}_{n}", self._rekey(keys, length, vocab_size)
                )
            for name in ["probs", "backoffs"]:
                setattr(
                    grown, f"{name}_{n}", getattr(self, f"{name}_{n}").clone()
                )
        if self.mixture is not None:
            grown.interpolate(
                self.mixture.resized(vocab_size), float(self.mixture_weight)
            )
        return grown

    def _rekey(self, keys, length, vocab_size):
        """Keys of ``length`` ids in base ``vocab_size`` (order kept)."""
        rekeyed = torch.zeros_like(keys)
        for position in range(length):
            digit = (
                torch.div(
                    keys, self.vocab_size**position, rounding_mode="floor"
                )
                % self.vocab_size
            )
            rekeyed += digit * vocab_size**position
        return rekeyed

    def interpolate(self, other, weight):
        """Mixes another LM in: ``p = (1 - weight) p_self + weight p_other``.

        Arguments
        ---------
        other : NgramLM
            An LM over the same ids, of the same order (without a mixture).
        weight : float
            The other LM's weight, in [0, 1].

        Returns
        -------
        NgramLM
            Itself.

        Example
        -------
        >>> a = NgramLM(vocab_size=7, order=2).fit([[4, 5]])
        >>> b = NgramLM(vocab_size=7, order=2).fit([[4, 6]])
        >>> probs = a.interpolate(b, 0.5).probs(torch.tensor([[4]]))
        >>> (
        ...     bool(abs(probs[0, 5] - probs[0, 6]) < 1e-6),
        ...     round(float(probs.sum()), 5),
        ... )
        (True, 1.0)
        """
        if (other.vocab_size, other.order) != (self.vocab_size, self.order):
            raise ValueError(
                "interpolated n-gram LMs need the same ids and order: "
                f"{self.vocab_size} ids and order {self.order}, not "
                f"{other.vocab_size} and {other.order}"
            )
        if other.mixture is not None:
            raise ValueError("the LM mixed in has a mixture of its own")
        if not 0 <= weight <= 1:
            raise ValueError(f"weight must lie in [0, 1], not {weight}")
        self.mixture = other
        self.mixture_weight = torch.tensor(
            float(weight), device=self.unigram.device
        )
        return self

    # ------------------------------------------------------------ fitting
    @torch.no_grad()
    def fit(self, sequences):
        """Counts sentences and sets the smoothed tables (replacing any).

        Arguments
        ---------
        sequences : iterable of list of int
            One list of text ids per sentence, without ``<s>``/``</s>``.

        Returns
        -------
        NgramLM
            Itself, fitted.
        """
        tokens, ends = self._stream(sequences)
        vocab = self.vocab_size
        device = self.unigram.device
        # Keys of the n-grams ending at each position, for n = 1 .. order:
        # key = sum of the ids times powers of vocab, the oldest id highest.
        keys, counted = tokens[ends], []
        for n in range(1, self.order + 1):
            if n > 1:
                keys = keys + tokens[ends - n + 1] * vocab ** (n - 1)
            counted.append(torch.unique(keys, return_counts=True))
        for n in range(self.order, 0, -1):
            ngrams, counts = counted[n - 1]
            if n < self.order:
                counts = self._adjusted_counts(ngrams, counts, counted[n][0], n)
            discount = self._discount(counts)
            counts = counts.double()
            if n == 1:
                self._set_unigram(ngrams, counts, discount)
                continue
            contexts, inverse = torch.unique(
                torch.div(ngrams, vocab, rounding_mode="floor"),
                return_inverse=True,
            )
            totals = torch.zeros(len(contexts), dtype=torch.double)
            totals.index_add_(0, inverse, counts)
            types = torch.bincount(inverse, minlength=len(contexts))
            setattr(self, f"ngrams_{n}", ngrams.to(device))
            probs = (counts - discount).clamp(min=0) / totals[inverse]
            setattr(self, f"probs_{n}", probs.float().to(device))
            setattr(self, f"contexts_{n}", contexts.to(device))
            backoffs = discount * types / totals
            setattr(self, f"backoffs_{n}", backoffs.float().to(device))
        return self

    def _stream(self, sequences):
        """All sentences, padded, in one tensor; positions of their ids.

        Unpredicted ids (``<unk>``: characters outside the vocabulary) are
        dropped from the sentences, so that the LM never predicts them; how
        many is logged.
        """
        pad = [self.bos_index] * (self.order - 1)
        unpredicted = set(self.unpredicted_indices)
        stream, ends, start, dropped = [], [], 0, 0
        for ids in sequences:
            kept = [index for index in ids if index not in unpredicted]
            dropped += len(ids) - len(kept)
            sentence = [*pad, *kept, self.eos_index]
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
        if len(tokens) and (
            tokens.min() < 0 or tokens.max() >= self.vocab_size
        ):
            raise ValueError(f"ids must lie in [0, {self.vocab_size})")
        positions = [torch.arange(a, b) for a, b in ends]
        if not positions:
            return tokens, torch.zeros(0, dtype=torch.long)
        return tokens, torch.cat(positions)

    def _adjusted_counts(self, ngrams, counts, longer, n):
        """Continuation counts, but raw counts for n-grams starting with <s>.

        ``longer`` holds the distinct (n + 1)-grams; the number of those
        ending with an n-gram is the number of ids seen before it.
        """
        suffixes, predecessors = torch.unique(
            longer % self.vocab_size**n, return_counts=True
        )
        index = torch.searchsorted(suffixes, ngrams).clamp(
            max=max(len(suffixes) - 1, 0)
        )
        continuation = torch.where(
            suffixes[index] == ngrams, predecessors[index], 0
        )
        first = torch.div(
            ngrams, self.vocab_size ** (n - 1), rounding_mode="floor"
        )
        return torch.where(first == self.bos_index, counts, continuation)

    def _discount(self, counts):
        """The given discount, or n1 / (n1 + 2 n2) of these counts."""
        if self.discount is not None:
            return self.discount
        n1 = int((counts == 1).sum())
        n2 = int((counts == 2).sum())
        if n1 == 0 or n2 == 0:
            return FALLBACK_DISCOUNT
        return n1 / (n1 + 2 * n2)

    def _set_unigram(self, ids, counts, discount):
        """Discounted unigram interpolated with the uniform distribution."""
        uniform = torch.ones(self.vocab_size, dtype=torch.double)
        uniform[self.unpredicted_indices] = 0
        uniform /= uniform.sum()
        total = counts.sum()
        if total == 0:
            self.unigram = uniform.float().to(self.unigram.device)
            return
        unigram = uniform * discount * len(ids) / total
        unigram[ids] += (counts - discount).clamp(min=0) / total
        self.unigram = unigram.float().to(self.unigram.device)

    # ------------------------------------------------------------ scoring
    @torch.no_grad()
    def probs(self, histories):
        """Next-id distributions after histories.

        Arguments
        ---------
        histories : torch.Tensor
            ``[batch, order - 1]`` long: the last ``order - 1`` ids of each
            history, the newest last (``<s>`` before the first character).

        Returns
        -------
        torch.Tensor
            ``[batch, vocab_size]`` probabilities (each row sums to 1).
        """
        histories = histories.to(self.unigram.device).long()
        batch, vocab = histories.shape[0], self.vocab_size
        probs = self.unigram.expand(batch, vocab).clone()
        key = torch.zeros(batch, dtype=torch.long, device=histories.device)
        for n in range(2, self.order + 1):
            # The key of the last n - 1 ids.
            key = key + histories[:, -(n - 1)] * vocab ** (n - 2)
            probs *= self._backoffs(n, key)[:, None]
            rows, columns, values = self._entries(n, key)
            probs.index_put_((rows, columns), values, accumulate=True)
        if self.mixture is not None:
            weight = self.mixture_weight.to(probs.device)
            probs = (1 - weight) * probs + weight * self.mixture.probs(
                histories
            ).to(probs.device)
        return probs

    def log_probs(self, histories):
        """``log(probs(histories))``, ``-inf`` for unpredicted ids.

        Arguments
        ---------
        histories : torch.Tensor
            See ``probs``.

        Returns
        -------
        torch.Tensor
            ``[batch, vocab_size]`` log-probabilities.
        """
        return self.probs(histories).log()

    def _backoffs(self, n, key):
        """Backoff weight of each history at order n (1 if unseen)."""
        contexts = getattr(self, f"contexts_{n}")
        if len(contexts) == 0:
            return torch.ones(len(key), device=key.device)
        index = torch.searchsorted(contexts, key).clamp(max=len(contexts) - 1)
        found = contexts[index] == key
        return torch.where(found, getattr(self, f"backoffs_{n}")[index], 1.0)

    def _entries(self, n, key):
        """Rows, next ids and discounted probabilities of seen n-grams."""
        ngrams = getattr(self, f"ngrams_{n}")
        vocab = self.vocab_size
        start = torch.searchsorted(ngrams, key * vocab)
        lengths = torch.searchsorted(ngrams, (key + 1) * vocab) - start
        rows = torch.repeat_interleave(
            torch.arange(len(key), device=key.device), lengths
        )
        offsets = torch.cumsum(lengths, 0) - lengths
        positions = start[rows] + torch.arange(len(rows), device=key.device)
        positions -= offsets[rows]
        return (
            rows,
            ngrams[positions] % vocab,
            getattr(self, f"probs_{n}")[positions],
        )

    def histories(self, sequence):
        """The history before each id of a sentence and before ``</s>``.

        Arguments
        ---------
        sequence : list of int
            A sentence's text ids.

        Returns
        -------
        histories : torch.Tensor
            ``[len(sequence) + 1, order - 1]`` long.
        targets : torch.Tensor
            ``[len(sequence) + 1]``: the sentence's ids, then ``</s>``.

        Example
        -------
        >>> NgramLM(vocab_size=9, order=3).histories([5, 6])[0].tolist()
        [[0, 0], [0, 5], [5, 6]]
        """
        context = self.order - 1
        padded = torch.tensor(
            [self.bos_index] * context + list(sequence) + [self.eos_index]
        )
        histories = padded.unfold(0, context + 1, 1)
        return histories[:, :context], histories[:, context]

    @torch.no_grad()
    def sentence_log_prob(self, sequence):
        """Log-probability (natural) of a sentence, its ``</s>`` included.

        Arguments
        ---------
        sequence : list of int
            A sentence's text ids.

        Returns
        -------
        float
            The sum of ``len(sequence) + 1`` log-probabilities.

        Example
        -------
        >>> lm = NgramLM(vocab_size=6, order=1)  # unfitted: uniform over 3
        >>> round(lm.sentence_log_prob([4, 5]), 4) == round(3 * -1.0986, 4)
        True
        """
        histories, targets = self.histories(sequence)
        probs = self.probs(histories)
        return float(
            probs.gather(1, targets[:, None].to(probs.device)).log().sum()
        )

    # --------------------------------------------------------- checkpoint
    def _load_from_state_dict(self, state_dict, prefix, *args):
        """Resizes the tables to the loaded ones, then loads them."""
        error_msgs = args[-1]
        if f"{prefix}ngrams_{self.order + 1}" in state_dict or (
            self.order > 1 and f"{prefix}ngrams_{self.order}" not in state_dict
        ):
            error_msgs.append(
                f"the n-gram tables in the state dict are not of order {self.order}"
            )
        if f"{prefix}mixture.unigram" in state_dict and self.mixture is None:
            # A mixture written by interpolate(): re-created, then loaded by
            # the recursion of load_state_dict into the child modules.
            self.interpolate(self.same_kind(), 0.0)
        for name, buffer in self._buffers.items():
            loaded = state_dict.get(prefix + name)
            if buffer is None:
                continue
            if name != "unigram" and loaded is not None:
                self._buffers[name] = torch.empty_like(
                    loaded, device=buffer.device
                )
        super()._load_from_state_dict(state_dict, prefix, *args)


class NgramLMScorer(sb_scorer.BaseScorerInterface):
    """A SpeechBrain full scorer for an ``NgramLM`` (weight key ``ngramlm``).

    Its memory is the last ``order - 1`` ids of each hypothesis (``<s>`` at
    the start), reordered with the beams by ``permute_mem``.

    Arguments
    ---------
    language_model : NgramLM
        The n-gram LM over the decoder's first ``language_model.vocab_size``
        ids.
    vocab_size : int
        The decoder's number of ids; the others get ``minus_inf``. None: the
        LM's.
    minus_inf : float
        Score of the ids the LM does not cover or never predicts (finite, so
        that a weight of 0 gives 0).

    Example
    -------
    >>> from speechbrain.decoders.scorer import ScorerBuilder
    >>> lm = NgramLM(vocab_size=7, order=2).fit([[4, 5], [4, 5], [4, 6]])
    >>> scorer = NgramLMScorer(lm, vocab_size=9)
    >>> builder = ScorerBuilder(full_scorers=[scorer], weights={"ngramlm": 0.3})
    >>> list(builder.full_scorers)
    ['ngramlm']
    >>> scores, memory = scorer.score(torch.tensor([0, 0]), None, None, None)
    >>> scores.shape, memory.tolist()
    (torch.Size([2, 9]), [[0], [0]])
    >>> scores, memory = scorer.score(torch.tensor([4, 6]), memory, None, None)
    >>> scores[0].argmax().item(), memory.tolist()  # "b" after "a"
    (5, [[4], [6]])
    >>> bool((scores[:, 7:] == -1e20).all() and (scores[:, :2] == -1e20).all())
    True
    """

    def __init__(self, language_model, vocab_size=None, minus_inf=MINUS_INF):
        self.lm = language_model
        self.vocab_size = vocab_size
        self.minus_inf = minus_inf

    def score(self, inp_tokens, memory, candidates, attn):
        """LM log-probabilities of every decoder id after each hypothesis.

        Arguments
        ---------
        inp_tokens : torch.Tensor
            ``[hyps]`` tokens chosen at the previous step (``<s>`` first).
        memory : torch.Tensor
            ``[hyps, order - 1]`` the histories before ``inp_tokens`` (None
            at the first step).
        candidates : torch.Tensor
            Unused (the LM scores the whole vocabulary).
        attn : torch.Tensor
            Unused.

        Returns
        -------
        log_probs : torch.Tensor
            ``[hyps, vocab_size]`` next-token log-probabilities.
        memory : torch.Tensor
            The histories ending with ``inp_tokens``.
        """
        inp_tokens = inp_tokens.long()
        if memory is None:
            memory = torch.full(
                (len(inp_tokens), self.lm.order - 1),
                self.lm.bos_index,
                dtype=torch.long,
                device=inp_tokens.device,
            )
        memory = torch.cat([memory, inp_tokens[:, None]], dim=1)[:, 1:]
        log_probs = self.lm.log_probs(memory).to(inp_tokens.device)
        log_probs = log_probs.clamp(min=self.minus_inf)
        vocab_size = self.vocab_size or self.lm.vocab_size
        return pad_to_vocabulary(log_probs, vocab_size, self.minus_inf), memory

    def permute_mem(self, memory, index):
        """Reorders the histories with the beams.

        Arguments
        ---------
        memory : torch.Tensor
            ``[hyps, order - 1]`` histories.
        index : torch.Tensor
            ``[hyps]`` the hypothesis each new hypothesis continues.

        Returns
        -------
        torch.Tensor
            The reordered histories.
        """
        return torch.index_select(memory, dim=0, index=index)

    def reset_mem(self, x, enc_lens):
        """No history before the first step.

        Arguments
        ---------
        x : torch.Tensor
            Encoder states (unused).
        enc_lens : torch.Tensor
            Encoder lengths (unused).
        """
        return None


# ScorerBuilder accepts the weight keys of the "...Scorer" classes of its own
# module only; listing this one there gives it the key "ngramlm".
sb_scorer.NgramLMScorer = NgramLMScorer
