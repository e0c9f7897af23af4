"""Chinese text to the character ids of the MMSpeech text decoder.

``CharTokenizer`` maps each character to one id, either from a vocabulary
built on transcripts or from the official BERT-Chinese layout, after the
fairseq specials (``speechbrain_mmspeech.tokenizers.symbols``). It is a
SpeechBrain checkpoint object (``Checkpointer`` recoverable and
``Pretrainer`` loadable) and can be created from HyperPyYAML with no
arguments. Its vocabulary file holds one escaped token per line
(``escape_token``); ``read_vocab_file`` reads a BERT ``vocab.txt``.

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
import re
from collections import Counter
from pathlib import Path

from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    mark_as_transfer,
    register_checkpoint_hooks,
)

from speechbrain_mmspeech.text import normalize_text
from speechbrain_mmspeech.tokenizers.symbols import (
    BOS_TOKEN,
    EOS_TOKEN,
    FAIRSEQ_SPECIALS,
    MASK_TOKEN,
    PAD_TOKEN,
    SymbolTable,
)

logger = logging.getLogger(__name__)

BLANK_TOKEN = "<blank>"
UNUSED_TOKEN_TEMPLATE = "<unused_{}>"
UNUSED_TOKEN_PATTERN = re.compile(r"<unused_[0-9]+>")
UNK_PLACEHOLDER = "\u2047"
WORDPIECE_PREFIX = "##"


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

    def text_to_tokens(self, text):
        """The characters of ``normalize_text(text)``."""
        return normalize_text(text)

    def _decode_token(self, index):
        """``<unk>`` as ``UNK_PLACEHOLDER``, word pieces without ``##``."""
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
        A vocabulary token (it may hold spaces or U+2028).

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
