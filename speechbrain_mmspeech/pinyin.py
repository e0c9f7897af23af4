"""Pinyin phonology: Chinese characters to MMSpeech phones.

MMSpeech writes speech as phones: a pinyin initial, a tonal nucleus (the
vowel part with its tone, ``a1`` ... ``v5``) and the coda ``ng`` (the coda
``n`` is the initial ``n``), 120 phones in all, as in the official
``utils/phone/zh/phone_dict.txt``. ``pronounce`` reads a clause with
pypinyin in phrase context (polyphones), without tone sandhi;
``syllable_to_phones`` splits each tone-numbered syllable into phones;
Latin letters are read the Chinese way (``LETTER_READINGS``). The ids of
these phones are the business of ``tokenizers.PinyinTokenizer``.

Authors
 * MMSpeech plugin contributors 2026
"""

import functools
import re

import pypinyin

# The phone inventory of utils/phone/zh/phone_dict.txt, sorted as strings.
INITIALS = tuple("b c ch d f g h j k l m n p q r s sh t w x y z zh".split())
TONES = ("1", "2", "3", "4", "5")
NEUTRAL_TONE = TONES[-1]
NUCLEI_WITH_ALL_TONES = tuple(
    "a ai ao e ei i ia iao ie iu o ou u ua uai uo v".split()
)
TONES_OF_OTHER_NUCLEI = {"er": "234", "ue": "1234", "ui": "1234"}
NASAL_CODAS = ("n", "ng")
CODA_NG = NASAL_CODAS[1]

# Pinyin spellings that differ from the MMSpeech phone spelling.
PINYIN_LETTER_RESPELLINGS = {"ü": "v", "ê": "e"}
NUCLEUS_RESPELLINGS = {"ve": "ue"}
# After j/q/x a bare "u" is ü, which phone_dict writes "v" (句 -> j v4), but
# "u" stays before the coda n (军 -> j u1 n) and after y (鱼 -> y u2).
UMLAUT_U_INITIALS = ("j", "q", "x")
BARE_U_NUCLEI = ("u",)
UMLAUT_U_NUCLEI = ("v",)
# "iong" is i + o + ng with the tone on both vowels (熊 -> x i2 o2 ng).
SPLIT_NUCLEI = {"io": ("i", "o")}
SYLLABIC_NASALS = {
    "m": ("m",),
    "n": (CODA_NG,),
    "ng": (CODA_NG,),
    "hm": ("h", "m"),
    "hng": ("h", CODA_NG),
}
# The tones read for the neutral-tone nuclei the inventory lacks (er5 ...).
NEUTRAL_TONE_FALLBACKS = {"er": "2", "ue": "4", "ui": "4"}
ERHUA_SUFFIX = "r"
ER_NUCLEUS = "er"
PINYIN_SYLLABLE = re.compile(r"([a-zü]+|ê)([1-5]?)")

# Chinese-style readings of Latin letters, in MMSpeech phones.
LETTER_READINGS = {
    "a": "ei1",
    "b": "b i4",
    "c": "s ei4",
    "d": "d i4",
    "e": "y i4",
    "f": "ei2 f",
    "g": "j i4",
    "h": "ei1 ch",
    "i": "ai4",
    "j": "zh ei4",
    "k": "k ei4",
    "l": "ei2 l",
    "m": "ei2 m",
    "n": "ei1 n",
    "o": "ou1",
    "p": "p i4",
    "q": "k iu4",
    "r": "a4",
    "s": "ei2 s",
    "t": "t i4",
    "u": "y ou1",
    "v": "w ei1",
    "w": "d a2 b u5 l iu5",
    "x": "ei2 k s",
    "y": "w ai4",
    "z": "z ei4",
}


def build_tonal_nuclei():
    """Lists the 96 tonal nuclei of the MMSpeech phone inventory.

    Returns
    -------
    list of str
        Nuclei with their tone digit, e.g. ``a1`` ... ``v5``, ``er2``.

    Example
    -------
    >>> len(build_tonal_nuclei())
    96
    """
    nuclei = [n + tone for n in NUCLEI_WITH_ALL_TONES for tone in TONES]
    for nucleus, tones in TONES_OF_OTHER_NUCLEI.items():
        nuclei.extend(nucleus + tone for tone in tones)
    return nuclei


def build_phone_inventory():
    """Lists the 120 MMSpeech phones in the order of phone_dict.txt.

    The official order is plain string order of initials, tonal nuclei and
    the coda ``ng`` (the coda ``n`` is the initial ``n``).

    Returns
    -------
    list of str
        The phones, sorted.

    Example
    -------
    >>> phones = build_phone_inventory()
    >>> len(phones), phones[:3], phones[-1]
    (120, ['a1', 'a2', 'a3'], 'zh')
    """
    return sorted({*INITIALS, *build_tonal_nuclei(), *NASAL_CODAS})


TONAL_NUCLEI = frozenset(build_tonal_nuclei())


