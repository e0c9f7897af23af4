"""Tokenizers for MMSpeech: pinyin phones for the encoder, characters for
the decoder.

- ``symbols``: the fairseq layout both share (ids 0-3 are
  ``<s> <pad> </s> <unk>``), the special ids every module imports
  (``BOS_INDEX`` ... ``UNK_INDEX``, ``PHONE_OFFSET``, ``PHONE_MASK_INDEX``,
  ``CTC_BLANK_INDEX``) and ``SymbolTable``;
- ``pinyin_tokenizer``: ``PinyinTokenizer``, Chinese text to the 120
  MMSpeech phones (141 ids);
- ``char_tokenizer``: ``CharTokenizer``, one id per character (built on
  transcripts or the official BERT-Chinese layout), and its vocabulary
  files.

Every name is importable from here (``from speechbrain_mmspeech.tokenizers
import CharTokenizer, PAD_INDEX``), and model folders that name
``speechbrain_mmspeech.tokenizers.CharTokenizer`` keep loading; HyperPyYAML
files name the defining module
(``!new:speechbrain_mmspeech.tokenizers.char_tokenizer.CharTokenizer``).

Authors
 * MMSpeech plugin contributors 2026
"""

from speechbrain_mmspeech.tokenizers.char_tokenizer import (
    BLANK_TOKEN,
    ESCAPE_CHAR,
    ESCAPED_CHAR,
    LARGEST_FOUR_DIGIT_CODE_POINT,
    UNK_PLACEHOLDER,
    UNUSED_TOKEN_PATTERN,
    UNUSED_TOKEN_TEMPLATE,
    WORDPIECE_PREFIX,
    CharTokenizer,
    escape_token,
    read_vocab_file,
    unescape_token,
)
from speechbrain_mmspeech.tokenizers.pinyin_tokenizer import (
    FILLER_SYMBOLS,
    FIRST_FILLER,
    LAST_FILLER,
    PinyinTokenizer,
    default_phone_dict_symbols,
)
from speechbrain_mmspeech.tokenizers.symbols import (
    BOS_INDEX,
    BOS_TOKEN,
    CTC_BLANK_INDEX,
    EOS_INDEX,
    EOS_TOKEN,
    FAIRSEQ_SPECIALS,
    MASK_TOKEN,
    PAD_INDEX,
    PAD_TOKEN,
    PHONE_MASK_INDEX,
    PHONE_OFFSET,
    UNK_INDEX,
    UNK_TOKEN,
    SymbolTable,
)

__all__ = [
    "BLANK_TOKEN",
    "BOS_INDEX",
    "BOS_TOKEN",
    "CTC_BLANK_INDEX",
    "EOS_INDEX",
    "EOS_TOKEN",
    "ESCAPE_CHAR",
    "ESCAPED_CHAR",
    "FAIRSEQ_SPECIALS",
    "FILLER_SYMBOLS",
    "FIRST_FILLER",
    "LARGEST_FOUR_DIGIT_CODE_POINT",
    "LAST_FILLER",
    "MASK_TOKEN",
    "PAD_INDEX",
    "PAD_TOKEN",
    "PHONE_MASK_INDEX",
    "PHONE_OFFSET",
    "UNK_INDEX",
    "UNK_PLACEHOLDER",
    "UNK_TOKEN",
    "UNUSED_TOKEN_PATTERN",
    "UNUSED_TOKEN_TEMPLATE",
    "WORDPIECE_PREFIX",
    "CharTokenizer",
    "PinyinTokenizer",
    "SymbolTable",
    "default_phone_dict_symbols",
    "escape_token",
    "read_vocab_file",
    "unescape_token",
]
