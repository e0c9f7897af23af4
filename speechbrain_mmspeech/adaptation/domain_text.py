"""The domain text: files of one sentence a line, checked and normalised.

Every line is normalised as transcripts are (``text.normalize_text``) and
empty lines are dropped. A file that is missing, empty or holds no Chinese
character is refused with an ``AdaptationError`` naming it.

Authors
 * MMSpeech plugin contributors 2026
"""

import random
from pathlib import Path

from speechbrain_mmspeech.text import has_chinese, normalize_text


class AdaptationError(ValueError):
    """An input ``mmspeech-adapt`` cannot use; the message says why."""


def read_domain_text(paths):
    """Reads domain text files: one normalised sentence per non-empty line.

    Arguments
    ---------
    paths : list of str or pathlib.Path
        Text files, UTF-8, one sentence a line.

    Returns
    -------
    list of str
        The sentences, in file order.

    Raises
    ------
    AdaptationError
        No file given, or a file that is missing, empty or without Chinese.

    Example
    -------
    >>> path = getfixture("tmp_path") / "domain.txt"
    >>> _ = path.write_text("球队 夺冠。\\n\\n主场 比赛\\n", encoding="utf-8")
    >>> read_domain_text([path])
    ['球队夺冠', '主场比赛']
    >>> _ = path.write_text("hello world\\n", encoding="utf-8")
    >>> read_domain_text([path])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.adaptation.domain_text.AdaptationError: ...domain.txt holds no Chinese character...
    """
    if not paths:
        raise AdaptationError("No domain text file given")
    sentences = []
    for path in map(Path, paths):
        if not path.is_file():
            raise AdaptationError(f"Domain text file {path} does not exist")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise AdaptationError(
                f"Domain text file {path} is not UTF-8 text ({error})"
            ) from error
        lines = [normalize_text(line) for line in text.splitlines()]
        lines = [line for line in lines if line]
        if not lines:
            raise AdaptationError(f"Domain text file {path} is empty")
        if not any(has_chinese(line) for line in lines):
            raise AdaptationError(
                f"Domain text file {path} holds no Chinese character: "
                "mmspeech-adapt needs Chinese sentences, one a line"
            )
        sentences.extend(line for line in lines if has_chinese(line))
    return sentences


def split_heldout(sentences, fraction, seed=0, minimum=1):
    """Splits sentences into training and held-out parts at random.

    Arguments
    ---------
    sentences : list of str
    fraction : float
        Share held out (at least ``minimum`` sentences if there are two or
        more).
    seed : int
    minimum : int

    Returns
    -------
    train : list of str
    heldout : list of str

    Example
    -------
    >>> train, heldout = split_heldout(list("abcdefghij"), 0.2)
    >>> len(train), len(heldout), sorted(train + heldout) == list("abcdefghij")
    (8, 2, True)
    """
    if len(sentences) < 2:
        return list(sentences), []
    size = min(
        max(round(len(sentences) * fraction), minimum), len(sentences) - 1
    )
    chosen = set(random.Random(seed).sample(range(len(sentences)), size))
    train = [s for i, s in enumerate(sentences) if i not in chosen]
    heldout = [s for i, s in enumerate(sentences) if i in chosen]
    return train, heldout
