"""Phone-aware decoding: the phone CTC head scores the decoder's characters.

The MMSpeech encoder has a phone CTC head (121 classes, class 0 the blank)
while the decoder emits characters. This module joins the two in beam search
the way SpeechBrain's ``CTCScorer`` joins a CTC head to attention decoding,
except that each output token expands to its pinyin phones:

- ``CharPhoneTable``: for every decoder id, the CTC classes of its phones
  (``PinyinTokenizer.text_to_phones`` of the token's text, the conversion
  that made the phone head's training targets);
- ``CTCScorer``: a SpeechBrain scorer (weight key ``ctc``) that scores each
  candidate character ``c`` of a hypothesis ``g`` by the CTC prefix
  probability of the phones of ``g + c``, minus that of ``g`` (the prefix
  algorithm of Watanabe et al. 2017, extended one phone at a time), and
  ``</s>`` by the probability of exactly the phones of ``g``;
- ``phone_ctc_log_likelihood``: the full-sequence phone CTC log-probability
  of given hypotheses (N-best rescoring, tests).

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

import logging
from collections import Counter
from typing import NamedTuple

import torch
from pypinyin import Style, pinyin
from speechbrain.decoders.scorer import BaseScorerInterface

from speechbrain_mmspeech.decoders.scorers import MINUS_INF
from speechbrain_mmspeech.lobes.models.mmspeech import unpack_memory
from speechbrain_mmspeech.pinyin import syllable_to_phones
from speechbrain_mmspeech.tokenizers import (
    CTC_BLANK_INDEX,
    PinyinTokenizer,
    SymbolTable,
)

logger = logging.getLogger(__name__)

NO_PHONE = -1  # padding of the phone table
NO_READING = -1  # the length of a missing reading in the phone table
PHONE_BLANK_INDEX = CTC_BLANK_INDEX  # the phone head's CTC blank


class CharPhoneTable:
    """The CTC phone classes of every decoder id, as padded tensors.

    Arguments
    ---------
    phones : torch.Tensor
        ``[vocab, readings, max_phones]`` CTC classes, padded with -1.
    lengths : torch.Tensor
        ``[vocab, readings]`` number of phones of each reading; -1 marks a
        missing reading (missing readings come last). Reading 0 (the
        default reading) is always present, with length 0 for ids without
        phones.

    Example
    -------
    >>> from speechbrain_mmspeech.tokenizers import CharTokenizer
    >>> tokenizer = CharTokenizer()
    >>> tokenizer.build(["他很难"], vocab_size=8)
    >>> tokenizer.tokens[4:]
    ['他', '很', '难', '<unused_0>']
    >>> table = CharPhoneTable.from_tokenizers(tokenizer)
    >>> table.phones.shape, table.lengths[:, 0].tolist()
    (torch.Size([8, 1, 3]), [0, 0, 0, 0, 2, 3, 3, 0])
    >>> table.sequence_phones(tokenizer.encode_as_ids("他难"))
    [82, 1, 65, 2, 65]
    """

    def __init__(self, phones, lengths):
        if phones.dim() != 3 or lengths.shape != phones.shape[:2]:
            raise ValueError(
                "phones must be [vocab, readings, max_phones] and lengths "
                f"[vocab, readings], got {tuple(phones.shape)} and "
                f"{tuple(lengths.shape)}"
            )
        self.phones = phones.long()
        self.lengths = lengths.long()

    @classmethod
    def from_tokenizers(
        cls,
        char_tokenizer,
        pinyin_tokenizer=None,
        heteronyms=False,
        vocab_size=None,
    ):
        """Builds the table of a ``CharTokenizer`` vocabulary.

        Each id's text (``decode_ids([id])``: silent ids give no text,
        ``<unk>`` gives U+2047, word pieces lose their ``##``) is converted
        with ``pinyin_tokenizer.text_to_phones``; phones outside the
        inventory make the id phoneless.

        Arguments
        ---------
        char_tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
            The decoder's tokenizer.
        pinyin_tokenizer : speechbrain_mmspeech.tokenizers.PinyinTokenizer
            The phone inventory (default: the official one).
        heteronyms : bool
            Add pypinyin's other readings of single Han characters.
        vocab_size : int
            The decoder's number of ids; ids past the tokenizer's (audio
            codes) get no phones. Default: the tokenizer's size.

        Returns
        -------
        CharPhoneTable
            The table.
        """
        if pinyin_tokenizer is None:
            pinyin_tokenizer = PinyinTokenizer()
        vocab = len(char_tokenizer)
        if vocab_size is None:
            vocab_size = vocab
        if vocab_size < vocab:
            raise ValueError(
                f"vocab_size {vocab_size} is smaller than the tokenizer's "
                f"{vocab} ids"
            )
        # Building the table must not count as dropped transcript text.
        dropped = Counter(pinyin_tokenizer.dropped_chars)
        readings = [
            _token_readings(
                char_tokenizer.decode_ids([index]), pinyin_tokenizer, heteronyms
            )
            for index in range(vocab)
        ]
        pinyin_tokenizer.dropped_chars = dropped
        readings += [[[]] for _ in range(vocab_size - vocab)]
        n_readings = max(len(reads) for reads in readings)
        max_phones = max(len(r) for reads in readings for r in reads)
        phones = torch.full((vocab_size, n_readings, max_phones), NO_PHONE)
        lengths = torch.full((vocab_size, n_readings), NO_READING)
        for index, reads in enumerate(readings):
            for k, reading in enumerate(reads):
                lengths[index, k] = len(reading)
                phones[index, k, : len(reading)] = torch.tensor(
                    reading, dtype=torch.long
                )
        return cls(phones, lengths)

    @property
    def vocab_size(self):
        """The number of ids the table covers."""
        return self.phones.shape[0]

    def to(self, device):
        """Returns the table on ``device`` (itself if already there).

        Arguments
        ---------
        device : torch.device or str
            Where the tensors should live.

        Returns
        -------
        CharPhoneTable
            The table on ``device``.
        """
        if self.phones.device == torch.device(device):
            return self
        return CharPhoneTable(self.phones.to(device), self.lengths.to(device))

    def sequence_phones(self, ids):
        """The phones of a token sequence, default readings, concatenated.

        Arguments
        ---------
        ids : list of int
            Decoder ids; ids without phones or past the table add nothing.

        Returns
        -------
        list of int
            CTC classes.
        """
        classes = []
        for index in ids:
            index = int(index)
            if 0 <= index < self.vocab_size:
                length = int(self.lengths[index, 0])
                classes.extend(self.phones[index, 0, :length].tolist())
        return classes


class ReadingTrie:
    """The distinct readings of a ``CharPhoneTable`` as a prefix tree.

    Characters that share a reading (homophones) share its CTC prefix
    score, and readings that share their first phones share the prefix
    states of those phones. The tree has one level per phone position
    (a reading has at most four phones: ``x i2 o2 ng``); a node is a
    distinct phone prefix of some reading. ``CTCScorer`` walks it level by
    level for all hypotheses at once, so a step costs one prefix score per
    node (about 1,300 tonal syllables and their prefixes) instead of one
    per character and reading.

    Arguments
    ---------
    levels : list of tuple
        Per level: ``parents`` (``[nodes]``, the index of each node's parent
        among the inner nodes of the level above; level 0 has one parent,
        the hypothesis), ``phones`` (``[nodes]``, the phone each node adds)
        and ``inner`` (``[inner nodes]``, the nodes that have children).
    char_nodes : torch.Tensor
        ``[vocab, readings]`` the node of each reading, numbered over the
        levels in order; -1 for a missing reading and for ids without
        phones.

    Example
    -------
    >>> from speechbrain_mmspeech.tokenizers import CharTokenizer
    >>> tokenizer = CharTokenizer()
    >>> tokenizer.build(["他她塔难"], vocab_size=8)
    >>> table = CharPhoneTable.from_tokenizers(tokenizer)
    >>> trie = ReadingTrie.from_table(table)
    >>> [len(phones) for _, phones, _ in trie.levels]  # t n | a1 a3 a2 | n
    [2, 3, 1]
    >>> tokenizer.tokens[4:]
    ['他', '塔', '她', '难']
    >>> trie.char_nodes[4:8, 0].tolist()  # 他 她 share "t a1"; 难 ends at n
    [3, 4, 3, 5]
    """

    def __init__(self, levels, char_nodes):
        self.levels = levels
        self.char_nodes = char_nodes

    @classmethod
    def from_table(cls, table):
        """Builds the tree of a table's readings.

        Arguments
        ---------
        table : CharPhoneTable
            The char -> phones table.

        Returns
        -------
        ReadingTrie
            The tree.
        """
        lengths, phones = table.lengths.tolist(), table.phones.tolist()
        sequences = {}  # reading -> its (vocab, reading) places
        for index, reads in enumerate(lengths):
            for k, length in enumerate(reads):
                if length > 0:
                    reading = tuple(phones[index][k][:length])
                    sequences.setdefault(reading, []).append((index, k))
        prefixes = {p[:n] for p in sequences for n in range(1, len(p) + 1)}
        parents = {p[:-1] for p in prefixes}
        depth = max((len(p) for p in prefixes), default=0)
        levels, numbers, inner_numbers, offset = [], {}, {(): 0}, 0
        for level in range(1, depth + 1):
            nodes = sorted(p for p in prefixes if len(p) == level)
            inner = [i for i, p in enumerate(nodes) if p in parents]
            levels.append(
                (
                    torch.tensor([inner_numbers[p[:-1]] for p in nodes]),
                    torch.tensor([p[-1] for p in nodes]),
                    torch.tensor(inner, dtype=torch.long),
                )
            )
            numbers.update((p, offset + i) for i, p in enumerate(nodes))
            inner_numbers = {nodes[i]: k for k, i in enumerate(inner)}
            offset += len(nodes)
        char_nodes = torch.full(table.lengths.shape, -1, dtype=torch.long)
        for reading, places in sequences.items():
            for index, k in places:
                char_nodes[index, k] = numbers[reading]
        return cls(levels, char_nodes)

    def to(self, device):
        """Returns the tree on ``device``.

        Arguments
        ---------
        device : torch.device or str
            Where the tensors should live.

        Returns
        -------
        ReadingTrie
            The tree on ``device``.
        """
        levels = [tuple(t.to(device) for t in level) for level in self.levels]
        return ReadingTrie(levels, self.char_nodes.to(device))


def _token_readings(text, pinyin_tokenizer, heteronyms):
    """The readings (lists of CTC classes) of a token's text, default first.

    A token without phones has the single empty reading.
    """
    default = _phones_to_classes(
        pinyin_tokenizer.text_to_phones(text), pinyin_tokenizer
    )
    if default is None:
        return [[]]
    readings = [default]
    if heteronyms and len(text) == 1:
        syllables = pinyin(
            text,
            style=Style.TONE3,
            heteronym=True,
            neutral_tone_with_five=True,
            errors="ignore",
        )
        for syllable in syllables[0] if syllables else []:
            phones = syllable_to_phones(syllable) or []
            classes = _phones_to_classes(phones, pinyin_tokenizer)
            if classes and classes not in readings:
                readings.append(classes)
    return readings


def _phones_to_classes(phones, pinyin_tokenizer):
    """CTC classes of phone strings; None if empty or not in the inventory."""
    ids = [pinyin_tokenizer.token_to_id(phone) for phone in phones]
    if not ids or SymbolTable.unk_index in ids:
        return None
    return pinyin_tokenizer.ids_to_ctc_targets(ids)


class PrefixState(NamedTuple):
    """CTC prefix state of hypotheses (``...`` is ``[hyps]`` or more axes).

    Arguments
    ---------
    nonblank : torch.Tensor
        ``[time + 1, ...]`` log r^n_t: the prefix's phones are all emitted
        by frame t and frame t emits its last phone (row 0: before any
        frame).
    blank : torch.Tensor
        ``[time + 1, ...]`` log r^b_t: same, frame t emits a blank.
    psi : torch.Tensor
        ``[...]`` log prefix probability: the phones output so far begin
        with the prefix's phones.
    last : torch.Tensor
        ``[...]`` the prefix's last phone class (-1: no phone yet).
    """

    nonblank: torch.Tensor
    blank: torch.Tensor
    psi: torch.Tensor
    last: torch.Tensor


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
                table = _pad_table(table, self.vocab_size)
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
        log_probs, valid = log_probs.transpose(0, 1), (~padding_mask).t()
        self._check_classes(log_probs.shape[-1])
        self.lengths = valid.sum(dim=0)
        # Padded frames are made neutral (probability 1) in the cumulative
        # sums below; no result on a real frame ever reads them.
        self.log_probs = log_probs.masked_fill(~valid.unsqueeze(-1), 0.0)
        self.valid = valid
        # Cumulative log posteriors of every class, from frame 0 on.
        self.emission_cumsum = _prepend_row(self.log_probs.cumsum(dim=0), 0.0)
        self.blank_cumsum = self.emission_cumsum[:, :, self.phone_blank_index]
        self.table = self.char_phone_table.to(x.device)
        if self._trie is None or self._trie.char_nodes.device != x.device:
            self._trie = ReadingTrie.from_table(self.table).to(x.device)
        # exp(y) per utterance, shifted by its maximum over the valid frames
        # (for _emission_products).
        emissions = log_probs.masked_fill(~valid.unsqueeze(-1), float("-inf"))
        self.emission_shift = emissions.amax(dim=0)
        weights = (emissions - self.emission_shift).exp()
        self.emission_weights = weights.transpose(0, 1).contiguous()
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
        utterances = self._utterances(n_hyps)
        if memory is None:
            memory = self._empty_prefix(utterances)
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
        final = self._final_log_prob(memory, utterances)
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
        utterances = self._utterances(hyps.shape[0])
        for position in range(int(lengths.max())):
            phone = phones[:, position]
            active = position < lengths
            extended = self._extend_by_phone(
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

    def _utterances(self, n_hyps):
        """The utterance of each of ``n_hyps`` hypotheses (beam-major)."""
        batch = self.lengths.shape[0]
        beam = n_hyps // batch
        hyps = torch.arange(n_hyps, device=self.lengths.device)
        return torch.div(hyps, beam, rounding_mode="floor")

    def _empty_prefix(self, utterances):
        """The state of the empty phone sequence (only blanks so far)."""
        blank = self.blank_cumsum[:, utterances]
        n_hyps = utterances.shape[0]
        return PrefixState(
            torch.full_like(blank, float("-inf")),
            blank,
            blank.new_zeros(n_hyps),
            torch.full((n_hyps,), NO_PHONE, device=blank.device),
        )

    def _final_log_prob(self, state, utterances):
        """log P(the phones are exactly the prefix's) of each hypothesis."""
        hyps = torch.arange(utterances.shape[0], device=utterances.device)
        last_frame = self.lengths[utterances]
        return torch.logaddexp(
            state.nonblank[last_frame, hyps], state.blank[last_frame, hyps]
        )

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
        node_psi = []
        for parents, phones, inner in self._trie.levels:
            n_nodes = phones.shape[0]
            parent = columns[:, parents]
            pruned = parent < 0
            parent = parent.clamp(min=0).view(-1)
            phone = phones.repeat(n_hyps)
            after_blank = blank[:-1]
            phi = torch.logaddexp(after_blank, nonblank[:-1])
            column_utterances = utterances.repeat_interleave(columns.shape[1])
            psi = self._emission_products(phi)[parent, phone]
            # A repeated phone needs a blank in between.
            repeat = last[parent] == phone
            if repeat.any():
                psi[repeat] = self._prefix_log_prob(
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
            nonblank, blank = self._extend_from_phi(
                phi, phone, utterances.repeat_interleave(kept.shape[1])
            )
            last = phone
            columns = hyps.new_full((n_hyps, inner.numel()), -1)
            columns.scatter_(
                1, kept, torch.arange(chosen.numel()).view(n_hyps, -1)
            )
        minus = torch.tensor(float("-inf"), dtype=state.psi.dtype)
        node_psi = torch.cat([*node_psi, minus.expand(n_hyps, 1)], dim=1)
        char_nodes = self._trie.char_nodes
        missing = node_psi.shape[1] - 1
        psi = node_psi[:, char_nodes.masked_fill(char_nodes < 0, missing)]
        psi, readings = psi.max(dim=-1)
        # An id without phones leaves the prefix as it is.
        psi[:, self.without_phones] = state.psi.unsqueeze(1)
        return psi, readings

    def _emission_products(self, phi):
        """``[columns, classes]`` ``log sum_t exp(phi_t + y_t)`` of every
        column of ``phi`` (``[T, columns]``, hypothesis-major) and every
        phone class of the column's utterance."""
        batch, n_frames = self.lengths.shape[0], phi.shape[0]
        shift = phi.amax(dim=0)
        shift = shift.masked_fill(~torch.isfinite(shift), 0.0)
        weights = (phi - shift).exp().t().reshape(batch, -1, n_frames)
        sums = torch.bmm(weights, self.emission_weights)
        logs = sums.log() + self.emission_shift.unsqueeze(1)
        return logs.reshape(-1, sums.shape[-1]) + shift.unsqueeze(1)

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
        utterances = self._utterances(n_hyps)
        parents = columns_hyp
        n_classes = self.log_probs.shape[-1]
        for position in range(n_phones):
            phone = phones[:, position]
            leaf = lengths == position + 1
            if leaf.any():
                node, leaf_phone = parents[leaf], phone[leaf]
                phi = self._phi(nonblank, blank, last, node, leaf_phone)
                psi[leaf] = self._prefix_log_prob(
                    phi, leaf_phone, utterances[node]
                )
            inner = lengths > position + 1
            if not inner.any():
                break
            keys = parents[inner] * n_classes + phone[inner]
            nodes, inverse = torch.unique(keys, return_inverse=True)
            node = torch.div(nodes, n_classes, rounding_mode="floor")
            node_phone = nodes % n_classes
            nonblank, blank = self._extend_by_phone(
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

    def _phi(self, nonblank, blank, last, node, phone):
        """``[T, columns]`` mass of prefix ``node`` that ``phone`` may follow.

        ``r^b_t + r^n_t`` of the prefix, without ``r^n_t`` when the prefix
        ends with the same phone (a repeat needs a blank in between).
        """
        repeat = last[node] == phone
        return torch.logaddexp(
            blank[:-1, node],
            torch.where(repeat, float("-inf"), nonblank[:-1, node]),
        )

    def _prefix_log_prob(self, phi, phone, utterances):
        """log psi of a prefix extended by ``phone``: sum_t phi_{t-1} y_t."""
        y = self.log_probs[:, utterances, phone]
        valid = self.valid[:, utterances]
        return torch.logsumexp((phi + y).masked_fill(~valid, float("-inf")), 0)

    def _extend_by_phone(self, nonblank, blank, last, phone, utterances):
        """Full states of prefixes extended by one phone, over all frames.

        The CTC prefix recursions
        ``r^n_t = (r^n_{t-1} + phi_{t-1}) y^c_t`` and
        ``r^b_t = (r^b_{t-1} + r^n_{t-1}) y^blank_t`` are first-order linear
        recurrences, solved without a loop over frames with cumulative sums
        of the log posteriors and ``logcumsumexp`` (in float64, so that the
        cumulative sums lose nothing that matters).

        Arguments
        ---------
        nonblank, blank : torch.Tensor
            ``[T + 1, columns]`` log r^n and log r^b of the prefixes.
        last : torch.Tensor
            ``[columns]`` the prefixes' last phones (-1: none).
        phone : torch.Tensor
            ``[columns]`` the phone to append (a class of the head).
        utterances : torch.Tensor
            ``[columns]`` the utterance of each prefix.

        Returns
        -------
        tuple of torch.Tensor
            ``[T + 1, columns]`` log r^n and log r^b of the extended
            prefixes.
        """
        columns = torch.arange(phone.shape[0], device=phone.device)
        phi = self._phi(nonblank, blank, last, columns, phone)
        return self._extend_from_phi(phi, phone, utterances)

    def _extend_from_phi(self, phi, phone, utterances):
        """``_extend_by_phone`` from the prefixes' ``_phi``: ``[T, columns]``
        log r^n and log r^b of the extended prefixes."""
        minus = float("-inf")
        emit = self.emission_cumsum[:, utterances, phone]
        nonblank = emit + _prepend_row(
            torch.logcumsumexp(phi - emit[:-1], dim=0), minus
        )
        blank_emit = self.blank_cumsum[:, utterances]
        blank = blank_emit + _prepend_row(
            torch.logcumsumexp(nonblank - blank_emit, dim=0)[:-1], minus
        )
        return nonblank, blank


def phone_ctc_log_likelihood(
    log_probs, lengths, hyps, char_phones, blank_index=PHONE_BLANK_INDEX
):
    """Full-sequence phone CTC log-probability of character hypotheses.

    Each hypothesis is turned into the phones of its characters (default
    readings; ids without phones add none) and scored with
    ``torch.nn.functional.ctc_loss`` (the sum over all alignments).

    Arguments
    ---------
    log_probs : torch.Tensor
        ``[batch, time, classes]`` phone log-posteriors.
    lengths : torch.Tensor
        ``[batch]`` number of valid frames.
    hyps : list of list of int
        One hypothesis (decoder ids, no ``</s>``) per row of ``log_probs``.
    char_phones : CharPhoneTable
        The char -> phones table.
    blank_index : int
        The blank class.

    Returns
    -------
    torch.Tensor
        ``[batch]`` log-probabilities (``-inf`` if the phones cannot fit).

    Example
    -------
    >>> from speechbrain_mmspeech.tokenizers import CharTokenizer
    >>> tokenizer = CharTokenizer()
    >>> tokenizer.build(["他我"], vocab_size=6)
    >>> table = CharPhoneTable.from_tokenizers(tokenizer)
    >>> log_probs = torch.full((2, 3, 121), -20.0)
    >>> log_probs[:, [0, 1, 2], [82, 1, 0]] = 0.0  # t a1 blank
    >>> ids = tokenizer.encode_as_ids("他我")
    >>> scores = phone_ctc_log_likelihood(
    ...     log_probs, torch.tensor([3, 3]), [ids[:1], ids[1:]], table
    ... )
    >>> scores.round().tolist()
    [0.0, -40.0]
    """
    targets = [
        torch.tensor(char_phones.sequence_phones(hyp), dtype=torch.long)
        for hyp in hyps
    ]
    target_lengths = torch.tensor([len(t) for t in targets])
    flat = torch.cat([torch.zeros(0, dtype=torch.long), *targets])
    losses = torch.nn.functional.ctc_loss(
        log_probs.double().transpose(0, 1).cpu(),
        flat,
        lengths.cpu(),
        target_lengths,
        blank=blank_index,
        reduction="none",
        zero_infinity=False,
    )
    return -losses.to(log_probs.device)


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


def _pad_table(table, vocab_size):
    """The table extended with phoneless ids up to ``vocab_size``."""
    missing = vocab_size - table.vocab_size
    if missing < 0:
        raise ValueError(
            f"The char -> phones table has {table.vocab_size} ids, more than "
            f"the decoder's {vocab_size}"
        )
    phones = torch.nn.functional.pad(
        table.phones, (0, 0, 0, 0, 0, missing), value=NO_PHONE
    )
    lengths = torch.nn.functional.pad(
        table.lengths, (0, 0, 0, missing), value=NO_READING
    )
    lengths[table.vocab_size :, 0] = 0
    return CharPhoneTable(phones, lengths)


def _prepend_row(tensor, value):
    """``tensor`` with a row of ``value`` before its first row (axis 0)."""
    row = torch.full_like(tensor[:1], value)
    return torch.cat([row, tensor], dim=0)
