"""Phone-aware decoding: the phone CTC head scores the decoder's characters.

The MMSpeech encoder has a phone CTC head (121 classes, class 0 the blank)
while the decoder emits characters. This module joins the two in beam search
the way SpeechBrain's ``CTCScorer`` joins a CTC head to attention decoding,
except that each output token expands to its pinyin phones:

- ``CharPhoneTable`` and ``ReadingTrie`` (``decoders.phone_tables``): for
  every decoder id, the CTC classes of its phones
  (``PinyinTokenizer.text_to_phones`` of the token's text, the conversion
  that made the phone head's training targets), and their distinct
  readings as a tree;
- ``CTCScorer`` (here): a SpeechBrain scorer (weight key ``ctc``) that
  scores each candidate character ``c`` of a hypothesis ``g`` by the CTC
  prefix probability of the phones of ``g + c``, minus that of ``g`` (the
  prefix algorithm of Watanabe et al. 2017, extended one phone at a time),
  and ``</s>`` by the probability of exactly the phones of ``g``;
- ``PhonePosteriors``, ``PrefixState`` and ``phone_ctc_log_likelihood``
  (``decoders.ctc_prefix``): the prefix arithmetic over a batch's phone
  posteriors, and the full-sequence phone CTC log-probability of given
  hypotheses (N-best rescoring, tests).

All these names are importable from this module.

With ``ScorerBuilder(weights={"ctc": w})`` the searcher scores a step as
``(1 - w) * log p_dec(c | g) + w * (log psi(g + c) - log psi(g))`` (plus any
LM fusion term); summed over a finished hypothesis ``y`` the CTC terms
telescope to ``w * log P_ctc(phones(y) | audio)``.

Semantics
 * Tokens without a pronunciation (specials, ``<unk>``, ``<mask>``,
   punctuation, other scripts, audio-code ids) have no phones, so the head
   can give no evidence for them: appending one would leave the phone
   prefix, hence its probability, unchanged, a free token that a search
   with a high phone weight fills its output with. Nothing is free: they
   score ``minus_inf`` (never emitted); only ``</s>`` is scored, by the
   probability that the phones end there.
 * Latin letters and digits get the phones ``text_to_phones`` gives them
   (``LETTER_READINGS``, digits read in Chinese), the same phones the head
   was trained to emit for them.
 * A character is pronounced alone, with pypinyin's default reading (no
   phrase context). With ``heteronyms=True`` every pypinyin reading of a
   single Han character is tried and the best (max) prefix probability is
   kept, with the state of that reading (a Viterbi choice over readings; a
   sum would count the alignments readings share twice).

Authors
 * MMSpeech plugin contributors 2026
"""

import torch
from speechbrain.decoders.scorer import BaseScorerInterface

from speechbrain_mmspeech.decoders.ctc_prefix import (
    PHONE_BLANK_INDEX,
    PhonePosteriors,
    PrefixState,
    phone_ctc_log_likelihood,
)
from speechbrain_mmspeech.decoders.phone_tables import (
    NO_PHONE,
    NO_READING,
    CharPhoneTable,
    ReadingTrie,
)
from speechbrain_mmspeech.decoders.scorers import MINUS_INF
from speechbrain_mmspeech.lobes.models.mmspeech import unpack_memory
from speechbrain_mmspeech.tokenizers import SymbolTable

__all__ = [
    "CTCScorer",
    "CharPhoneTable",
    "NO_PHONE",
    "NO_READING",
    "PHONE_BLANK_INDEX",
    "PhonePosteriors",
    "PrefixState",
    "ReadingTrie",
    "phone_ctc_log_likelihood",
]


