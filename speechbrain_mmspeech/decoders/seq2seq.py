"""Beam search for MMSpeech on top of SpeechBrain's Transformer searcher.

``MMSpeechBeamSearcher`` is ``S2STransformerBeamSearcher`` (so SpeechBrain
scorers such as ``TransformerLMScorer`` plug in unchanged) with the three
things the official MMSpeech decoding adds:

- the output is restricted to the text vocabulary: only ids below
  ``text_vocab_size`` are scored (the audio codes of speech-to-code
  pre-training follow them and the output projection skips their rows; the
  softmax runs over the text ids, as the official ``constraint_range``
  masks the other logits before it), and ``<s>``/``<pad>`` are never
  emitted;
- ``no_repeat_ngram_size``: a hypothesis may not repeat an n-gram
  (official: 5);
- the number of steps never exceeds the decoder's learned positions, so
  long inputs stop cleanly instead of failing inside an embedding lookup;
  ``min_decode_length``/``max_decode_length`` bound it further in tokens, as
  the official ``min_len``/``max_len_b`` do (official: 1 and 128).

It also decodes incrementally (``use_cache``, the default): the searcher's
memory, which SpeechBrain reorders with the beams through ``permute_mem``,
is a ``SearchMemory`` holding the token history (read by the n-gram ban)
and a ``speechbrain_mmspeech.lobes.models.decoder.DecoderCache`` (the self-attention keys
and values of every earlier token, the cross-attention ones computed once
per utterance). Each step then runs the decoder on one token per hypothesis
instead of the whole prefix; the hypotheses are the same as without the
cache. Scorers keep their own memories, so LM fusion works either way.

The width of the log-probabilities (``n_out``) is the number of text ids
without a scorer. With a scorer it is the decoder's whole vocabulary, the
text ids followed by the audio codes at minus infinity, the width
SpeechBrain scorers are built for (``speechbrain_mmspeech.lobes.models.transformer_lm``'s LM scorer
pads to it).

Authors
 * MMSpeech plugin contributors 2026
"""

from typing import NamedTuple

import torch
from speechbrain.decoders.seq2seq import S2STransformerBeamSearcher

from speechbrain_mmspeech.lobes.models.decoder import DecoderCache


def banned_ngram_tokens(history, ngram_size):
    """Tokens that would repeat an n-gram already present in each history.

    Arguments
    ---------
    history : torch.Tensor
        ``[hyps, length]`` token ids emitted so far.
    ngram_size : int
        Size of the n-grams that must not repeat.

    Returns
    -------
    list
        For each hypothesis, the list of banned next tokens.

    Example
    -------
    >>> banned_ngram_tokens(torch.tensor([[1, 2, 3, 1, 2]]), 3)
    [[3]]
    """
    banned = [[] for _ in range(history.shape[0])]
    length = history.shape[1]
    if ngram_size <= 0 or length < ngram_size:
        return banned
    context = ngram_size - 1
    # Every n-gram in the history: [hyps, n_ngrams, ngram_size].
    ngrams = history.unfold(1, ngram_size, 1)
    last = history[:, length - context :]
    matches = (ngrams[:, :, :context] == last[:, None, :]).all(dim=-1)
    for hyp, position in matches.nonzero().tolist():
        banned[hyp].append(int(ngrams[hyp, position, -1]))
    return banned


class SearchMemory(NamedTuple):
    """The decoder memory ``MMSpeechBeamSearcher`` carries between steps.

    Arguments
    ---------
    tokens : torch.Tensor
        ``[hyps, length]`` long token history, starting with ``<s>``.
    cache : speechbrain_mmspeech.lobes.models.decoder.DecoderCache
        The decoder cache, or None when decoding without one.
    """

    tokens: torch.Tensor
    cache: DecoderCache = None


