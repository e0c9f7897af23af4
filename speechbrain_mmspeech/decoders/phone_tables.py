"""The pinyin phones of every decoder id: the table and its reading tree.

Phone-aware decoding (``speechbrain_mmspeech.decoders.phone_ctc``) needs,
for every id of the decoder's vocabulary, the CTC classes of the phone
head that its text is read as:

- ``CharPhoneTable``: the classes of each id's readings, as padded tensors
  (``PinyinTokenizer.text_to_phones`` of the token's text, the conversion
  that made the phone head's training targets; with ``heteronyms``,
  pypinyin's other readings of single Han characters too);
- ``ReadingTrie``: the table's distinct readings as a prefix tree, which
  the scorer walks one phone position at a time.

Tokens without a pronunciation (specials, ``<unk>``, ``<mask>``,
punctuation, other scripts, audio-code ids) have a single empty reading.

Authors
 * MMSpeech plugin contributors 2026
"""

from collections import Counter

import torch
from pypinyin import Style, pinyin

from speechbrain_mmspeech.pinyin import syllable_to_phones
from speechbrain_mmspeech.tokenizers import PinyinTokenizer, SymbolTable

NO_PHONE = -1  # padding of the phone table
NO_READING = -1  # the length of a missing reading in the phone table


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

    def padded(self, vocab_size):
        """The table extended with phoneless ids up to ``vocab_size``.

        Arguments
        ---------
        vocab_size : int
            The decoder's number of ids (at least the table's).

        Returns
        -------
        CharPhoneTable
            The longer table.

        Example
        -------
        >>> table = CharPhoneTable(torch.ones(2, 1, 1), torch.ones(2, 1))
        >>> table.padded(3).lengths[:, 0].tolist()
        [1, 1, 0]
        """
        missing = vocab_size - self.vocab_size
        if missing < 0:
            raise ValueError(
                f"The char -> phones table has {self.vocab_size} ids, more "
                f"than the decoder's {vocab_size}"
            )
        phones = torch.nn.functional.pad(
            self.phones, (0, 0, 0, 0, 0, missing), value=NO_PHONE
        )
        lengths = torch.nn.functional.pad(
            self.lengths, (0, 0, 0, missing), value=NO_READING
        )
        lengths[self.vocab_size :, 0] = 0
        return CharPhoneTable(phones, lengths)

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
        """The tree with its tensors on ``device`` (a torch device or name)."""
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
