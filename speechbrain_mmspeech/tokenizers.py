"""Tokenizers for MMSpeech: pinyin phones for the encoder, characters for
the decoder.

Both vocabularies follow the fairseq ``Dictionary`` layout of the official
code: ids 0-3 are ``<s> <pad> </s> <unk>`` and the symbols follow.

 * ``PinyinTokenizer`` turns Chinese text into the 120 MMSpeech phones
   (pinyin initials, tonal nuclei and the coda ``ng``; the phonology is
   ``speechbrain_mmspeech.pinyin``), 141 ids in all.
 * ``CharTokenizer`` maps each character to one id, either from a vocabulary
   built on transcripts or from the official BERT-Chinese layout.

The special ids (``BOS_INDEX`` ... ``UNK_INDEX``, ``PHONE_OFFSET``,
``PHONE_MASK_INDEX``, ``CTC_BLANK_INDEX``) are defined here once; the tasks,
the LM glue, the networks and the scorers import them.

Both are SpeechBrain checkpoint objects (``Checkpointer`` recoverables and
``Pretrainer`` loadables) and can be created from HyperPyYAML with no
arguments.

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
import re
from collections import Counter
from pathlib import Path

import torch
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    mark_as_transfer,
    register_checkpoint_hooks,
)

from speechbrain_mmspeech import pinyin
from speechbrain_mmspeech.pinyin import build_phone_inventory
from speechbrain_mmspeech.text import normalize_text, split_clauses

logger = logging.getLogger(__name__)

BOS_TOKEN = "<s>"
PAD_TOKEN = "<pad>"
EOS_TOKEN = "</s>"
UNK_TOKEN = "<unk>"
FAIRSEQ_SPECIALS = (BOS_TOKEN, PAD_TOKEN, EOS_TOKEN, UNK_TOKEN)
MASK_TOKEN = "<mask>"
BLANK_TOKEN = "<blank>"
UNUSED_TOKEN_TEMPLATE = "<unused_{}>"
UNUSED_TOKEN_PATTERN = re.compile(r"<unused_[0-9]+>")
UNK_PLACEHOLDER = "\u2047"
WORDPIECE_PREFIX = "##"

FIRST_FILLER, LAST_FILLER = 2, 17
FILLER_SYMBOLS = tuple(f"#{k}" for k in range(FIRST_FILLER, LAST_FILLER + 1))

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


def default_phone_dict_symbols():
    """Lists the 137 symbols of the official phone_dict.txt, in order.

    Returns
    -------
    list of str
        The 120 phones, ``<mask>`` and the fillers ``#2`` .. ``#17``.

    Example
    -------
    >>> symbols = default_phone_dict_symbols()
    >>> len(symbols), symbols[120], symbols[-1]
    (137, '<mask>', '#17')
    """
    return [*build_phone_inventory(), MASK_TOKEN, *FILLER_SYMBOLS]


def _to_int_list(ids):
    """Returns ids (a list, tuple or tensor of ints) as a list of ints."""
    if hasattr(ids, "tolist"):
        return ids.tolist()
    return [int(index) for index in ids]


class SymbolTable:
    """A fairseq-style vocabulary: ``<s> <pad> </s> <unk>`` then symbols.

    It holds the id <-> token lookups shared by both tokenizers.

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


