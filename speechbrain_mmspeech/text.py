"""Text normalisation for Mandarin transcripts.

This module holds the functions that bring a raw Mandarin transcript into the
form both MMSpeech tokenizers read: full-width ASCII becomes half-width,
Arabic numbers are read out as Chinese numerals, letters are lowercased, and
whitespace and punctuation are removed.
It also says what counts as a Chinese character (``CJK_FIRST`` ..
``CJK_LAST``: ``is_cjk``, ``has_chinese``).

Design decisions
 * Numbers: cardinals up to ``MAX_CARDINAL_DIGITS`` digits are read as
   numbers (123 -> 一百二十三, 10 -> 十); a leading 2 before 千, 万 or 亿 is
   read 两 (20000 -> 两万, 2000 -> 两千, but 200 -> 二百). Decimals read their
   fraction digit by digit (3.5 -> 三点五), percentages are read 百分之...
   (5% -> 百分之五). Four-digit years before 年, strings with a leading 0
   and longer strings (phone numbers, ids) are read digit by digit
   (1998年 -> 一九九八年, 007 -> 零零七). The official MMSpeech code turns
   every digit into 零; this module never does.
 * Letters are lowercased, like the official ``pre_chinese`` and the
   lowercase BERT-Chinese vocabulary.
 * Traditional characters are kept as they are (no conversion to simplified).

Authors
 * MMSpeech plugin contributors 2026
"""

import re
import unicodedata

CHINESE_DIGITS = "零一二三四五六七八九"
ZERO = CHINESE_DIGITS[0]
ONE = CHINESE_DIGITS[1]
TWO = CHINESE_DIGITS[2]
TWO_BEFORE_LARGE_UNITS = "两"
TEN = "十"
UNITS_IN_GROUP = ("", TEN, "百", "千")
GROUP_UNITS = ("", "万", "亿")
UNITS_READ_WITH_LIANG = ("千", "万", "亿")
DIGITS_PER_GROUP = len(UNITS_IN_GROUP)
MAX_CARDINAL_DIGITS = 9
YEAR_DIGITS = 4
YEAR_SUFFIX = "年"
PERCENT_SIGN = "%"
PERCENT_PREFIX = "百分之"
DECIMAL_POINT = "."
DECIMAL_POINT_READING = "点"

FULL_WIDTH_FIRST = 0xFF01
FULL_WIDTH_LAST = 0xFF5E
FULL_TO_HALF_WIDTH_OFFSET = 0xFEE0
IDEOGRAPHIC_SPACE = "\u3000"
# The CJK Unified Ideographs block: what counts as a Chinese character.
CJK_FIRST, CJK_LAST = "\u4e00", "\u9fff"

PUNCTUATION_CATEGORY_PREFIXES = ("P", "S")
SPACE_CATEGORY_PREFIXES = ("Z", "C")

THOUSANDS_SEPARATED_NUMBER = re.compile(
    r"(?<![0-9.])[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])"
)
NUMBER_WITH_SUFFIX = re.compile(r"([0-9]+(?:\.[0-9]+)?)(%|年)?")


def to_half_width(text):
    """Converts full-width ASCII characters and the ideographic space.

    Arguments
    ---------
    text : str
        Any text.

    Returns
    -------
    str
        The text with ``！`` .. ``～`` mapped to ``!`` .. ``~`` and U+3000
        mapped to a plain space.

    Example
    -------
    >>> to_half_width("ＡＢＣ１２３％　好")
    'ABC123% 好'
    """
    return "".join(_half_width_char(char) for char in text)


def _half_width_char(char):
    """Returns the half-width form of one character (itself if none)."""
    if char == IDEOGRAPHIC_SPACE:
        return " "
    code_point = ord(char)
    if FULL_WIDTH_FIRST <= code_point <= FULL_WIDTH_LAST:
        return chr(code_point - FULL_TO_HALF_WIDTH_OFFSET)
    return char


def read_digits(digits):
    """Reads a digit string one digit at a time.

    Arguments
    ---------
    digits : str
        ASCII digits.

    Returns
    -------
    str
        One Chinese digit per input digit.

    Example
    -------
    >>> read_digits("1998")
    '一九九八'
    >>> read_digits("007")
    '零零七'
    """
    return "".join(CHINESE_DIGITS[int(digit)] for digit in digits)


