"""The checkpoint's own vocabularies -> our tokenizers and vocabulary sizes.

The decoder vocabulary comes from ``vocab.txt`` (BERT-Chinese lines, or
ModelScope's with the fairseq specials first) and the phone inventory from
``phone_dict.txt``; the configured or stored sizes must agree with them.
The decoder's rows after the text ids are audio codes. A phone table one row
longer than ``phone_dict.txt`` ends with OFA's ``<blank>`` (its task adds it
when trained without ``text2phone_path``).

Authors
 * MMSpeech plugin contributors 2026
"""

from speechbrain_mmspeech.convert.reading import ConversionError, require_file
from speechbrain_mmspeech.tokenizers import (
    BLANK_TOKEN,
    FAIRSEQ_SPECIALS,
    MASK_TOKEN,
    CharTokenizer,
    PinyinTokenizer,
    read_vocab_file,
)


def text_tokenizer_from_vocab(path):
    """Builds the decoder tokenizer from a checkpoint's ``vocab.txt``.

    Two layouts give the same ids:

    - BERT-Chinese (OFA release, ``utils/BERT_CN_dict/vocab.txt``, no
      specials): ``CharTokenizer.from_bert_vocab``, i.e. ``<s> <pad> </s>
      <unk>``, the lines, ``<mask>``, ``<blank>``;
    - ModelScope (``<s> <pad> </s> <unk>`` first, ``<mask>`` last; UNVERIFIED):
      line k is id k, then ``<mask>`` and ``<blank>`` are appended if
      absent, as the ModelScope tokenizer adds ``<blank>``.

    Arguments
    ---------
    path : Path
        The vocabulary file.

    Returns
    -------
    layout : str
        ``"bert"`` or ``"modelscope"``.
    tokenizer : CharTokenizer
        The tokenizer (21134 ids for the official files).

    Example
    -------
    >>> path = getfixture("tmp_path") / "vocab.txt"
    >>> _ = path.write_text("你\\n好\\n", encoding="utf-8")
    >>> layout, tokenizer = text_tokenizer_from_vocab(path)
    >>> layout, tokenizer.decode_ids([4, 5]), len(tokenizer)
    ('bert', '你好', 8)
    """
    require_file(path)
    lines = read_vocab_file(path)
    if not lines:
        raise ConversionError(f"{path}: the vocabulary is empty")
    n_specials = len(FAIRSEQ_SPECIALS)
    if tuple(lines[:n_specials]) != FAIRSEQ_SPECIALS:
        return "bert", CharTokenizer.from_bert_vocab(path)
    symbols = lines[n_specials:]
    symbols += [t for t in (MASK_TOKEN, BLANK_TOKEN) if t not in symbols]
    return "modelscope", CharTokenizer(symbols)


def phone_tokenizer_from_dict(path):
    """Builds the phone tokenizer from a checkpoint's ``phone_dict.txt``.

    Arguments
    ---------
    path : Path
        ``phone_dict.txt`` (``symbol count`` lines, ``<mask>`` after the
        phones).

    Returns
    -------
    PinyinTokenizer
        The inventory after the fairseq specials (141 ids officially).

    Example
    -------
    >>> path = getfixture("tmp_path") / "phone_dict.txt"
    >>> _ = path.write_text("a1 1\\n<mask> 1\\n", encoding="utf-8")
    >>> len(phone_tokenizer_from_dict(path))  # <s> <pad> </s> <unk> a1 <mask>
    6
    >>> _ = path.write_text("a1 1\\n", encoding="utf-8")
    >>> phone_tokenizer_from_dict(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: ...: A phone inventory needs <mask>
    """
    require_file(path)
    try:
        return PinyinTokenizer.from_phone_dict(path)
    except (ValueError, UnicodeDecodeError) as error:
        raise ConversionError(f"{path}: {error}") from None


