"""The fairseq vocabulary layout both MMSpeech tokenizers share.

Both vocabularies follow the fairseq ``Dictionary`` layout of the official
code: ids 0-3 are ``<s> <pad> </s> <unk>`` and the symbols follow. The
special ids (``BOS_INDEX`` ... ``UNK_INDEX``, ``PHONE_OFFSET``,
``PHONE_MASK_INDEX``, ``CTC_BLANK_INDEX``) are defined here once; the tasks,
the LM glue, the networks and the scorers import them (from
``speechbrain_mmspeech.tokenizers``). ``SymbolTable`` holds the id <-> token
lookups and the ``encode_as_ids``/``decode_ids`` both tokenizers share.

Authors
 * MMSpeech plugin contributors 2026
"""

from speechbrain_mmspeech.pinyin import build_phone_inventory

BOS_TOKEN = "<s>"
PAD_TOKEN = "<pad>"
EOS_TOKEN = "</s>"
UNK_TOKEN = "<unk>"
FAIRSEQ_SPECIALS = (BOS_TOKEN, PAD_TOKEN, EOS_TOKEN, UNK_TOKEN)
MASK_TOKEN = "<mask>"

# The token ids every module takes from here: the fairseq specials of both
# vocabularies, the phone ids of the official inventory (phones at 4..123,
# <mask> at 124) and the blank of the phone CTC classes.
BOS_INDEX = FAIRSEQ_SPECIALS.index(BOS_TOKEN)
PAD_INDEX = FAIRSEQ_SPECIALS.index(PAD_TOKEN)
EOS_INDEX = FAIRSEQ_SPECIALS.index(EOS_TOKEN)
UNK_INDEX = FAIRSEQ_SPECIALS.index(UNK_TOKEN)
PHONE_OFFSET = len(FAIRSEQ_SPECIALS)
PHONE_MASK_INDEX = PHONE_OFFSET + len(build_phone_inventory())
CTC_BLANK_INDEX = 0


def _to_int_list(ids):
    """Returns ids (a list, tuple or tensor of ints) as a list of ints."""
    if hasattr(ids, "tolist"):
        return ids.tolist()
    return [int(index) for index in ids]


class SymbolTable:
    """A fairseq-style vocabulary: ``<s> <pad> </s> <unk>`` then symbols.

    It holds the id <-> token lookups shared by both tokenizers, and their
    text <-> ids conversions: a tokenizer says how a text splits into tokens
    (``text_to_tokens``), which ids decoding skips (``_silent_ids``: ``<s>
    <pad> </s>`` here) and how it writes a token (``_decode_token``).

    Arguments
    ---------
    symbols : list of str
        The tokens after the four fairseq specials (id 4 onwards).

    Example
    -------
    >>> table = SymbolTable(["a", "b"])
    >>> len(table), table.token_to_id("b"), table.id_to_token(0)
    (6, 5, '<s>')
    """

    bos_index = BOS_INDEX
    pad_index = PAD_INDEX
    eos_index = EOS_INDEX
    unk_index = UNK_INDEX
    separator = ""  # what decode_ids writes between tokens

    def __init__(self, symbols=()):
        self._set_tokens([*FAIRSEQ_SPECIALS, *symbols])

    def _set_tokens(self, tokens):
        """Replaces the whole vocabulary (specials included)."""
        if tuple(tokens[: len(FAIRSEQ_SPECIALS)]) != FAIRSEQ_SPECIALS:
            raise ValueError(f"Vocabulary must start with {FAIRSEQ_SPECIALS}")
        self.tokens = list(tokens)
        self._ids = {}
        for index, token in enumerate(self.tokens):
            self._ids.setdefault(token, index)
        self._silent_ids = {self.bos_index, self.pad_index, self.eos_index}

    def __len__(self):
        return len(self.tokens)

    def token_to_id(self, token):
        """Returns the id of a token (the first id if it is repeated).

        Arguments
        ---------
        token : str
            A token.

        Returns
        -------
        int
            Its id, or ``unk_index`` if the token is unknown.
        """
        return self._ids.get(token, self.unk_index)

    def text_to_tokens(self, text):
        """The tokens of a text; each tokenizer says how it splits one."""
        raise NotImplementedError

    def encode_as_ids(self, text):
        """Converts a text to the ids of its tokens (``text_to_tokens``).

        Arguments
        ---------
        text : str
            A raw transcript (``text_to_tokens`` normalises it).

        Returns
        -------
        list of int
            The ids (``unk_index`` for unknown tokens).
        """
        return [self.token_to_id(token) for token in self.text_to_tokens(text)]

    def decode_ids(self, ids):
        """Converts ids back to text, skipping the silent ids.

        Arguments
        ---------
        ids : list of int or torch.Tensor
            Token ids.

        Returns
        -------
        str
            The tokens of the other ids, joined by ``separator``.

        Example
        -------
        >>> SymbolTable(["a", "b"]).decode_ids([0, 5, 4, 2, 1])
        'ba'
        """
        return self.separator.join(
            self._decode_token(index)
            for index in _to_int_list(ids)
            if index not in self._silent_ids
        )

    def _decode_token(self, index):
        """The text of one id that is not silent."""
        return self.tokens[index]

    def id_to_token(self, index):
        """Returns the token of an id.

        Arguments
        ---------
        index : int
            An id in ``range(len(self))``.

        Returns
        -------
        str
            The token.
        """
        return self.tokens[index]

    @property
    def mask_index(self):
        """The id of ``<mask>``, or None if the vocabulary has none."""
        return self._ids.get(MASK_TOKEN)
