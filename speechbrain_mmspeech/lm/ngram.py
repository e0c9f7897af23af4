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

  ``speechbrain_mmspeech.lm.kneser_ney`` counts the text and smooths the
  counts into these tables (the formula is there).
- ``NgramLMScorer``: a SpeechBrain full scorer (weight key ``ngramlm`` in
  ``ScorerBuilder``) that adds ``weight * log p(next | history)`` to every
  beam step, padded to the decoder's vocabulary (text ids then audio codes)
  with ``minus_inf`` for the ids the LM does not cover (the padding is
  ``decoders.scorers.PaddedLMScorer``'s).

No package that pip installs here fits: ``kenlm``'s module only queries
ARPA/binary models (its estimator ``lmplz`` is a separate C++ program) and
compiles at install, and ``nltk.lm`` scores one word at a time in Python.

Domain adaptation (``speechbrain_mmspeech.adaptation``) adds two things:
``resized`` re-encodes the tables for a grown vocabulary (old ids keep
their probabilities, new ids get none), and ``interpolate`` mixes in a
second ``NgramLM`` of the same ids and order, ``p = (1 - w) p_self + w
p_other``; the mixture is a child module (``mixture.*`` and
``mixture_weight`` in the state dict) that loading re-creates.

Authors
 * MMSpeech plugin contributors 2026
"""

import torch
from speechbrain.decoders import scorer as sb_scorer

from speechbrain_mmspeech.decoders.scorers import MINUS_INF, PaddedLMScorer
from speechbrain_mmspeech.lm.kneser_ney import (
    FALLBACK_DISCOUNT,
    kneser_ney,
    sentence_stream,
)
from speechbrain_mmspeech.tokenizers import (
    BOS_INDEX,
    EOS_INDEX,
    PAD_INDEX,
    UNK_INDEX,
)

__all__ = [
    "FALLBACK_DISCOUNT",  # its home is kneser_ney
    "MAX_KEY",
    "TABLES",
    "NgramLM",
    "NgramLMScorer",
]

MAX_KEY = 2**63  # n-gram keys are int64
TABLES = ("ngrams", "probs", "contexts", "backoffs")  # per order from 2


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
        tokens, positions = sentence_stream(
            sequences,
            self.vocab_size,
            self.order,
            self.bos_index,
            self.eos_index,
            self.unpredicted_indices,
        )
        unigram, tables = kneser_ney(
            tokens,
            positions,
            self.vocab_size,
            self.order,
            self.bos_index,
            self.unpredicted_indices,
            self.discount,
        )
        device = self.unigram.device
        self.unigram = unigram.to(device)
        for n, table in tables.items():
            for name, values in zip(TABLES, table):
                setattr(self, f"{name}_{n}", values.to(device))
        return self

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
            A sentence's text ids, without ``<s>``/``</s>`` (added here).

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


class NgramLMScorer(PaddedLMScorer):
    """A SpeechBrain full scorer for an ``NgramLM`` (weight key ``ngramlm``).

    Its memory is the last ``order - 1`` ids of each hypothesis (``<s>`` at
    the start), reordered with the beams by ``permute_mem``.

    Arguments
    ---------
    language_model : NgramLM
        The n-gram LM over the decoder's first ``language_model.vocab_size``
        ids.
    vocab_size, minus_inf
        As in ``speechbrain_mmspeech.decoders.scorers.PaddedLMScorer``;
        ``minus_inf`` is also the score of the ids
        the LM never predicts.

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
        super().__init__(vocab_size, minus_inf)
        self.lm = language_model

    def lm_scores(self, inp_tokens, memory):
        """The n-gram's scores after the histories ending with ``inp_tokens``.

        Arguments
        ---------
        inp_tokens, memory : torch.Tensor
            As in ``score``; ``memory`` is ``[hyps, order - 1]``.

        Returns
        -------
        log_probs, memory : torch.Tensor
            ``[hyps, language_model.vocab_size]`` (at least ``minus_inf``)
            and the new histories.
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
        return log_probs.clamp(min=self.minus_inf), memory

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