class CTCScorer(BaseScorerInterface):
    """Joint decoding with the phone CTC head, one character at a time.

    The class name is SpeechBrain's on purpose: ``ScorerBuilder`` keys
    scorers by class name, so this one takes the weight key ``ctc`` and the
    searcher then weighs the decoder by ``1 - weight``, as for upstream
    joint CTC/attention decoding. Use it as a full scorer (the recipes and
    model folders do): it then scores every id of the vocabulary, so that a
    character the decoder ranks low but the phones support can enter the
    beam. It scores readings, not characters: the tree of the vocabulary's
    distinct readings (``ReadingTrie``, about 1,300 tonal syllables) is
    walked one phone position at a time for all hypotheses at once, and
    homophones take the score of their reading. ``prefix_beam`` bounds the
    work: at each phone position only that many most probable prefixes of
    each hypothesis are extended (the readings below the others score
    ``minus_inf``). As a partial scorer it scores only the
    ``int(beam_size * scorer_beam_scale)`` best candidates of each
    hypothesis (the others get ``minus_inf``; ``</s>`` is always scored),
    one column per candidate and reading.

    ``score`` never adds a positive amount (a longer prefix is never more
    probable), so ids the searcher has banned (``minus_inf``: audio codes,
    ``<s>``/``<pad>``, repeated n-grams) stay banned, provided the weight
    is below 1 (at weight 1 SpeechBrain skips the decoder and with it the
    ``MMSpeechBeamSearcher`` restrictions). Hypotheses whose phones cannot
    fit the frames get ``minus_inf`` once; after that every token scores 0.

    The char -> phones table is built on first use and cached, so that a
    tokenizer filled by a ``Pretrainer`` after the YAML is read is seen
    complete.

    Arguments
    ---------
    phone_head : torch.nn.Module or callable
        An ``MMSpeech`` or ``SpeechEncoder`` (its ``phone_logits`` is used),
        or any ``hidden[B, T, d] -> logits[B, T, classes]``.
    char_phones : CharPhoneTable or CharTokenizer
        The table, or the decoder's tokenizer to build it from.
    pinyin_tokenizer : PinyinTokenizer
        The phone inventory when building the table (default: official).
    heteronyms : bool
        When building the table, try every reading of polyphonic Han
        characters and keep the best.
    vocab_size : int
        The decoder's number of ids (default: ``phone_head``'s output layer
        when it is an ``MMSpeech``, else the table's size).
    eos_index : int
        ``</s>``: scored by the probability of exactly the prefix's phones.
    blank_index : int
        A decoder id that is never emitted, which SpeechBrain treats as the
        CTC blank: ``S2SBeamSearcher`` wants it different from ``bos_index``
        and ``eos_index`` (MMSpeech's ``<s>`` is 0, the phone blank's
        number) and a full ``ctc`` scorer has it set to ``minus_inf``.
        Default: ``<pad>``, which the MMSpeech searcher bans anyway.
    phone_blank_index : int
        The phone head's blank class.
    minus_inf : float
        The score of impossible and of unscored candidates.
    prefix_beam : int
        As a full scorer, the phone prefixes of each hypothesis extended at
        each phone position (None: all, the exact scores).

    Example
    -------
    >>> from speechbrain.decoders.scorer import ScorerBuilder
    >>> from speechbrain_mmspeech.tokenizers import CharTokenizer
    >>> tokenizer = CharTokenizer()
    >>> tokenizer.build(["他我"], vocab_size=6)
    >>> ta, wo = tokenizer.encode_as_ids("他我")
    >>> # A stand-in phone head: the "hidden states" are the phone logits,
    >>> # whose four frames say t, a1, blank, blank.
    >>> scorer = CTCScorer(lambda hidden: hidden, tokenizer)
    >>> logits = torch.zeros(1, 4, 121)
    >>> logits[0, [0, 1, 2, 3], [82, 1, 0, 0]] = 10.0
    >>> memory = torch.cat([logits, logits, torch.ones(1, 4, 1)], dim=-1)
    >>> scorer.reset_mem(memory, torch.ones(1))
    >>> scores, state = scorer.score(torch.tensor([0]), None, None, None)
    >>> bool(scores[0, ta] > scores[0, wo] + 10)
    True
    >>> builder = ScorerBuilder(partial_scorers=[scorer], weights={"ctc": 0.3})
    >>> list(builder.partial_scorers)
    ['ctc']
    """

    def __init__(
        self,
        phone_head,
        char_phones,
        pinyin_tokenizer=None,
        heteronyms=False,
        vocab_size=None,
        eos_index=SymbolTable.eos_index,
        blank_index=SymbolTable.pad_index,
        phone_blank_index=PHONE_BLANK_INDEX,
        minus_inf=MINUS_INF,
        prefix_beam=None,
    ):
        self.phone_logits = _phone_logits_function(phone_head)
        if vocab_size is None:
            projection = getattr(phone_head, "output_projection", None)
            vocab_size = getattr(projection, "out_features", None)
        self.vocab_size = vocab_size
        self.char_phones = char_phones
        self.pinyin_tokenizer = pinyin_tokenizer
        self.heteronyms = heteronyms
        self.eos_index = eos_index
        self.blank_index = blank_index
        self.phone_blank_index = phone_blank_index
        self.minus_inf = minus_inf
        self.prefix_beam = prefix_beam
        self._table = None
        self._trie = None

    @property
    def ctc_score(self):
        """The scorer itself: ``ScorerBuilder`` reads ``ctc_score.minus_inf``
        of a full ``ctc`` scorer."""
        return self

    @property
    def char_phone_table(self):
        """The char -> phones table (built from the tokenizer on first use)."""
        if self._table is None:
            if isinstance(self.char_phones, CharPhoneTable):
                table = self.char_phones
            else:
                table = CharPhoneTable.from_tokenizers(
                    self.char_phones,
                    self.pinyin_tokenizer,
                    heteronyms=self.heteronyms,
                    vocab_size=self.vocab_size,
                )
            if self.vocab_size is None:
                self.vocab_size = table.vocab_size
            elif table.vocab_size != self.vocab_size:
                table = table.padded(self.vocab_size)
            self._table = table
        return self._table

    @torch.no_grad()
    def reset_mem(self, x, enc_lens):
        """Computes the phone posteriors of a new batch.

        Arguments
        ---------
        x : torch.Tensor
            Packed encoder memory ``[hidden; positions; valid]`` of
            ``speechbrain_mmspeech.lobes.models.mmspeech``.
        enc_lens : torch.Tensor
            Unused: the exact lengths come from the ``valid`` channel.

        Returns
        -------
        None
            The first ``score`` call starts from the empty prefix.
        """
        del enc_lens  # the valid channel holds the exact lengths
        hidden, _, padding_mask = unpack_memory(x)
        self.output_dtype = x.dtype
        log_probs = self.phone_logits(hidden).double().log_softmax(dim=-1)
        self._check_classes(log_probs.shape[-1])
        self.posteriors = PhonePosteriors(
            log_probs, ~padding_mask, self.phone_blank_index
        )
        self.table = self.char_phone_table.to(x.device)
        if self._trie is None or self._trie.char_nodes.device != x.device:
            self._trie = ReadingTrie.from_table(self.table).to(x.device)
        self.without_phones = self.table.lengths[:, 0] == 0
        # What the scores ban: every id without phones but </s>.
        self.phoneless = self.without_phones.clone()
        self.phoneless[self.eos_index] = False
        return None

    def _check_classes(self, n_classes):
        """Raises ValueError if the table uses classes the head lacks."""
        table = self.char_phone_table
        if table.phones.numel() and int(table.phones.max()) >= n_classes:
            raise ValueError(
                f"The char -> phones table uses class "
                f"{int(table.phones.max())}, the phone head has {n_classes}"
            )

    @torch.no_grad()
    def score(self, inp_tokens, memory, candidates, attn):
        """Phone CTC prefix score gains of the candidates of each hypothesis.

        Arguments
        ---------
        inp_tokens : torch.Tensor
            ``[hyps]`` tokens chosen at the previous step (unused: the
            state already holds their phones).
        memory : PrefixState
            The hypotheses' prefix states (None at the first step).
        candidates : torch.Tensor
            ``[hyps, n_candidates]`` ids to score (None: all ids).
        attn : torch.Tensor
            Unused.

        Returns
        -------
        scores : torch.Tensor
            ``[hyps, vocab]`` ``log psi(g + c) - log psi(g)`` for candidates,
            ``log P(exactly g) - log psi(g)`` for ``</s>``, ``minus_inf``
            elsewhere.
        memory : tuple
            What ``permute_mem`` needs: the hypotheses' states, the
            candidates, their best readings and their prefix scores.
        """
        n_hyps = inp_tokens.shape[0]
        utterances = self.posteriors.utterances(n_hyps)
        if memory is None:
            memory = self.posteriors.empty_prefix(utterances)
        vocab = self.table.vocab_size
        if candidates is None:
            psi, readings = self._vocabulary_prefix_scores(memory, utterances)
        else:
            psi, readings = self._candidate_prefix_scores(memory, candidates)
        alive = memory.psi > float("-inf")
        gains = (psi - memory.psi.unsqueeze(1)).masked_fill(
            ~alive.unsqueeze(1), 0.0
        )
        gains = gains.clamp(min=self.minus_inf)
        if candidates is None:
            scores = gains
        else:
            scores = torch.full(
                (n_hyps, vocab),
                self.minus_inf,
                dtype=gains.dtype,
                device=gains.device,
            )
            scores.scatter_(1, candidates, gains)
        # Nothing is free: an id without phones is never heard.
        scores[:, self.phoneless] = self.minus_inf
        final = self.posteriors.final_log_prob(memory, utterances)
        eos_gain = (final - memory.psi).masked_fill(~alive, 0.0)
        scores[:, self.eos_index] = eos_gain.clamp(min=self.minus_inf)
        scores[:, self.blank_index] = self.minus_inf
        return scores.to(self.output_dtype), (memory, candidates, readings, psi)

    def permute_mem(self, memory, index):
        """Computes the states of the candidates the searcher chose.

        Arguments
        ---------
        memory : tuple
            What ``score`` returned.
        index : torch.Tensor
            ``[batch, beam]`` the chosen ``beam * vocab + token`` of each
            utterance (the searcher's ``candidates``).

        Returns
        -------
        PrefixState
            ``[batch * beam]`` states; a choice that was not a scored
            candidate gets the impossible state.
        """
        state, candidates, readings, psi = memory
        batch, beam = index.shape
        vocab = self.table.vocab_size
        offsets = torch.arange(batch, device=index.device).unsqueeze(1) * beam
        hyps = torch.div(index, vocab, rounding_mode="floor") + offsets
        hyps, tokens = hyps.view(-1), (index % vocab).view(-1)
        if candidates is None:  # every id was scored
            found = torch.ones_like(tokens, dtype=torch.bool)
            positions = tokens
        else:
            matches = candidates[hyps] == tokens.unsqueeze(1)
            found = matches.any(dim=1)
            positions = matches.int().argmax(dim=1)
        reading = readings[hyps, positions]
        phones = self.table.phones[tokens, reading]
        lengths = self.table.lengths[tokens, reading]
        nonblank, blank = state.nonblank[:, hyps], state.blank[:, hyps]
        last = state.last[hyps]
        utterances = self.posteriors.utterances(hyps.shape[0])
        for position in range(int(lengths.max())):
            phone = phones[:, position]
            active = position < lengths
            extended = self.posteriors.extend_by_phone(
                nonblank, blank, last, phone.clamp(min=0), utterances
            )
            nonblank = torch.where(active, extended[0], nonblank)
            blank = torch.where(active, extended[1], blank)
            last = torch.where(active, phone, last)
        minus = float("-inf")
        return PrefixState(
            nonblank.masked_fill(~found, minus),
            blank.masked_fill(~found, minus),
            psi[hyps, positions].masked_fill(~found, minus),
            last,
        )

    @torch.no_grad()
    def score_hypotheses(self, memory, nbest):
        """Full-sequence phone CTC log-probabilities of given hypotheses.

        Arguments
        ---------
        memory : torch.Tensor
            Packed encoder memory of ``batch`` utterances.
        nbest : list of list of list of int
            For each utterance, its hypotheses (decoder ids, no ``</s>``).

        Returns
        -------
        list of torch.Tensor
            For each utterance, ``log P_ctc(phones(hyp) | audio)`` of each
            hypothesis (default readings).
        """
        hidden, _, padding_mask = unpack_memory(memory)
        log_probs = self.phone_logits(hidden).double().log_softmax(dim=-1)
        lengths = (~padding_mask).sum(dim=1)
        counts = torch.tensor([len(hyps) for hyps in nbest])
        rows = torch.repeat_interleave(torch.arange(len(nbest)), counts)
        scores = phone_ctc_log_likelihood(
            log_probs[rows.to(log_probs.device)],
            lengths[rows.to(lengths.device)],
            [hyp for hyps in nbest for hyp in hyps],
            self.char_phone_table,
            self.phone_blank_index,
        )
        return list(scores.split(counts.tolist()))

    def _vocabulary_prefix_scores(self, state, utterances):
        """log psi(g + c) of every id c for each hypothesis g.

        The reading tree (``ReadingTrie``) is walked one level at a time for
        all hypotheses at once. At each level, the prefix probability of
        every (parent prefix, phone) pair is one log-domain product over the
        frames, ``sum_t phi_{t-1} y_t``, computed for all phones as a batched
        matrix product of the parents' ``exp(phi)`` and the utterance's
        ``exp(y)`` (each shifted by its maximum); the nodes read theirs
        from it, and the nodes with children get their full states. Each id
        then takes the best of its readings' node probabilities.

        Returns
        -------
        psi : torch.Tensor
            ``[hyps, vocab]`` prefix log-probabilities (``log psi(g)`` for
            ids without phones).
        readings : torch.Tensor
            ``[hyps, vocab]`` the best reading of each id.
        """
        n_hyps = utterances.shape[0]
        hyps = torch.arange(n_hyps, device=utterances.device).unsqueeze(1)
        nonblank, blank, last = state.nonblank, state.blank, state.last
        # The column of each hypothesis' parent prefixes (-1: pruned).
        columns = hyps
        # The utterance of each of those columns.
        column_utterances = utterances
        node_psi = []
        for parents, phones, inner in self._trie.levels:
            n_nodes = phones.shape[0]
            parent = columns[:, parents]
            pruned = parent < 0
            parent = parent.clamp(min=0).view(-1)
            phone = phones.repeat(n_hyps)
            after_blank = blank[:-1]
            phi = torch.logaddexp(after_blank, nonblank[:-1])
            psi = self.posteriors.emission_products(phi)[parent, phone]
            # A repeated phone needs a blank in between.
            repeat = last[parent] == phone
            if repeat.any():
                psi[repeat] = self.posteriors.prefix_log_prob(
                    after_blank[:, parent[repeat]],
                    phone[repeat],
                    column_utterances[parent[repeat]],
                )
            psi = psi.view(n_hyps, n_nodes).masked_fill(pruned, float("-inf"))
            node_psi.append(psi)
            if not inner.numel():
                break
            kept = psi[:, inner]
            if (
                self.prefix_beam is not None
                and inner.numel() > self.prefix_beam
            ):
                kept = kept.topk(self.prefix_beam, dim=1).indices
            else:
                kept = torch.arange(inner.numel(), device=inner.device)
                kept = kept.expand(n_hyps, -1)
            chosen = (hyps * n_nodes + inner[kept]).view(-1)
            parent, phone = parent[chosen], phone[chosen]
            phi = torch.where(
                repeat[chosen], after_blank[:, parent], phi[:, parent]
            )
            column_utterances = utterances.repeat_interleave(kept.shape[1])
            nonblank, blank = self.posteriors.extend_from_phi(
                phi, phone, column_utterances
            )
            last = phone
            # A kept node below a pruned one stays pruned: its state was
            # computed from a stand-in parent (column 0, possibly another
            # hypothesis or utterance) and must not reach its children.
            numbers = torch.arange(chosen.numel(), device=hyps.device)
            numbers = numbers.view(n_hyps, -1).masked_fill(
                pruned[:, inner].gather(1, kept), -1
            )
            columns = hyps.new_full((n_hyps, inner.numel()), -1)
            columns.scatter_(1, kept, numbers)
        minus = torch.tensor(float("-inf"), dtype=state.psi.dtype)
        node_psi = torch.cat([*node_psi, minus.expand(n_hyps, 1)], dim=1)
        char_nodes = self._trie.char_nodes
        missing = node_psi.shape[1] - 1
        psi = node_psi[:, char_nodes.masked_fill(char_nodes < 0, missing)]
        psi, readings = psi.max(dim=-1)
        # An id without phones leaves the prefix as it is.
        psi[:, self.without_phones] = state.psi.unsqueeze(1)
        return psi, readings

    def _candidate_prefix_scores(self, state, candidates):
        """log psi(g + c) of each candidate c of each hypothesis g.

        Every reading of every candidate is a column. Columns extend their
        hypothesis' prefix one phone at a time along a trie: the columns
        that share a hypothesis and their first phones share one node, and
        a node's full state (``r^n``, ``r^b`` over all frames) is computed
        once. The last phone of a column needs only its prefix probability,
        not a state. The best reading of each candidate is kept.

        Returns
        -------
        psi : torch.Tensor
            ``[hyps, n_candidates]`` prefix log-probabilities.
        readings : torch.Tensor
            ``[hyps, n_candidates]`` the best reading of each candidate.
        """
        n_hyps, n_candidates = candidates.shape
        lengths = self.table.lengths[candidates]
        n_readings = int((lengths >= 0).sum(dim=-1).max())
        lengths = lengths[:, :, :n_readings]
        n_phones = int(lengths.max())
        phones = self.table.phones[candidates][:, :, :n_readings, :n_phones]
        # Explicit rows: no candidate may have phones (n_phones 0).
        n_columns = n_hyps * n_candidates * n_readings
        phones = phones.reshape(n_columns, n_phones)
        lengths = lengths.reshape(n_columns)
        hyps = torch.arange(n_hyps, device=candidates.device)
        columns_hyp = hyps.repeat_interleave(n_candidates * n_readings)
        psi = state.psi[columns_hyp].masked_fill(lengths < 0, float("-inf"))
        # The trie level: node states, and each column's node.
        nonblank, blank, last = state.nonblank, state.blank, state.last
        utterances = self.posteriors.utterances(n_hyps)
        parents = columns_hyp
        n_classes = self.posteriors.n_classes
        for position in range(n_phones):
            phone = phones[:, position]
            leaf = lengths == position + 1
            if leaf.any():
                node, leaf_phone = parents[leaf], phone[leaf]
                phi = self.posteriors.phi(
                    nonblank, blank, last, node, leaf_phone
                )
                psi[leaf] = self.posteriors.prefix_log_prob(
                    phi, leaf_phone, utterances[node]
                )
            inner = lengths > position + 1
            if not inner.any():
                break
            keys = parents[inner] * n_classes + phone[inner]
            nodes, inverse = torch.unique(keys, return_inverse=True)
            node = torch.div(nodes, n_classes, rounding_mode="floor")
            node_phone = nodes % n_classes
            nonblank, blank = self.posteriors.extend_by_phone(
                nonblank[:, node],
                blank[:, node],
                last[node],
                node_phone,
                utterances[node],
            )
            last, utterances = node_phone, utterances[node]
            parents = torch.zeros_like(parents)
            parents[inner] = inverse
        psi, readings = psi.view(n_hyps, n_candidates, n_readings).max(dim=-1)
        return psi, readings


def _phone_logits_function(phone_head):
    """``hidden -> phone logits`` of an MMSpeech, a SpeechEncoder or a
    callable."""
    encoder = getattr(phone_head, "encoder", None)
    if hasattr(encoder, "phone_logits"):
        return encoder.phone_logits
    if hasattr(phone_head, "phone_logits"):
        return phone_head.phone_logits
    if callable(phone_head):
        return phone_head
    raise TypeError(
        "phone_head must be an MMSpeech, a SpeechEncoder or a callable, got "
        f"{type(phone_head).__name__}"
    )