@register_checkpoint_hooks
class PinyinTokenizer(SymbolTable):
    """Chinese text to MMSpeech phones (initial, tonal nucleus, coda).

    The default inventory is the official one (141 ids): the fairseq
    specials, the 120 phones at ids 4-123, ``<mask>`` at 124 and the unused
    fillers ``#2`` .. ``#17`` at 125-140. Text is normalised with
    ``speechbrain_mmspeech.text`` (numbers read in Chinese; punctuation and
    symbols, emoji included, removed), each clause is converted with
    pypinyin in phrase context (polyphones) and without tone sandhi, and
    Latin letters use ``pinyin.LETTER_READINGS``. Characters without a pronunciation (other
    scripts, Han characters unknown to pypinyin) are dropped and counted in
    ``dropped_chars``, like the official lexicon lookup drops them.

    The CTC view used by the phone head: class = id - 3 for ids 3..123, so
    class 0 (the ``<unk>`` row) is the blank and there are 121 classes.

    Arguments
    ---------
    phone_dict_symbols : list of str, optional
        The symbols after the fairseq specials, in phone_dict.txt order;
        the phones must come first, followed by ``<mask>``. Defaults to the
        official inventory.

    Example
    -------
    >>> tokenizer = PinyinTokenizer()
    >>> len(tokenizer)
    141
    >>> tokenizer.text_to_phones("银行")
    ['y', 'i2', 'n', 'h', 'a2', 'ng']
    >>> ids = tokenizer.encode_as_ids("北京")
    >>> tokenizer.decode_ids(ids)
    'b ei3 j i1 ng'
    >>> tokenizer.ids_to_ctc_targets(ids)
    [16, 27, 61, 36, 66]
    """

    ctc_blank_index = CTC_BLANK_INDEX

    def __init__(self, phone_dict_symbols=None):
        if phone_dict_symbols is None:
            phone_dict_symbols = default_phone_dict_symbols()
        super().__init__(phone_dict_symbols)
        self.dropped_chars = Counter()

    def _set_tokens(self, tokens):
        """Replaces the inventory; phones run from id 4 up to ``<mask>``."""
        super()._set_tokens(tokens)
        if self.mask_index is None:
            raise ValueError(f"A phone inventory needs {MASK_TOKEN}")

    @property
    def phone_offset(self):
        """The id of the first phone (4)."""
        return PHONE_OFFSET

    @property
    def num_phones(self):
        """The number of phones (120 for the official inventory)."""
        return self.mask_index - self.phone_offset

    @property
    def ctc_offset(self):
        """What to subtract from a phone id to get its CTC class (3)."""
        return self.unk_index - self.ctc_blank_index

    @property
    def num_ctc_classes(self):
        """The number of CTC classes: the blank and the phones (121)."""
        return self.num_phones + 1

    @classmethod
    def from_phone_dict(cls, path):
        """Builds a tokenizer from a phone_dict.txt (``symbol count`` lines).

        Arguments
        ---------
        path : str or Path
            An inventory file in the official phone_dict.txt format.

        Returns
        -------
        PinyinTokenizer
            A tokenizer with that inventory after the fairseq specials.
        """
        tokenizer = cls()
        tokenizer.load(path)
        return tokenizer

    def text_to_phones(self, text):
        """Converts a text to MMSpeech phones.

        Arguments
        ---------
        text : str
            A raw transcript (punctuation marks clause boundaries).

        Returns
        -------
        list of str
            The phones.

        Example
        -------
        >>> PinyinTokenizer().text_to_phones("3个A")
        ['s', 'a1', 'n', 'g', 'e4', 'ei1']
        """
        phones = []
        for clause in split_clauses(text):
            for char, _, char_phones in self.pronounce(clause):
                if char_phones is None:
                    self.dropped_chars[char] += 1
                else:
                    phones.extend(char_phones)
        return phones

    def pronounce(self, text):
        """Reads a text character by character: ``pinyin.pronounce``.

        ``text_to_phones`` normalises the text, then uses this.

        Arguments
        ---------
        text : str
            Characters to read (one clause, not normalised).

        Returns
        -------
        list of tuple
            ``(char, syllable, phones)`` per character.

        Example
        -------
        >>> PinyinTokenizer().pronounce("银行a⁇")
        [('银', 'yin2', ['y', 'i2', 'n']), ('行', 'hang2', ['h', 'a2', 'ng']), ('a', '', ['ei1']), ('⁇', '', None)]
        """
        return pinyin.pronounce(text)

    def encode_as_ids(self, text):
        """Converts a text to phone ids (unknown phones give ``<unk>``).

        Arguments
        ---------
        text : str
            A raw transcript.

        Returns
        -------
        list of int
            The phone ids.

        Example
        -------
        >>> PinyinTokenizer().encode_as_ids("女")
        [68, 116]
        """
        return [self.token_to_id(phone) for phone in self.text_to_phones(text)]

    def decode_ids(self, ids):
        """Converts phone ids back to phones, skipping ``<s> <pad> </s>``.

        Arguments
        ---------
        ids : list of int or torch.Tensor
            Phone ids.

        Returns
        -------
        str
            The phones joined by spaces.

        Example
        -------
        >>> PinyinTokenizer().decode_ids([0, 68, 116, 2])
        'n v3'
        """
        skipped = (self.bos_index, self.pad_index, self.eos_index)
        return " ".join(
            self.tokens[index]
            for index in _to_int_list(ids)
            if index not in skipped
        )

    def ids_to_ctc_targets(self, ids):
        """Maps phone ids (4..) to CTC classes (1..); class 0 is the blank.

        Map each utterance before padding: any id that is not a phone id
        (padding included) raises ValueError.

        Arguments
        ---------
        ids : list of int or torch.Tensor
            Phone ids.

        Returns
        -------
        list of int or torch.Tensor
            The CTC classes, of the same kind as ``ids``.

        Example
        -------
        >>> PinyinTokenizer().ids_to_ctc_targets(torch.tensor([4, 123]))
        tensor([  1, 120])
        """
        self._check_phone_ids(ids)
        if isinstance(ids, torch.Tensor):
            return ids - self.ctc_offset
        return [index - self.ctc_offset for index in ids]

    def ctc_targets_to_ids(self, targets):
        """Maps CTC classes back to phone ids (the blank maps to ``<unk>``).

        Arguments
        ---------
        targets : list of int or torch.Tensor
            CTC classes in ``range(num_ctc_classes)``.

        Returns
        -------
        list of int or torch.Tensor
            The phone ids, of the same kind as ``targets``.

        Example
        -------
        >>> PinyinTokenizer().ctc_targets_to_ids([1, 120])
        [4, 123]
        """
        if isinstance(targets, torch.Tensor):
            return targets + self.ctc_offset
        return [target + self.ctc_offset for target in targets]

    def _check_phone_ids(self, ids):
        """Raises ValueError unless every id is a phone id."""
        first, last = self.phone_offset, self.phone_offset + self.num_phones
        if any(not first <= index < last for index in _to_int_list(ids)):
            raise ValueError(f"CTC targets need phone ids in [{first}, {last})")

    @mark_as_saver
    def save(self, path):
        """Writes the inventory in phone_dict.txt format (``symbol line``)."""
        symbols = self.tokens[len(FAIRSEQ_SPECIALS) :]
        lines = [f"{s} {line}" for line, s in enumerate(symbols, start=1)]
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")

    @mark_as_transfer
    @mark_as_loader
    def load(self, path, end_of_epoch=False):
        """Reads an inventory in phone_dict.txt format."""
        del end_of_epoch  # The inventory does not depend on the epoch.
        text = Path(path).read_text(encoding="utf-8")
        symbols = [line.split(" ")[0] for line in text.split("\n") if line]
        self._set_tokens([*FAIRSEQ_SPECIALS, *symbols])


