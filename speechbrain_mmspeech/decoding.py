"""Beam search for MMSpeech on top of SpeechBrain's Transformer searcher.

``MMSpeechBeamSearcher`` is ``S2STransformerBeamSearcher`` (so SpeechBrain
scorers such as ``TransformerLMScorer`` plug in unchanged) with the three
things the official MMSpeech decoding adds:

- the output is restricted to the text vocabulary: ids at or above
  ``text_vocab_size`` (the audio codes of speech-to-code pre-training) and
  the ``<s>``/``<pad>`` symbols are never emitted;
- ``no_repeat_ngram_size``: a hypothesis may not repeat an n-gram
  (official: 5);
- the number of steps never exceeds the decoder's learned positions, so
  long inputs stop cleanly instead of failing inside an embedding lookup;
  ``min_decode_length``/``max_decode_length`` bound it further in tokens, as
  the official ``min_len``/``max_len_b`` do (official: 1 and 128).

Authors
 * MMSpeech plugin contributors 2026
"""

from speechbrain.decoders.seq2seq import S2STransformerBeamSearcher


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


class MMSpeechBeamSearcher(S2STransformerBeamSearcher):
    """Beam search over an ``MMSpeech`` model.

    Arguments
    ---------
    model : speechbrain_mmspeech.model.MMSpeech
        The model (its ``decode`` and ``output_projection`` are used).
    text_vocab_size : int
        Ids at or above this are never emitted (None: no restriction).
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
    **kwargs
        ``S2SBeamSearcher`` arguments (``bos_index``, ``eos_index``,
        ``beam_size``, ``min_decode_ratio``, ``max_decode_ratio``,
        ``scorer`` for LM fusion, ``return_topk``/``topk`` for N-best
        rescoring ...). A scorer adds its scores after the restrictions
        above, so they hold whatever the scorer prefers.

    Example
    -------
    >>> from speechbrain_mmspeech.encoder import SpeechEncoder
    >>> from speechbrain_mmspeech.decoder import TextDecoder
    >>> from speechbrain_mmspeech.model import MMSpeech
    >>> model = MMSpeech(
    ...     SpeechEncoder(
    ...         d_model=16,
    ...         nhead=2,
    ...         num_layers=2,
    ...         d_ffn=32,
    ...         subsample_channels=4,
    ...         context_layer=1,
    ...         pos_conv_depth=1,
    ...         pos_conv_kernel=3,
    ...         pos_conv_groups=2,
    ...     ),
    ...     TextDecoder(
    ...         vocab_size=30,
    ...         d_model=16,
    ...         nhead=2,
    ...         num_layers=1,
    ...         d_ffn=32,
    ...         max_positions=8,
    ...         rel_pos_bucket_size=4,
    ...     ),
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
        # The <s> prefix takes one learned position.
        self.max_steps = model.decoder.max_positions - 1
        if max_decode_length is not None:
            self.max_steps = min(self.max_steps, max_decode_length)
        self.min_steps = min_decode_length

    def set_n_out(self):
        """Vocabulary size, read from the (plain torch) output layer."""
        return self.fc.out_features

    def change_max_decoding_length(self, min_decode_steps, max_decode_steps):
        """Applies the length bounds in tokens to the ratio-based ones."""
        max_steps = min(max_decode_steps, self.max_steps)
        min_steps = max(min_decode_steps, self.min_steps)
        return min(min_steps, max_steps), max_steps

    def forward_step(self, inp_tokens, memory, enc_states, enc_lens):
        """One decoder step with the vocabulary and n-gram restrictions.

        Arguments
        ---------
        inp_tokens : torch.Tensor
            ``[hyps]`` tokens chosen at the previous step.
        memory : torch.Tensor
            ``[hyps, length]`` token history (None at the first step).
        enc_states : torch.Tensor
            Packed encoder memory.
        enc_lens : torch.Tensor
            Encoder lengths (unused by MMSpeech).

        Returns
        -------
        log_probs : torch.Tensor
            ``[hyps, vocab]`` next-token log-probabilities.
        memory : torch.Tensor
            The updated token history.
        attn : None
            MMSpeech returns no attention weights.
        """
        log_probs, memory, attn = super().forward_step(
            inp_tokens, memory, enc_states, enc_lens
        )
        log_probs = log_probs.clone()
        if self.text_vocab_size is not None:
            log_probs[:, self.text_vocab_size :] = self.minus_inf
        if self.banned_indices:
            log_probs[:, self.banned_indices] = self.minus_inf
        # The history starts with <s>; n-grams are counted on emitted ids.
        emitted = memory[:, 1:].long()
        for hyp, tokens in enumerate(
            banned_ngram_tokens(emitted, self.no_repeat_ngram_size)
        ):
            log_probs[hyp, tokens] = self.minus_inf
        return log_probs, memory, attn

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
