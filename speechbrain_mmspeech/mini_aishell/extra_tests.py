"""The out-of-domain test sets of mini-AISHELL (``extra_tests/``).

Which sentences they read (``topic``, ``shuffled``), which speakers read them
and under which utterance ids (the test speakers, or the new speakers of
``unseen_voices``, ``dev_unseen_styles`` and ``dev_unseen_voices``), the
degraded copies of dev and test (``degradations``), and their CSV lists
(``extra_tests/<name>.csv``).

Authors
 * MMSpeech plugin contributors 2026
"""

import collections
import itertools

import numpy as np
import soundfile as sf

from speechbrain_mmspeech.dataio.fileio import write_csv
from speechbrain_mmspeech.mini_aishell.degradations import DEGRADATIONS
from speechbrain_mmspeech.mini_aishell.layout import (
    DEV_UNSEEN_STYLES,
    DEV_UNSEEN_VOICES,
    EXTRA_TESTS_DIRNAME,
    FIRST_SPEAKER_NUMBER,
    FIRST_UTTERANCE_NUMBER,
    SHUFFLED_TEST,
    TOPIC_TEST,
    UNSEEN_VOICES_TEST,
    speaker_id,
    utterance_id,
)
from speechbrain_mmspeech.mini_aishell.speakers import (
    DEV_UNSEEN_VOICE_VARIANTS,
    UNSEEN_PITCH_RANGES,
    UNSEEN_SPEED_RANGES_WPM,
    UNSEEN_VOICE_VARIANTS,
    VOICE_VARIANTS,
    SpeakerTask,
    build_tasks,
    draw_speaker_styles,
)
from speechbrain_mmspeech.mini_aishell.text import iter_sentences, shuffle_words

EXTRA_TEST_CSV_HEADER = ("ID", "duration", "wav", "spk_id", "transcript")


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


def unseen_voice_tasks(plan, sentences, seed, snr_range_db, gain_range_db):
    """New speakers for ``unseen_voices`` (test) and its two dev proxies.

    ``unseen_voices``: the test sentences read by as many new speakers as
    the test has, each reading as many sentences, with styles drawn among
    ``UNSEEN_VOICE_VARIANTS`` at speeds and pitches outside the ranges of
    the other speakers. ``dev_unseen_styles``: the dev sentences read
    alike by new speakers with the training ``VOICE_VARIANTS`` at those
    same outside speeds and pitches, and ``dev_unseen_voices`` by new
    speakers with ``DEV_UNSEEN_VOICE_VARIANTS`` (heard nowhere else, each
    speaker its own) at those speeds and pitches, each speaker its own pair
    of ranges (slow or fast, low or high), so that what is tuned for voices
    never heard is chosen on dev, not on the test's voices. The new
    speakers are numbered after every other speaker; each set draws its
    styles from a generator of its own, so that the other splits do not
    change.

    Arguments
    ---------
    plan : dict
        The corpus' speaker plan (``plan_speakers``).
    sentences : dict
        ``dev`` and ``test`` -> list of Sentence.
    seed, snr_range_db, gain_range_db : int, tuple of float, tuple of float
        The corpus' settings, as in
        :func:`~speechbrain_mmspeech.mini_aishell.speakers.make_job`.

    Returns
    -------
    tasks : list of SpeakerTask
        One task per new speaker.
    transcripts : dict
        Utterance id -> transcript.

    Example
    -------
    >>> from speechbrain_mmspeech.mini_aishell.layout import plan_speakers
    >>> from speechbrain_mmspeech.mini_aishell.text import Sentence
    >>> plan = plan_speakers({"train": 1, "dev": 1, "test": 1}, 1)
    >>> hello = [Sentence(("你好",), ("ni3", "hao3"))]
    >>> tasks, _ = unseen_voice_tasks(
    ...     plan, {"dev": hello, "test": hello}, 0, (20, 30), (-6, -1)
    ... )
    >>> for t in tasks:
    ...     print(t.split, t.spk_id, t.jobs[0].voice.variant in VOICE_VARIANTS)
    unseen_voices S0005 False
    dev_unseen_styles S0006 True
    dev_unseen_voices S0007 False
    """
    first = FIRST_SPEAKER_NUMBER + sum(len(s) for s in plan.values())
    # The last flag: each speaker its own variant and its own (speed, pitch)
    # ranges (slow or fast, low or high), so that four speakers cover them.
    sets = (
        (UNSEEN_VOICES_TEST, "test", UNSEEN_VOICE_VARIANTS, 1, False),
        (DEV_UNSEEN_STYLES, "dev", VOICE_VARIANTS, 2, False),
        (DEV_UNSEEN_VOICES, "dev", DEV_UNSEEN_VOICE_VARIANTS, 3, True),
    )
    new_plan, new_sentences, styles = {}, {}, []
    for name, source, variants, stream, covering in sets:
        # One new speaker per speaker of the source split, reading its
        # sentences.
        new_plan[name] = []
        for _, utts in plan[source]:
            spk = speaker_id(first)
            first += 1
            ids = [
                utterance_id(spk, FIRST_UTTERANCE_NUMBER + i)
                for i in range(len(utts))
            ]
            new_plan[name].append((spk, ids))
        new_sentences[name] = sentences[source]
        styles += draw_speaker_styles(
            len(plan[source]),
            np.random.default_rng([seed, stream]),
            variants,
            UNSEEN_SPEED_RANGES_WPM,
            UNSEEN_PITCH_RANGES,
            spread_variants=covering,
            cover_ranges=covering,
        )
    return build_tasks(
        new_plan, new_sentences, styles, seed, snr_range_db, gain_range_db
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
    >>> from pathlib import Path
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