@register_checkpoint_hooks
class CharTokenizer(SymbolTable):
    """Characters to ids for the MMSpeech text decoder.

    Text is normalised with ``speechbrain_mmspeech.text.normalize_text``
    (spaces between AISHELL words are removed) and each character gets one
    id; unknown characters get ``<unk>``. An empty tokenizer (only the four
    specials) is filled by ``build`` or by loading a saved vocabulary;
    ``from_bert_vocab`` gives the official BERT-Chinese layout.

    Decoding skips ``<s> <pad> </s>``, ``<mask>``, ``<blank>`` and
    ``<unused_k>``, writes ``<unk>`` as ``UNK_PLACEHOLDER`` (U+2047, one
    character so it counts as one error in a CER) and drops the ``##``
    prefix of BERT word pieces.

    Arguments
    ---------
    symbols : list of str, optional
        The tokens from id 4 onwards.

    Example
    -------
    >>> tokenizer = CharTokenizer()
    >>> tokenizer.build(["你好", "你们好"], vocab_size=8)
    >>> tokenizer.tokens[4:]
    ['你', '好', '们', '<unused_0>']
    >>> ids = tokenizer.encode_as_ids("你 好吗")
    >>> ids
    [4, 5, 3]
    >>> tokenizer.decode_ids(ids)
    '你好⁇'
    """

    def _set_tokens(self, tokens):
        """Replaces the vocabulary and the set of ids decoding skips."""
        super()._set_tokens(tokens)
        silent = {BOS_TOKEN, PAD_TOKEN, EOS_TOKEN, MASK_TOKEN, BLANK_TOKEN}
        self._silent_ids = {
            index
            for index, token in enumerate(self.tokens)
            if token in silent or UNUSED_TOKEN_PATTERN.fullmatch(token)
        }

    @property
    def blank_index(self):
        """The id of ``<blank>``, or None if the vocabulary has none."""
        return self._ids.get(BLANK_TOKEN)

    def build(self, texts, vocab_size):
        """Makes a vocabulary of exactly ``vocab_size`` ids from transcripts.

        Characters come after the specials by descending count, ties by code
        point. Characters that do not fit are dropped (with a warning); free
        ids are filled with ``<unused_0>``, ``<unused_1>``, ...

        Arguments
        ---------
        texts : iterable of str
            Raw transcripts.
        vocab_size : int
            The number of ids, specials included (the decoder output size).

        Example
        -------
        >>> tokenizer = CharTokenizer()
        >>> tokenizer.build(["abca"], vocab_size=6)
        >>> tokenizer.tokens
        ['<s>', '<pad>', '</s>', '<unk>', 'a', 'b']
        """
        room = vocab_size - len(FAIRSEQ_SPECIALS)
        if room < 0:
            raise ValueError(f"vocab_size must be >= {len(FAIRSEQ_SPECIALS)}")
        counts = Counter()
        for text in texts:
            counts.update(normalize_text(text))
        ranked = sorted(counts, key=lambda char: (-counts[char], char))
        kept, dropped = ranked[:room], ranked[room:]
        if dropped:
            _warn_dropped_chars(dropped, counts)
        unused = [
            UNUSED_TOKEN_TEMPLATE.format(k) for k in range(room - len(kept))
        ]
        self._set_tokens([*FAIRSEQ_SPECIALS, *kept, *unused])

    @classmethod
    def from_bert_vocab(cls, path):
        """Builds the official layout from a BERT-Chinese vocab.txt.

        Ids 0-3 are the fairseq specials, line k of vocab.txt is id k + 3,
        then come ``<mask>`` and ``<blank>`` (21128 lines give 21134 ids).

        Arguments
        ---------
        path : str or Path
            A BERT vocab.txt (one token per line; only ``\\n`` ends a line,
            so the U+2028 token keeps its id).

        Returns
        -------
        CharTokenizer
            The tokenizer.
        """
        return cls([*read_vocab_file(path), MASK_TOKEN, BLANK_TOKEN])

    def encode_as_ids(self, text):
        """Converts a text to one id per normalised character.

        Arguments
        ---------
        text : str
            A raw transcript.

        Returns
        -------
        list of int
            The ids (``unk_index`` for unknown characters).
        """
        return [self.token_to_id(char) for char in normalize_text(text)]

    def decode_ids(self, ids):
        """Converts ids back to text.

        Arguments
        ---------
        ids : list of int or torch.Tensor
            Token ids.

        Returns
        -------
        str
            The text (see the class docstring for skipped ids).
        """
        return "".join(
            self._decode_token(index)
            for index in _to_int_list(ids)
            if index not in self._silent_ids
        )

    def _decode_token(self, index):
        """The text of one non-silent id."""
        if index == self.unk_index:
            return UNK_PLACEHOLDER
        token = self.tokens[index]
        if token.startswith(WORDPIECE_PREFIX) and token != WORDPIECE_PREFIX:
            return token[len(WORDPIECE_PREFIX) :]
        return token

    @mark_as_saver
    def save(self, path):
        """Writes one escaped token per line; line k holds id k."""
        lines = [escape_token(token) + "\n" for token in self.tokens]
        Path(path).write_text("".join(lines), encoding="utf-8")

    @mark_as_transfer
    @mark_as_loader
    def load(self, path, end_of_epoch=False):
        """Reads a vocabulary written by ``save``."""
        del end_of_epoch  # The vocabulary does not depend on the epoch.
        text = Path(path).read_text(encoding="utf-8")
        lines = text.split("\n")[:-1]
        self._set_tokens([unescape_token(line) for line in lines])