def syllable_to_phones(syllable):
    """Splits one pinyin syllable into MMSpeech phones.

    The syllable is the surface spelling of pypinyin's ``Style.TONE3``:
    ``y``/``w`` are initials, ``ü`` is written ``v`` (also in bare
    ``ju qu xu``, while ``jun`` and ``yu`` keep ``u``, as the official
    lexicon does), the codas ``n``/``ng`` are split off the tonal nucleus,
    and a missing tone digit means the neutral tone 5.

    Arguments
    ---------
    syllable : str
        A pinyin syllable with a tone digit, e.g. ``"zhang1"``.

    Returns
    -------
    list of str or None
        The phones, or None when the syllable has no MMSpeech spelling.

    Example
    -------
    >>> syllable_to_phones("zhang1")
    ['zh', 'a1', 'ng']
    >>> syllable_to_phones("xiong2")
    ['x', 'i2', 'o2', 'ng']
    >>> syllable_to_phones("lve4")
    ['l', 'ue4']
    >>> syllable_to_phones("ju4"), syllable_to_phones("jun1")
    (['j', 'v4'], ['j', 'u1', 'n'])
    """
    match = PINYIN_SYLLABLE.fullmatch(syllable)
    if match is None:
        return None
    body, tone = match.group(1), match.group(2) or NEUTRAL_TONE
    for letter, respelling in PINYIN_LETTER_RESPELLINGS.items():
        body = body.replace(letter, respelling)
    if body in SYLLABIC_NASALS:
        return list(SYLLABIC_NASALS[body])
    initial = _leading_initial(body)
    final = body[len(initial) :]
    nuclei, coda = _split_final(final)
    if initial in UMLAUT_U_INITIALS and nuclei == BARE_U_NUCLEI and not coda:
        nuclei = UMLAUT_U_NUCLEI
    tonal_nuclei = [_tonal_nucleus(nucleus, tone) for nucleus in nuclei]
    if not nuclei or None in tonal_nuclei:
        return None
    return [p for p in (initial, *tonal_nuclei, coda) if p]


@functools.lru_cache(maxsize=4096)
def _cached_syllable_phones(syllable):
    """``syllable_to_phones`` as a tuple, remembered (there are ~1,300)."""
    phones = syllable_to_phones(syllable)
    return None if phones is None else tuple(phones)


def _leading_initial(body):
    """Returns the longest initial that starts a toneless syllable, or ''."""
    initials = [initial for initial in INITIALS if body.startswith(initial)]
    return max(initials, key=len, default="")


def _split_final(final):
    """Splits a final into its nuclei and its nasal coda ('' if none)."""
    if final.endswith(ERHUA_SUFFIX) and final != ER_NUCLEUS:
        final = final[: -len(ERHUA_SUFFIX)]
    coda = ""
    for candidate in sorted(NASAL_CODAS, key=len, reverse=True):
        if final.endswith(candidate):
            final, coda = final[: -len(candidate)], candidate
            break
    nucleus = NUCLEUS_RESPELLINGS.get(final, final)
    return SPLIT_NUCLEI.get(nucleus, (nucleus,) if nucleus else ()), coda


def _tonal_nucleus(nucleus, tone):
    """Returns the tonal nucleus phone, or None if the inventory lacks it."""
    if nucleus + tone not in TONAL_NUCLEI and tone == NEUTRAL_TONE:
        tone = NEUTRAL_TONE_FALLBACKS.get(nucleus, tone)
    if nucleus + tone not in TONAL_NUCLEI:
        return None
    return nucleus + tone


def _mark_without_pinyin(chars):
    """pypinyin ``errors`` hook: one empty syllable per character."""
    return [""] * len(chars)


def pronounce(text):
    """Reads a text character by character, in phrase context.

    The text is not normalised: there is one entry per character, as
    needed to give each character of a transcription its pinyin and its
    phones.

    Arguments
    ---------
    text : str
        Characters to read (one clause: no punctuation handling).

    Returns
    -------
    list of tuple
        ``(char, syllable, phones)`` per character: the tone-numbered
        pinyin syllable (``""`` for Latin letters and characters without
        a reading) and the list of phones (None when it has none).

    Example
    -------
    >>> pronounce("银行a⁇")
    [('银', 'yin2', ['y', 'i2', 'n']), ('行', 'hang2', ['h', 'a2', 'ng']), ('a', '', ['ei1']), ('⁇', '', None)]
    """
    syllables = pypinyin.pinyin(
        text,
        style=pypinyin.Style.TONE3,
        neutral_tone_with_five=True,
        heteronym=False,
        errors=_mark_without_pinyin,
    )
    return [
        (char, syllable, char_to_phones(char, syllable))
        for char, (syllable,) in zip(text, syllables)
    ]


def char_to_phones(char, syllable):
    """Phones of one character given its pypinyin syllable, or None.

    Arguments
    ---------
    char : str
        One character.
    syllable : str
        Its tone-numbered pinyin, ``""`` when pypinyin has none.

    Returns
    -------
    list of str or None
        The phones of the syllable, the Chinese reading of a Latin letter,
        or None.

    Example
    -------
    >>> char_to_phones("行", "hang2"), char_to_phones("B", "")
    (['h', 'a2', 'ng'], ['b', 'i4'])
    """
    if syllable:
        return list(_cached_syllable_phones(syllable))
    if char.lower() in LETTER_READINGS:
        return LETTER_READINGS[char.lower()].split()
    return None