def read_cardinal(digits):
    """Reads a digit string as a cardinal number.

    Arguments
    ---------
    digits : str
        ASCII digits; leading zeros are ignored.

    Returns
    -------
    str
        The Chinese reading: 10 -> 十, 10010 -> 一万零一十, 20000 -> 两万.

    Example
    -------
    >>> read_cardinal("123")
    '一百二十三'
    >>> read_cardinal("20000")
    '两万'
    >>> read_cardinal("0")
    '零'
    """
    number = str(int(digits))
    if number == "0":
        return ZERO
    pieces = []
    zero_pending = False
    for group, group_unit in _split_into_groups(number):
        if int(group) == 0:
            zero_pending = bool(pieces)
            continue
        has_leading_zero = len(group.lstrip("0")) < DIGITS_PER_GROUP
        if pieces and (zero_pending or has_leading_zero):
            pieces.append(ZERO)
        pieces.append(_read_group(group) + group_unit)
        zero_pending = False
    return _apply_leading_digit_rules("".join(pieces))


def _split_into_groups(number):
    """Splits digits into groups of four, most significant first, with units."""
    groups = []
    for unit in GROUP_UNITS:
        if not number:
            break
        groups.append((number[-DIGITS_PER_GROUP:], unit))
        number = number[:-DIGITS_PER_GROUP]
    if number:
        raise ValueError(f"Number too large to read as a cardinal: {number}")
    return groups[::-1]


def _read_group(group):
    """Reads a group of at most four digits (not all zero), e.g. 1010."""
    pieces = []
    zero_pending = False
    for position, digit in enumerate(group.zfill(DIGITS_PER_GROUP)):
        if digit == "0":
            zero_pending = bool(pieces)
            continue
        if zero_pending:
            pieces.append(ZERO)
            zero_pending = False
        unit = UNITS_IN_GROUP[DIGITS_PER_GROUP - 1 - position]
        pieces.append(CHINESE_DIGITS[int(digit)] + unit)
    return "".join(pieces)


def _apply_leading_digit_rules(reading):
    """Reads a leading 一十 as 十 and a leading 二 before 千/万/亿 as 两."""
    if reading.startswith(ONE + TEN):
        return reading[len(ONE) :]
    if reading.startswith(TWO) and reading[1:2] in UNITS_READ_WITH_LIANG:
        return TWO_BEFORE_LARGE_UNITS + reading[len(TWO) :]
    return reading


def read_integer(digits):
    """Reads an integer string as a cardinal or, if it looks like a code,
    digit by digit.

    Arguments
    ---------
    digits : str
        ASCII digits: a number, or a code (phone number, id).

    Returns
    -------
    str
        ``read_digits(digits)`` for a code (a leading zero or more than
        ``MAX_CARDINAL_DIGITS`` digits), else ``read_cardinal(digits)``.

    Example
    -------
    >>> read_integer("10")
    '十'
    >>> read_integer("010")
    '零一零'
    >>> read_integer("13812345678")
    '一三八一二三四五六七八'
    """
    has_leading_zero = len(digits) > 1 and digits.startswith("0")
    if has_leading_zero or len(digits) > MAX_CARDINAL_DIGITS:
        return read_digits(digits)
    return read_cardinal(digits)


def read_number(number):
    """Reads an integer or decimal number string.

    Arguments
    ---------
    number : str
        ASCII digits with at most one decimal point, e.g. ``"3.50"``.

    Returns
    -------
    str
        The Chinese reading; the fraction is read digit by digit.

    Example
    -------
    >>> read_number("3.5")
    '三点五'
    >>> read_number("0.25")
    '零点二五'
    """
    integer_part, _, fraction = number.partition(DECIMAL_POINT)
    reading = read_integer(integer_part)
    if fraction:
        reading += DECIMAL_POINT_READING + read_digits(fraction)
    return reading