def read_vocab_file(path):
    """Reads a one-token-per-line vocabulary (BERT ``vocab.txt`` style).

    Only ``\\n`` ends a line (a trailing ``\\r`` is dropped), so tokens
    such as U+2028 keep their line, and hence their id.

    Arguments
    ---------
    path : str or Path
        The vocabulary file.

    Returns
    -------
    list of str
        The tokens, in file order.

    Example
    -------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "vocab.txt"
    ...     _ = path.write_text("[PAD]\\n\\u2028\\r\\n好\\n", encoding="utf-8")
    ...     read_vocab_file(path)
    ['[PAD]', '\\u2028', '好']
    """
    text = Path(path).read_text(encoding="utf-8")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and not lines[-1]:
        lines.pop()
    return lines


def _warn_dropped_chars(dropped, counts):
    """Logs how many characters and occurrences a vocabulary leaves out."""
    dropped_occurrences = sum(counts[char] for char in dropped)
    logger.warning(
        "CharTokenizer: vocabulary too small, dropped %d of %d distinct "
        "characters (%d of %d occurrences)",
        len(dropped),
        len(counts),
        dropped_occurrences,
        sum(counts.values()),
    )


ESCAPE_CHAR = "\\"
ESCAPED_CHAR = re.compile(r"\\(\\|u[0-9a-f]{4}|U[0-9a-f]{8})")
LARGEST_FOUR_DIGIT_CODE_POINT = 0xFFFF


