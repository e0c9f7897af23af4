"""Hotwords that ask the audio: pinyin-gated context biasing in the search.

A hotword (a name, a product, a term) is boosted in the beam search only if
its pinyin phones were spoken. Two steps, both per utterance:

1. Gating (keyword spotting, ``spot_hotwords``): each hotword's phones (the
   package's ``PinyinTokenizer.text_to_phones``, the conversion that made
   the phone head's targets) are aligned against the phone head's CTC
   log-posteriors with a free start and end, by Viterbi over the
   hotword's CTC label sequence, for all hotwords and utterances at once.
   A frame costs ``log p(label) - log max_k p(k)`` (0 where the head's best
   class is the label, negative elsewhere), so the score of the best
   segment, divided by the number of phones, is 0 when the head's greedy
   path holds the hotword exactly and falls as the audio disagrees. A
   hotword is *active* when its score is at least ``threshold`` (the best
   ``max_active`` of them); the others get nothing, so a long list does not
   turn into insertions. With a ``tone_penalty`` a final heard in another
   tone may stand in (``speechbrain_mmspeech.decoders.keyword_spotting``).
   Short hotwords (two characters or fewer) may have a stricter
   ``short_threshold``: two syllables match some stretch of an ordinary
   sentence by chance far more often than three do.
   With ``suppress_overlaps``, hotwords compete for the audio as in
   keyword spotting's non-maximum suppression: an active hotword whose
   best segment lies mostly (half of the shorter segment or more) inside
   that of an active hotword with a better score is dropped. A
   near-homophone spotted over a spoken hotword then loses to it, while
   true homophones (the same phones, the same score) both stay.
2. Biasing (``HotwordScorer``, a SpeechBrain full scorer, weight key
   ``hotword``): the active hotwords of an utterance form an Aho-Corasick
   automaton over the decoder's character ids (a context graph, as in
   icefall and WeNet). A hypothesis' state is the longest hotword prefix its
   text ends with; each character that extends a match scores +1, a
   completed hotword keeps its points, and a match that breaks (or an
   ``</s>`` inside one) gives its pending points back. As a full scorer it
   scores every id before pruning, so a hotword's next character can enter
   the beam even when the decoder ranks it low. ``ScorerBuilder`` multiplies
   the points by the ``hotword`` weight: the bonus per character.

Where this departs from the context graphs of icefall and WeNet: the
points are characters (one unit each, the weight is the YAML's); a hotword
found only as a proper suffix of a longer partial match (a dictionary
suffix link) is not credited; overlapping completions may be credited
twice. Homophones cannot be told apart by the gate: a listed homophone of
a spoken hotword is active too, and the decoder and the language model
choose between them.

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
from pathlib import Path

import torch
from speechbrain.decoders import scorer as sb_scorer

from speechbrain_mmspeech.decoders.keyword_spotting import (
    spot_hotwords,
    tone_groups,
)
from speechbrain_mmspeech.lobes.models.mmspeech import unpack_memory
from speechbrain_mmspeech.text import has_chinese
from speechbrain_mmspeech.tokenizers import PinyinTokenizer, SymbolTable

logger = logging.getLogger(__name__)

DEFAULT_WEIGHT = 9.0  # bonus per hotword character
DEFAULT_THRESHOLD = -1.0  # per phone; both chosen on dev, see the recipe README
DEFAULT_TONE_PENALTY = 1.0  # per frame (None: tones must match); chosen on dev
DEFAULT_SHORT_THRESHOLD = -0.5  # words of <= SHORT_WORD_CHARS; on dev
SHORT_WORD_CHARS = 2  # a short hotword: two syllables or fewer
DEFAULT_SUPPRESS_OVERLAPS = False
SEGMENT_OVERLAP = 0.5  # of the shorter segment: the same stretch of audio
DEFAULT_MAX_ACTIVE = 32
DEFAULT_MAX_HOTWORDS = 5000
DEFAULT_MAX_CHARS = 16
TABLE_CACHE_SIZE = 4  # checked lists a scorer keeps


class HotwordError(ValueError):
    """A hotword list that cannot be used; the message names the problem."""


def read_hotwords(path):
    """Reads a hotword file: one hotword a line, ``#`` starts a comment.

    Arguments
    ---------
    path : str or pathlib.Path
        A UTF-8 text file.

    Returns
    -------
    list of str
        The hotwords, in file order.

    Raises
    ------
    HotwordError
        If the file is missing, unreadable or holds no hotword.

    Example
    -------
    >>> path = Path(getfixture("tmpdir")) / "names.txt"
    >>> _ = path.write_text("张三\\n# a comment\\n\\n北京\\n", encoding="utf-8")
    >>> read_hotwords(path)
    ['张三', '北京']
    """
    path = Path(path)
    if not path.is_file():
        raise HotwordError(f"hotword file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise HotwordError(
            f"hotword file {path} is unreadable: {error}"
        ) from error
    words = [line.split("#")[0].strip() for line in text.splitlines()]
    words = [word for word in words if word]
    if not words:
        raise HotwordError(f"hotword file {path} holds no hotword")
    return words


class HotwordTable:
    """Hotwords checked against a model: their character ids and phones.

    Arguments
    ---------
    hotwords : list of str
        The hotwords (duplicates are dropped, order kept).
    char_tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        The decoder's tokenizer: every character must be in it.
    pinyin_tokenizer : PinyinTokenizer
        The phone inventory (default: the official one).
    max_hotwords : int
        The longest list accepted.
    max_chars : int
        The longest hotword accepted, in characters.

    Raises
    ------
    HotwordError
        An empty list, a list longer than ``max_hotwords``, or a hotword
        that is not a string, has no Chinese character, is too long, has a
        character outside the vocabulary or has no pinyin phones.

    Example
    -------
    >>> from speechbrain_mmspeech.tokenizers import CharTokenizer
    >>> tokenizer = CharTokenizer()
    >>> tokenizer.build(["张三北京"], vocab_size=8)
    >>> table = HotwordTable(["张三", "北京", "张三"], tokenizer)
    >>> table.words, table.phones.shape
    (['张三', '北京'], torch.Size([2, 6]))
    >>> HotwordTable(["ABC"], tokenizer)
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.decoders.hotwords.HotwordError: hotword 'ABC' has no Chinese character
    """

    def __init__(
        self,
        hotwords,
        char_tokenizer,
        pinyin_tokenizer=None,
        max_hotwords=DEFAULT_MAX_HOTWORDS,
        max_chars=DEFAULT_MAX_CHARS,
    ):
        if isinstance(hotwords, str):
            raise HotwordError(
                "hotwords must be a list of strings, got one string "
                f"{hotwords!r}"
            )
        words = list(dict.fromkeys(hotwords))
        if not words:
            raise HotwordError("the hotword list is empty")
        if len(words) > max_hotwords:
            raise HotwordError(
                f"{len(words)} hotwords, more than max_hotwords "
                f"({max_hotwords})"
            )
        pinyin_tokenizer = pinyin_tokenizer or PinyinTokenizer()
        self.words, ids, phones = [], [], []
        for word in words:
            word_ids, word_phones = _check_hotword(
                word, char_tokenizer, pinyin_tokenizer, max_chars
            )
            self.words.append(word)
            ids.append(word_ids)
            phones.append(word_phones)
        self.char_ids = ids
        self.char_lengths = torch.tensor([len(i) for i in ids])
        self.phone_lengths = torch.tensor([len(p) for p in phones])
        self.phones = torch.zeros(len(phones), max(map(len, phones)))
        self.phones = self.phones.long()
        for row, word_phones in enumerate(phones):
            self.phones[row, : len(word_phones)] = torch.tensor(word_phones)

    def __len__(self):
        return len(self.words)


def _check_hotword(word, char_tokenizer, pinyin_tokenizer, max_chars):
    """The character ids and CTC phone classes of one hotword, checked."""
    if not isinstance(word, str):
        raise HotwordError(f"hotword {word!r} is not a string")
    word = word.strip()
    if not has_chinese(word):
        raise HotwordError(f"hotword {word!r} has no Chinese character")
    if len(word) > max_chars:
        raise HotwordError(
            f"hotword {word!r} has {len(word)} characters, more than "
            f"max_chars ({max_chars})"
        )
    ids = char_tokenizer.encode_as_ids(word)
    unknown = [
        char for char, index in zip(word, ids) if index == SymbolTable.unk_index
    ]
    if unknown or len(ids) != len(word):
        raise HotwordError(
            f"hotword {word!r}: {''.join(unknown) or word!r} not in the "
            "model's character vocabulary"
        )
    phone_ids = [
        pinyin_tokenizer.token_to_id(phone)
        for phone in pinyin_tokenizer.text_to_phones(word)
    ]
    if not phone_ids or SymbolTable.unk_index in phone_ids:
        raise HotwordError(f"hotword {word!r} has no pinyin phones")
    return ids, pinyin_tokenizer.ids_to_ctc_targets(phone_ids)


class HotwordScorer(sb_scorer.BaseScorerInterface):
    """Pinyin-gated hotword biasing, a SpeechBrain full scorer.

    Weight key ``hotword`` in ``ScorerBuilder``: the bonus per hotword
    character. The list is the attribute ``hotwords`` (None or empty: the
    scorer adds 0 everywhere); ``MMSpeechASR`` sets it per call. See the
    module docstring for the gate and the automaton.

    Arguments
    ---------
    phone_head : torch.nn.Module or callable
        An ``MMSpeech`` or ``SpeechEncoder`` (its ``phone_logits``), or any
        ``hidden[B, T, d] -> logits[B, T, classes]``.
    char_tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        The decoder's tokenizer.
    hotwords : list of str
        The default list (None: none).
    threshold : float
        The gate: the least spotting score per phone (``spot_hotwords``)
        of an active hotword; None: every hotword is active (no gate).
    tone_penalty : float
        The gate's cost per frame of hearing a final in another tone
        (``tone_tolerant_costs``); None: tones must match.
    short_threshold : float
        The gate's threshold for hotwords of at most ``SHORT_WORD_CHARS``
        characters; None: ``threshold`` (unused without a threshold).
    suppress_overlaps : bool
        Drop an active hotword spotted mostly over the segment of a
        better-scoring one (``suppress_overlapping``).
    max_active : int
        At most this many hotwords (the best spotted) are active in an
        utterance.
    max_hotwords : int
        The longest list accepted.
    vocab_size : int
        The decoder's number of ids (default: the tokenizer's).
    eos_index : int
        ``</s>``: gives a pending partial match back.
    pinyin_tokenizer : PinyinTokenizer
        The phone inventory (default: the official one).

    Example
    -------
    >>> from speechbrain.decoders.scorer import ScorerBuilder
    >>> from speechbrain_mmspeech.tokenizers import CharTokenizer
    >>> tokenizer = CharTokenizer()
    >>> tokenizer.build(["他她来了"], vocab_size=10)
    >>> scorer = HotwordScorer(lambda hidden: hidden, tokenizer, ["她来"])
    >>> builder = ScorerBuilder(full_scorers=[scorer], weights={"hotword": 2.0})
    >>> list(builder.full_scorers)
    ['hotword']
    >>> # Stand-in phone head: the hidden states are the logits, t a1 l ai2.
    >>> logits = torch.zeros(1, 6, 121)
    >>> logits[0, range(6), [82, 1, 0, 63, 7, 0]] = 10.0
    >>> memory = torch.cat([logits, logits, torch.ones(1, 6, 1)], dim=-1)
    >>> scorer.reset_mem(memory, None)
    >>> scorer.active_hotwords()
    [['她来']]
    >>> ta, ta_she, lai = tokenizer.encode_as_ids("他她来")
    >>> scores, state = scorer.score(torch.tensor([0]), None, None, None)
    >>> scores[0, [ta, ta_she, lai]].tolist()
    [0.0, 1.0, 0.0]
    >>> scores, state = scorer.score(torch.tensor([ta_she]), state, None, None)
    >>> scores[0, [ta, lai, 2]].tolist()  # broken match, completion, </s>
    [-1.0, 1.0, -1.0]
    """

    def __init__(
        self,
        phone_head,
        char_tokenizer,
        hotwords=None,
        threshold=DEFAULT_THRESHOLD,
        tone_penalty=DEFAULT_TONE_PENALTY,
        short_threshold=DEFAULT_SHORT_THRESHOLD,
        suppress_overlaps=DEFAULT_SUPPRESS_OVERLAPS,
        max_active=DEFAULT_MAX_ACTIVE,
        max_hotwords=DEFAULT_MAX_HOTWORDS,
        vocab_size=None,
        eos_index=SymbolTable.eos_index,
        pinyin_tokenizer=None,
    ):
        from speechbrain_mmspeech.decoders.phone_ctc import (
            _phone_logits_function,
        )

        self.phone_logits = _phone_logits_function(phone_head)
        self.char_tokenizer = char_tokenizer
        self.threshold = threshold
        self.tone_penalty = tone_penalty
        self.short_threshold = short_threshold
        self.suppress_overlaps = suppress_overlaps
        self.max_active = max_active
        self.max_hotwords = max_hotwords
        self.vocab_size = vocab_size
        self.eos_index = eos_index
        self.pinyin_tokenizer = pinyin_tokenizer or PinyinTokenizer()
        self.tone_groups = tone_groups(self.pinyin_tokenizer)
        self._table = None
        self._words = None
        self._tables = {}  # recent lists' tables: a list is checked once
        self.hotwords = hotwords
        self.spotted = None
        self.segments = None
        self._active = None

    @property
    def hotwords(self):
        """The hotword list (None: no biasing)."""
        return self._words

    @hotwords.setter
    def hotwords(self, words):
        if isinstance(words, str):
            raise HotwordError(
                f"hotwords must be a list of strings, got one string {words!r}"
            )
        self._words = list(words) if words else None
        self._table = None  # checked on first use (the tokenizer may load)
        if self._words is not None:
            self._table = self._tables.get(tuple(self._words))

    @property
    def table(self):
        """The checked ``HotwordTable`` of the list (None without one)."""
        if self._table is None and self._words is not None:
            self._table = HotwordTable(
                self._words,
                self.char_tokenizer,
                self.pinyin_tokenizer,
                max_hotwords=self.max_hotwords,
            )
            if len(self._tables) >= TABLE_CACHE_SIZE:
                self._tables.pop(next(iter(self._tables)))
            self._tables[tuple(self._words)] = self._table
        return self._table

    def active_hotwords(self):
        """The active hotwords of each utterance of the last batch."""
        if self._active is None:
            return None
        return [[self.table.words[k] for k in ks] for ks in self._active]

    def word_thresholds(self):
        """The gate's threshold of each hotword of the list.

        Returns
        -------
        torch.Tensor
            ``[hotwords]``: ``short_threshold`` for the hotwords of at most
            ``SHORT_WORD_CHARS`` characters (if set), ``threshold`` for
            the others; None without a threshold (no gate).
        """
        if self.threshold is None:
            return None
        thresholds = torch.full((len(self.table),), float(self.threshold))
        if self.short_threshold is not None:
            short = self.table.char_lengths <= SHORT_WORD_CHARS
            thresholds[short] = float(self.short_threshold)
        return thresholds

    @torch.no_grad()
    def spot(self, memory):
        """Spotting scores of the list's hotwords in each utterance.

        Arguments
        ---------
        memory : torch.Tensor
            Packed encoder memory, one row per utterance.

        Returns
        -------
        scores : torch.Tensor
            ``[batch, hotwords]`` best segment cost per phone
            (``spot_hotwords``, with this scorer's tone penalty).
        segments : torch.Tensor
            ``[batch, hotwords, 2]`` first and last frame of each best
            segment (None without ``suppress_overlaps``).
        """
        hidden, _, padding_mask = unpack_memory(memory)
        lengths = (~padding_mask).sum(dim=1).cpu()
        log_probs = self.phone_logits(hidden).float().log_softmax(-1)
        spotted = spot_hotwords(
            log_probs.cpu(),
            lengths,
            self.table.phones,
            self.table.phone_lengths,
            tone_groups=self.tone_groups,
            tone_penalty=self.tone_penalty,
            return_segments=self.suppress_overlaps,
        )
        return spotted if self.suppress_overlaps else (spotted, None)

    @torch.no_grad()
    def reset_mem(self, x, enc_lens):
        """Spots the hotwords in a new batch and builds its automata.

        Arguments
        ---------
        x : torch.Tensor
            Packed encoder memory, one row per utterance (the searcher
            then scores ``beam`` hypotheses of each).
        enc_lens : torch.Tensor
            Unused.
        """
        self._active = None
        self._dtype = x.dtype
        if self.table is None:
            return None
        table = self.table
        self.spotted, self.segments = self.spot(x)
        self._active = []
        thresholds = self.word_thresholds()
        for k, scores in enumerate(self.spotted):
            if thresholds is None:
                keep = torch.arange(len(table))
            else:
                keep = (scores >= thresholds).nonzero().squeeze(1)
            if self.segments is not None:
                keep = suppress_overlapping(keep, scores, self.segments[k])
            if len(keep) > self.max_active:
                keep = keep[scores[keep].topk(self.max_active).indices]
            self._active.append(sorted(keep.tolist()))
        vocab = self.vocab_size or len(self.char_tokenizer)
        automata = [
            ContextGraph([table.char_ids[k] for k in ks], vocab)
            for ks in self._active
        ]
        offsets = torch.tensor([0] + [len(a) for a in automata]).cumsum(0)
        self._next = torch.cat(
            [a.next + offset for a, offset in zip(automata, offsets)]
        ).to(x.device)
        self._delta = torch.cat([a.delta for a in automata]).to(x.device)
        self._give_back = torch.cat([a.pending for a in automata]).to(x.device)
        self._roots = offsets[:-1].to(x.device)
        return None

    def score(self, inp_tokens, memory, candidates, attn):
        """Hotword points of every id after each hypothesis.

        Arguments
        ---------
        inp_tokens : torch.Tensor
            ``[hyps]`` tokens chosen at the previous step (``<s>`` first).
        memory : torch.Tensor
            ``[hyps]`` automaton states before ``inp_tokens`` (None at the
            first step).
        candidates : torch.Tensor
            Unused (a full scorer).
        attn : torch.Tensor
            Unused.

        Returns
        -------
        scores : torch.Tensor
            ``[hyps, vocab]`` points: +1 for a character that extends a
            match, minus the pending points for one that breaks it (and
            for ``</s>``), 0 elsewhere.
        memory : torch.Tensor
            ``[hyps]`` the states after ``inp_tokens``.
        """
        vocab = self.vocab_size or len(self.char_tokenizer)
        n_hyps = inp_tokens.shape[0]
        if self._active is None:
            zeros = torch.zeros(n_hyps, vocab, device=inp_tokens.device)
            return zeros.to(self._dtype), None
        if memory is None:
            beam = n_hyps // self._roots.shape[0]
            state = self._roots.repeat_interleave(beam)
        else:
            tokens = inp_tokens.long().clamp(max=self._next.shape[1] - 1)
            state = self._next[memory, tokens]
        scores = self._delta[state].clone()
        scores[:, self.eos_index] = -self._give_back[state]
        return scores.to(self._dtype), state

    def permute_mem(self, memory, index):
        """Reorders the states with the beams.

        Arguments
        ---------
        memory : torch.Tensor
            ``[hyps]`` states (None without hotwords).
        index : torch.Tensor
            ``[hyps]`` the hypothesis each new hypothesis continues.

        Returns
        -------
        torch.Tensor
            The reordered states.
        """
        if memory is None:
            return None
        return memory[index]


def suppress_overlapping(candidates, scores, segments):
    """Non-maximum suppression of spotted hotwords.

    In the order of their scores, a candidate is kept unless its segment
    lies, for at least ``SEGMENT_OVERLAP`` of the shorter of the two, inside
    the segment of a kept candidate with a strictly better score (equal
    scores, such as homophones', do not suppress each other).

    Arguments
    ---------
    candidates : torch.Tensor
        Indices of the hotwords to consider.
    scores : torch.Tensor
        ``[hotwords]`` spotting scores.
    segments : torch.Tensor
        ``[hotwords, 2]`` first and last frame of each best segment.

    Returns
    -------
    torch.Tensor
        The candidates kept, best first.

    Example
    -------
    >>> scores = torch.tensor([-0.2, -0.6, -0.2, -0.9])
    >>> segments = torch.tensor([[3, 9], [4, 9], [3, 9], [12, 15]])
    >>> suppress_overlapping(torch.arange(4), scores, segments).tolist()
    [0, 2, 3]
    """
    order = candidates[scores[candidates].argsort(descending=True, stable=True)]
    spans = segments.tolist()
    kept = []
    for candidate in order.tolist():
        beaten = any(
            scores[other] > scores[candidate]
            and _mostly_shared(spans[candidate], spans[other])
            for other in kept
        )
        if not beaten:
            kept.append(candidate)
    return torch.tensor(kept, dtype=torch.long)


def _mostly_shared(span, other):
    """Whether two ``[first, last]`` frame spans share at least
    ``SEGMENT_OVERLAP`` of the shorter one."""
    shared = min(span[1], other[1]) - max(span[0], other[0]) + 1
    shorter = min(span[1] - span[0], other[1] - other[0]) + 1
    return shared >= SEGMENT_OVERLAP * shorter


class ContextGraph:
    """The Aho-Corasick automaton of some hotwords, as dense tables.

    Node 0 is the root (no match). A node is a prefix of some hotword; its
    ``pending`` points are its characters not yet part of a completed
    hotword on its path (the points given back if the match breaks).

    Arguments
    ---------
    sequences : list of list of int
        The hotwords' character ids.
    vocab_size : int
        The number of ids.

    Attributes
    ----------
    next : torch.Tensor
        ``[nodes, vocab]`` the node after each id.
    delta : torch.Tensor
        ``[nodes, vocab]`` the points of each id: +1 when it extends the
        match, else the change of pending points (plus the length of a
        hotword it completes).
    pending : torch.Tensor
        ``[nodes]`` the pending points of each node.

    Example
    -------
    >>> graph = ContextGraph([[1, 2, 3]], vocab_size=5)
    >>> graph.delta[0].tolist()  # root: id 1 starts the hotword
    [0.0, 1.0, 0.0, 0.0, 0.0]
    >>> graph.delta[2].tolist()  # after 1 2: 3 completes, 1 restarts
    [-2.0, -1.0, -2.0, 1.0, -2.0]
    >>> graph.pending.tolist()
    [0.0, 1.0, 2.0, 0.0]
    """

    def __init__(self, sequences, vocab_size):
        children, depth, is_end = [{}], [0], [False]
        for sequence in sequences:
            node = 0
            for token in sequence:
                if token not in children[node]:
                    children[node][token] = len(children)
                    children.append({})
                    depth.append(depth[node] + 1)
                    is_end.append(False)
                node = children[node][token]
            is_end[node] = True
        n_nodes = len(children)
        next_table = torch.zeros(n_nodes, vocab_size, dtype=torch.long)
        fail, banked = [0] * n_nodes, [0] * n_nodes
        queue = []
        for token, child in children[0].items():
            next_table[0, token] = child
            queue.append(child)
        for node in queue:  # breadth first: a node's fail is done first
            banked[node] = depth[node] if is_end[node] else banked[node]
            next_table[node] = next_table[fail[node]]
            for token, child in children[node].items():
                fail[child] = int(next_table[fail[node], token])
                banked[child] = banked[node]
                next_table[node, token] = child
                queue.append(child)
        depth_t = torch.tensor(depth, dtype=torch.float)
        end_t = torch.tensor(is_end)
        pending = depth_t - torch.tensor(banked, dtype=torch.float)
        parents = torch.zeros(n_nodes, dtype=torch.long)
        for node, kids in enumerate(children):
            for child in kids.values():
                parents[child] = node
        nodes = torch.arange(n_nodes).unsqueeze(1)
        extends = (parents[next_table] == nodes) & (next_table > 0)
        completes = torch.where(end_t[next_table], depth_t[next_table], 0.0)
        jump = completes + pending[next_table] - pending.unsqueeze(1)
        self.next = next_table
        self.delta = torch.where(extends, 1.0, jump)
        self.pending = pending

    def __len__(self):
        return self.next.shape[0]


# ScorerBuilder accepts the weight keys of the "...Scorer" classes of its own
# module only; listing this one there gives it the key "hotword".
sb_scorer.HotwordScorer = HotwordScorer
