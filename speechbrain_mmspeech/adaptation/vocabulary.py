"""Growing the character vocabulary with a domain's new characters.

Old ids never move: a new character first takes a free ``<unused_k>`` id of
the vocabulary (written by ``CharTokenizer.build``), then a new id after the
last text id (audio codes, if the model has any, move up by as many). Its
embedding row, which is also its output row (the two are tied), starts as
the mean of the rows of the characters that read the same (pinyin with
tone: its homophones), or of all character rows if it has none; every
other row is kept as it was.

The n-gram LM and the phone-aware scorer follow the tokenizer: the n-gram
is resized (``NgramLM.resized``) and the scorer builds its reading table
from the tokenizer when the folder loads.

Authors
 * MMSpeech plugin contributors 2026
"""

from collections import Counter, defaultdict

import torch

from speechbrain_mmspeech.tokenizers import (
    FAIRSEQ_SPECIALS,
    UNUSED_TOKEN_PATTERN,
    CharTokenizer,
    PinyinTokenizer,
)

EMBEDDING_KEYS = (
    "decoder.embed_tokens.weight",
    "decoder.output_projection.weight",
)


def new_characters(tokenizer, sentences):
    """The characters of the sentences that the tokenizer lacks.

    Arguments
    ---------
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
    sentences : list of str
        Normalised sentences.

    Returns
    -------
    list of str
        By descending count, ties by code point.

    Example
    -------
    >>> tokenizer = CharTokenizer(["球", "队"])
    >>> new_characters(tokenizer, ["球队夺冠", "冠军"])
    ['冠', '军', '夺']
    """
    counts = Counter(
        char
        for sentence in sentences
        for char in sentence
        if tokenizer.token_to_id(char) == tokenizer.unk_index
    )
    return sorted(counts, key=lambda char: (-counts[char], char))


def grow_vocabulary(tokenizer, state, architecture, characters):
    """Gives new characters ids and embedding rows; old ids stay.

    Arguments
    ---------
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        The folder's tokenizer (not changed).
    state : dict
        The model's state dict (not changed).
    architecture : dict
        The model's architecture (not changed).
    characters : list of str
        Characters the tokenizer lacks (``new_characters``).

    Returns
    -------
    tokenizer : CharTokenizer
        The grown tokenizer.
    state : dict
        The state dict with the grown embedding (and output) rows.
    architecture : dict
        With the new ``text_vocab_size``.
    new_ids : list of int
        The characters' ids, in the order given.

    Example
    -------
    >>> tokenizer = CharTokenizer(["球", "<unused_0>"])
    >>> state = {key: torch.arange(12.0).view(6, 2) for key in EMBEDDING_KEYS}
    >>> arch = {"text_vocab_size": 6, "code_vocab_size": 0}
    >>> grown, state2, arch2, ids = grow_vocabulary(
    ...     tokenizer, state, arch, ["求", "冠"]
    ... )
    >>> ids, grown.tokens[4:], arch2["text_vocab_size"]
    ([5, 6], ['球', '求', '冠'], 7)
    >>> state2[EMBEDDING_KEYS[0]][5].tolist()  # 求 reads qiu2 as 球 does
    [8.0, 9.0]
    >>> torch.equal(state2[EMBEDDING_KEYS[0]][:5], state[EMBEDDING_KEYS[0]][:5])
    True
    """
    tokens = list(tokenizer.tokens)
    text_vocab = architecture["text_vocab_size"]
    if len(tokens) != text_vocab:
        raise ValueError(
            f"the tokenizer has {len(tokens)} ids, the model {text_vocab} "
            "text ids"
        )
    free = [
        i for i, t in enumerate(tokens) if UNUSED_TOKEN_PATTERN.fullmatch(t)
    ]
    new_ids = []
    for char in characters:
        if free:
            index = free.pop(0)
            tokens[index] = char
        else:
            index = len(tokens)
            tokens.append(char)
        new_ids.append(index)
    grown = CharTokenizer(tokens[len(FAIRSEQ_SPECIALS) :])
    appended = len(tokens) - text_vocab
    pinyin = PinyinTokenizer()
    readings = _readings(tokenizer, text_vocab, pinyin)
    state = dict(state)
    for key in EMBEDDING_KEYS:
        if key not in state:
            continue
        old = state[key]
        rows = torch.cat(
            [
                old[:text_vocab],
                old.new_zeros(appended, old.shape[1]),
                old[text_vocab:],
            ]
        )
        for char, index in zip(characters, new_ids):
            rows[index] = _initial_row(char, readings, old, tokenizer, pinyin)
        state[key] = rows
    architecture = dict(architecture, text_vocab_size=len(tokens))
    return grown, state, architecture, new_ids


def _reading(char, pinyin):
    """The phones of one character (its first reading), as a tuple."""
    return tuple(pinyin.text_to_phones(char))


def _readings(tokenizer, text_vocab, pinyin):
    """Reading -> ids of the tokenizer's characters that read so."""
    readings = defaultdict(list)
    for index in range(len(FAIRSEQ_SPECIALS), text_vocab):
        token = tokenizer.tokens[index]
        if len(token) == 1:
            reading = _reading(token, pinyin)
            if reading:
                readings[reading].append(index)
    return readings


def _initial_row(char, readings, rows, tokenizer, pinyin):
    """Mean row of the homophones of ``char`` (else of all characters)."""
    homophones = readings.get(_reading(char, pinyin), [])
    if homophones:
        return rows[homophones].mean(dim=0)
    characters = [
        i
        for i, token in enumerate(tokenizer.tokens)
        if i >= len(FAIRSEQ_SPECIALS)
        and not UNUSED_TOKEN_PATTERN.fullmatch(token)
    ]
    return rows[characters].mean(dim=0)