def escape_token(token):
    """Escapes a token so it fits on one visible line of a vocabulary file.

    Backslashes are doubled; whitespace and invisible characters become
    ``\\uXXXX`` (or ``\\UXXXXXXXX``).

    Arguments
    ---------
    token : str
        A token.

    Returns
    -------
    str
        The escaped token.

    Example
    -------
    >>> escape_token("\\u2028"), escape_token("a\\\\b"), escape_token("好")
    ('\\\\u2028', 'a\\\\\\\\b', '好')
    """
    return "".join(_escape_char(char) for char in token)


def _escape_char(char):
    """Escapes one character (see ``escape_token``)."""
    if char == ESCAPE_CHAR:
        return ESCAPE_CHAR * 2
    if char.isprintable() and not char.isspace():
        return char
    if ord(char) > LARGEST_FOUR_DIGIT_CODE_POINT:
        return f"\\U{ord(char):08x}"
    return f"\\u{ord(char):04x}"


def unescape_token(line):
    """Reverses ``escape_token``.

    Arguments
    ---------
    line : str
        An escaped token.

    Returns
    -------
    str
        The token.

    Example
    -------
    >>> unescape_token(escape_token("a\\\\b \\u2028")) == "a\\\\b \\u2028"
    True
    """
    return ESCAPED_CHAR.sub(_unescape_match, line)


def _unescape_match(match):
    """Decodes one escape sequence matched by ``ESCAPED_CHAR``."""
    code = match.group(1)
    if code == ESCAPE_CHAR:
        return ESCAPE_CHAR
    return chr(int(code[1:], 16))