def with_phone_blank(phone_tokenizer):
    """The phone inventory with ``<blank>`` appended, as OFA's task adds it.

    Without ``text2phone_path`` the official task adds ``<blank>`` and
    ``<mask>`` to the phone dictionary; ``<mask>`` is already in
    ``phone_dict.txt``, so the table gets one row more (id 141), and every
    other id keeps its row.

    Arguments
    ---------
    phone_tokenizer : PinyinTokenizer
        The inventory read from ``phone_dict.txt``.

    Returns
    -------
    PinyinTokenizer
        The same ids plus ``<blank>`` last (unchanged if it has one).

    Example
    -------
    >>> phones = with_phone_blank(PinyinTokenizer())
    >>> len(phones), phones.id_to_token(141), phones.mask_index
    (142, '<blank>', 124)
    """
    symbols = phone_tokenizer.tokens[len(FAIRSEQ_SPECIALS) :]
    if BLANK_TOKEN in symbols:
        return phone_tokenizer
    return PinyinTokenizer([*symbols, BLANK_TOKEN])


def check_phone_sizes(values, phone_tokenizer, origin):
    """Checks configured phone sizes against ``phone_dict.txt``.

    Arguments
    ---------
    values : dict
        Architecture values, maybe with ``phone_vocab_size`` and
        ``phone_dict_size`` (ModelScope).
    phone_tokenizer : PinyinTokenizer
        The inventory read from the file.
    origin : str
        Where the configuration comes from (for messages).

    Returns
    -------
    int
        The phone table size.

    Example
    -------
    >>> check_phone_sizes({"phone_vocab_size": 141}, PinyinTokenizer(), "c")
    141
    """
    derived = {
        "phone_vocab_size": len(phone_tokenizer),
        "phone_dict_size": phone_tokenizer.mask_index,
    }
    for name, size in derived.items():
        configured = values.pop(name, size)
        if configured != size:
            raise ConversionError(
                f"{origin}: {name} = {configured}, but phone_dict.txt gives "
                f"{size}"
            )
    return derived["phone_vocab_size"]


def code_vocab_size(vocab_size, text_vocab_size, origin):
    """Number of audio-code ids after the text ids.

    Arguments
    ---------
    vocab_size : int
        Decoder vocabulary (51134 officially).
    text_vocab_size : int
        Text ids (21134 officially).
    origin : str
        Where ``vocab_size`` comes from (for messages).

    Returns
    -------
    int
        ``vocab_size - text_vocab_size`` (30000 officially).

    Example
    -------
    >>> code_vocab_size(51134, 21134, "config.json")
    30000
    """
    if vocab_size < text_vocab_size:
        raise ConversionError(
            f"{origin}: vocab_size {vocab_size} is smaller than the "
            f"{text_vocab_size} text ids of the vocabulary file"
        )
    return vocab_size - text_vocab_size


def vocabulary_sizes(
    tokenizer, phone_tokenizer, configured, origin, vocab_rows, rows_origin
):
    """The architecture's three vocabulary sizes, checked against the files.

    Arguments
    ---------
    tokenizer : CharTokenizer
        The decoder vocabulary (:func:`text_tokenizer_from_vocab`).
    phone_tokenizer : PinyinTokenizer
        The phone inventory, with ``<blank>`` when the table has that row.
    configured, origin : dict, str
        Configured phone sizes and where they come from, as in
        :func:`check_phone_sizes` (which pops them).
    vocab_rows, rows_origin : int, str
        The decoder vocabulary size (configured or the embedding's rows),
        and where it comes from, as in :func:`code_vocab_size`.

    Returns
    -------
    dict
        ``text_vocab_size``, ``phone_vocab_size`` and ``code_vocab_size``.

    Example
    -------
    >>> path = getfixture("tmp_path") / "vocab.txt"
    >>> _ = path.write_text("你\\n好\\n", encoding="utf-8")
    >>> _, tokenizer = text_tokenizer_from_vocab(path)
    >>> sizes = vocabulary_sizes(tokenizer, PinyinTokenizer(), {}, "c", 10, "w")
    >>> sizes
    {'phone_vocab_size': 141, 'text_vocab_size': 8, 'code_vocab_size': 2}
    """
    return {
        "phone_vocab_size": check_phone_sizes(
            configured, phone_tokenizer, origin
        ),
        "text_vocab_size": len(tokenizer),
        "code_vocab_size": code_vocab_size(
            vocab_rows, len(tokenizer), rows_origin
        ),
    }