class MMSpeechBeamSearcher(S2STransformerBeamSearcher):
    """Beam search over an ``MMSpeech`` model.

    Arguments
    ---------
    model : speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
        The model (``start_decoding``/``decode_step`` with the cache,
        ``decode`` without, and ``decoder.project`` are used).
    text_vocab_size : int
        Ids at or above this are never scored nor emitted (None: no
        restriction).
    no_repeat_ngram_size : int
        Forbid repeating n-grams of this size (0 disables).
    banned_indices : list
        Other ids never to emit (typically ``<s>`` and ``<pad>``).
    temperature : float
        Softmax temperature.
    min_decode_length : int
        End of sentence is forbidden before this many steps (official: 1).
    max_decode_length : int
        At most this many steps (None: only the decoder positions and
        ``max_decode_ratio`` bound it).
    use_cache : bool
        Decode incrementally with a ``DecoderCache`` (default). False re-runs
        the decoder on the whole prefix at every step (same hypotheses,
        slower; for checking).
    **kwargs
        ``S2SBeamSearcher`` arguments (``bos_index``, ``eos_index``,
        ``beam_size``, ``min_decode_ratio``, ``max_decode_ratio``,
        ``scorer`` for LM fusion, ``return_topk``/``topk`` for N-best
        rescoring ...). A scorer adds its scores after the restrictions
        above, so they hold whatever the scorer prefers.

    Example
    -------
    >>> from speechbrain_mmspeech.lobes.models.mmspeech import MMSpeech
    >>> architecture = getfixture("tiny_architecture")  # 20 text ids
    >>> model = MMSpeech.from_architecture(
    ...     {**architecture, "max_positions": 8}
    ... ).eval()
    >>> searcher = MMSpeechBeamSearcher(
    ...     model,
    ...     text_vocab_size=20,
    ...     no_repeat_ngram_size=2,
    ...     banned_indices=[0, 1],
    ...     bos_index=0,
    ...     eos_index=2,
    ...     beam_size=3,
    ...     min_decode_ratio=0.0,
    ...     max_decode_ratio=1.0,
    ...     using_eos_threshold=False,
    ... )
    >>> memory = model.encode(torch.rand(2, 200, 80))
    >>> hyps, _, _, _ = searcher(memory, torch.ones(2))
    >>> all(len(h) < 8 and all(2 <= t < 20 for t in h) for h in hyps)
    True
    >>> searcher.use_cache = False  # the same search without the cache
    >>> searcher(memory, torch.ones(2))[0] == hyps
    True
    """

    def __init__(
        self,
        model,
        text_vocab_size=None,
        no_repeat_ngram_size=0,
        banned_indices=(),
        temperature=1.0,
        min_decode_length=0,
        max_decode_length=None,
        use_cache=True,
        **kwargs,
    ):
        super().__init__(
            modules=[model, model.output_projection],
            temperature=temperature,
            **kwargs,
        )
        if self.return_topk and self.topk > self.beam_size:
            raise ValueError(
                f"topk ({self.topk}) cannot exceed beam_size ({self.beam_size})"
            )
        self.text_vocab_size = text_vocab_size
        self.no_repeat_ngram_size = no_repeat_ngram_size
        self.banned_indices = list(banned_indices)
        self.use_cache = use_cache
        # The <s> prefix takes one learned position.
        self.max_steps = model.decoder.max_positions - 1
        if max_decode_length is not None:
            self.max_steps = min(self.max_steps, max_decode_length)
        self.min_steps = min_decode_length

    @property
    def vocab_size(self):
        """Ids the decoder has (text ids, then audio codes)."""
        return self.model.decoder.embed_tokens.num_embeddings

    @property
    def scored_ids(self):
        """Ids the decoder scores: the text ids (all without a restriction)."""
        if self.text_vocab_size is None:
            return self.vocab_size
        return min(self.text_vocab_size, self.vocab_size)

    def set_n_out(self):
        """Width of the log-probabilities (see the module docstring)."""
        if self.scorer is None:
            return self.scored_ids
        return self.vocab_size

    def change_max_decoding_length(self, min_decode_steps, max_decode_steps):
        """Applies the length bounds in tokens to the ratio-based ones."""
        max_steps = min(max_decode_steps, self.max_steps)
        min_steps = max(min_decode_steps, self.min_steps)
        return min(min_steps, max_steps), max_steps

    def reset_mem(self, batch_size, device):
        """No history yet: ``forward_step`` starts it (and the cache)."""
        return None

    def permute_mem(self, memory, index):
        """Reorders the history and the cache with the beams.

        Arguments
        ---------
        memory : SearchMemory
            What ``forward_step`` returned.
        index : torch.Tensor
            ``[hyps]`` the hypothesis each new hypothesis continues.

        Returns
        -------
        SearchMemory
            The reordered memory.
        """
        tokens = torch.index_select(memory.tokens, dim=0, index=index)
        cache = memory.cache
        if cache is not None:
            cache = cache.reorder(index)
        return SearchMemory(tokens, cache)

    def forward_step(self, inp_tokens, memory, enc_states, enc_lens):
        """One decoder step with the vocabulary and n-gram restrictions.

        Arguments
        ---------
        inp_tokens : torch.Tensor
            ``[hyps]`` tokens chosen at the previous step.
        memory : SearchMemory
            Token history and decoder cache (None at the first step).
        enc_states : torch.Tensor
            Packed encoder memory, ``beam_size`` copies of each utterance.
        enc_lens : torch.Tensor
            Encoder lengths (unused by MMSpeech).

        Returns
        -------
        log_probs : torch.Tensor
            ``[hyps, n_out]`` next-token log-probabilities.
        memory : SearchMemory
            The updated history and cache.
        attn : None
            MMSpeech returns no attention weights.
        """
        inp_tokens = inp_tokens.long()
        if memory is None:
            tokens, cache = inp_tokens[:, None], None
            if self.use_cache:
                # One copy of each utterance's memory serves its beam.
                cache = self.model.start_decoding(
                    enc_states[:: self.beam_size], group=self.beam_size
                )
        else:
            tokens = torch.cat([memory.tokens, inp_tokens[:, None]], dim=1)
            cache = memory.cache
        if cache is not None:
            hidden = self.model.decode_step(inp_tokens, cache)
        else:
            hidden, _ = self.model.decode(tokens, enc_states, enc_lens)
            hidden = hidden[:, -1]
        logits = self.model.decoder.project(hidden, self.scored_ids)
        log_probs = torch.log_softmax(logits / self.temperature, dim=-1)
        missing = self.n_out - log_probs.shape[-1]
        if missing > 0:
            log_probs = torch.nn.functional.pad(
                log_probs, (0, missing), value=self.minus_inf
            )
        if self.banned_indices:
            log_probs[:, self.banned_indices] = self.minus_inf
        # The history starts with <s>; n-grams are counted on emitted ids.
        rows, columns = [], []
        for hyp, banned in enumerate(
            banned_ngram_tokens(tokens[:, 1:], self.no_repeat_ngram_size)
        ):
            rows.extend([hyp] * len(banned))
            columns.extend(banned)
        if rows:
            log_probs[rows, columns] = self.minus_inf
        return log_probs, SearchMemory(tokens, cache), None

    def _scorer_step(self, inp_tokens, scorer_memory, attn, log_probs):
        """Runs the scorers, which see text ids only.

        A finished hypothesis keeps a score of -inf, so the next token of
        an utterance whose beams have all ended is an arbitrary id, possibly
        an audio code; it is passed to the scorers as ``</s>``, so that a
        language model over the text ids is never indexed out of range.

        Arguments
        ---------
        inp_tokens : torch.Tensor
            ``[hyps]`` tokens chosen at the previous step.
        scorer_memory : dict
            The scorers' states.
        attn : torch.Tensor
            Attention weights (None for MMSpeech).
        log_probs : torch.Tensor
            ``[hyps, vocab]`` the decoder's log-probabilities.

        Returns
        -------
        log_probs : torch.Tensor
            With the scorers' weighted scores added.
        scorer_memory : dict
            The scorers' new states.
        """
        if self.text_vocab_size is not None:
            inp_tokens = inp_tokens.masked_fill(
                inp_tokens >= self.text_vocab_size, self.eos_index
            )
        return super()._scorer_step(inp_tokens, scorer_memory, attn, log_probs)