def verbalize_numbers(text):
    """Replaces every ASCII number in a text by its Chinese reading.

    Arguments
    ---------
    text : str
        Text with half-width digits.

    Returns
    -------
    str
        The text without ASCII digits (see the module docstring for the
        reading rules).

    Example
    -------
    >>> verbalize_numbers("1998年涨了5%，到3.5万")
    '一九九八年涨了百分之五，到三点五万'
    >>> verbalize_numbers("共1,200人")
    '共一千二百人'
    """
    text = THOUSANDS_SEPARATED_NUMBER.sub(
        lambda match: match.group(0).replace(",", ""), text
    )
    return NUMBER_WITH_SUFFIX.sub(_verbalize_number_match, text)


def _verbalize_number_match(match):
    """Reads one match of ``NUMBER_WITH_SUFFIX`` (a number, maybe % or 年)."""
    number, suffix = match.group(1), match.group(2) or ""
    if suffix == PERCENT_SIGN:
        return PERCENT_PREFIX + read_number(number)
    is_year = suffix == YEAR_SUFFIX and len(number) == YEAR_DIGITS
    if is_year:
        return read_digits(number) + suffix
    return read_number(number) + suffix


def is_punctuation(char):
    """Tells whether a character is punctuation or a symbol (Unicode P*, S*).

    Arguments
    ---------
    char : str
        One character, half- or full-width.

    Returns
    -------
    bool
        True for ASCII and Chinese punctuation and symbols such as ``+``.

    Example
    -------
    >>> [is_punctuation(char) for char in "，.好a"]
    [True, True, False, False]
    """
    category = unicodedata.category(char)
    return category.startswith(PUNCTUATION_CATEGORY_PREFIXES)


def is_space(char):
    """Tells whether a character is whitespace or invisible (Unicode Z*, C*).

    Arguments
    ---------
    char : str
        One character.

    Returns
    -------
    bool
        True for spaces, line and paragraph separators, control and format
        characters.

    Example
    -------
    >>> [is_space(char) for char in " \\u2028\\t好"]
    [True, True, True, False]
    """
    return unicodedata.category(char).startswith(SPACE_CATEGORY_PREFIXES)


def is_cjk(text):
    """Tells whether every character is a CJK unified ideograph.

    Arguments
    ---------
    text : str
        A word or a sentence to check.

    Returns
    -------
    bool
        True if ``text`` is non-empty and all in ``CJK_FIRST`` ..
        ``CJK_LAST`` (U+4E00..U+9FFF).

    Example
    -------
    >>> is_cjk("中国"), is_cjk("１９９８年"), is_cjk("")
    (True, False, False)
    """
    return bool(text) and all(CJK_FIRST <= ch <= CJK_LAST for ch in text)


def has_chinese(text):
    """Whether a text holds at least one CJK unified ideograph.

    Arguments
    ---------
    text : str
        A line or a word, in any script.

    Returns
    -------
    bool
        True if some character is one ``is_cjk`` accepts.

    Example
    -------
    >>> has_chinese("abc 中"), has_chinese("abc 123")
    (True, False)
    """
    return any(CJK_FIRST <= char <= CJK_LAST for char in text)


def split_clauses(text):
    """Normalises a text and splits it into clauses at punctuation.

    Whitespace is removed without splitting, so spaces between the words of
    an AISHELL transcript do not cut phrases apart.

    Arguments
    ---------
    text : str
        A raw transcript; its punctuation ends clauses.

    Returns
    -------
    list of str
        The non-empty normalised clauses, in order.

    Example
    -------
    >>> split_clauses("银行 存款，共２０００元！")
    ['银行存款', '共两千元']
    """
    text = verbalize_numbers(to_half_width(text)).lower()
    clauses = [[]]
    for char in text:
        if is_punctuation(char):
            clauses.append([])
        elif not is_space(char):
            clauses[-1].append(char)
    return ["".join(clause) for clause in clauses if clause]


def normalize_text(text):
    """Normalises a transcript for the MMSpeech tokenizers.

    Arguments
    ---------
    text : str
        A raw transcript.

    Returns
    -------
    str
        The text with half-width characters, numbers read in Chinese,
        lowercase letters and neither whitespace nor punctuation.

    Example
    -------
    >>> normalize_text("我 有 10 个 ＡＰＰ，占 5%。")
    '我有十个app占百分之五'
    """
    return "".join(split_clauses(text))
