"""Unpaired (untranscribed) speech for pre-training: one CSV from any list.

``prepare_unpaired_speech`` accepts the unpaired speech pool in one of three
forms and writes ``<save_folder>/unpaired.csv`` with the columns
``ID,duration,wav`` (absolute paths), the manifest ``pretrain.py`` and
``build_codes.py`` of the AISHELL-1 recipe read:

- a CSV with at least ``ID,duration,wav`` (``mmspeech-mini-aishell`` writes
  ``unpaired_speech/unpaired.csv``): those columns are copied;
- a Kaldi ``wav.scp`` (``<id> <path>`` lines, relative paths taken from the
  file's folder; AISHELL-2 ships ``iOS/data/wav.scp``);
- a folder: every ``.wav``/``.flac`` below it, named by its file stem.

Unreadable or empty audio is skipped, counted and logged (as in the
recipe's ``aishell_prepare.py``). A transcript, if the source has one, is
ignored: this is speech *without* text.

Example
-------
>>> prepare_unpaired_speech(
...     "/data/AISHELL-2/iOS/data/wav.scp", "prep"
... )  # doctest: +SKIP

Authors
 * MMSpeech plugin contributors 2026
"""

import csv
import logging
import os
from pathlib import Path

from speechbrain_mmspeech.frontend import audio_duration

logger = logging.getLogger(__name__)

UNPAIRED_CSV = "unpaired.csv"
CSV_HEADER = ("ID", "duration", "wav")
AUDIO_SUFFIXES = (".wav", ".flac")
CSV_SUFFIX = ".csv"


def read_source(source):
    """``(id, path)`` pairs of a wav.scp or of the audio files of a folder.

    Arguments
    ---------
    source : str or pathlib.Path
        A Kaldi ``wav.scp`` or a folder.

    Returns
    -------
    list of (str, pathlib.Path)
        Utterance id and audio path, in file (or sorted path) order.

    Example
    -------
    >>> scp = Path(getfixture("tmpdir")) / "wav.scp"
    >>> _ = scp.write_text("U1 wav/U1.wav\\n", encoding="utf-8")
    >>> [(u, p.name) for u, p in read_source(scp)]
    [('U1', 'U1.wav')]
    """
    source = Path(source)
    if source.is_dir():
        return [
            (path.stem, path)
            for path in sorted(source.rglob("*"))
            if path.suffix.lower() in AUDIO_SUFFIXES
        ]
    pairs = []
    with open(source, encoding="utf-8") as f:
        for line in f:
            fields = line.split(maxsplit=1)
            if len(fields) == 2:
                pairs.append((fields[0], source.parent / fields[1].strip()))
    return pairs


def measure_durations(pairs):
    """CSV rows of ``(id, path)`` pairs; unreadable audio is skipped.

    Arguments
    ---------
    pairs : list of (str, pathlib.Path)
        Utterance ids and audio paths.

    Returns
    -------
    list of tuple
        ``(id, duration, absolute path)`` of the readable files.

    Example
    -------
    >>> bad = Path(getfixture("tmpdir")) / "bad.wav"
    >>> _ = bad.write_bytes(b"not audio")
    >>> measure_durations([("U1", bad)])
    []
    """
    rows, skipped = [], 0
    for utt_id, path in pairs:
        duration = audio_duration(path)
        if duration is None:
            logger.warning("Skipping unreadable or empty audio file %s", path)
            skipped += 1
            continue
        rows.append((utt_id, duration, str(Path(path).resolve())))
    if skipped:
        logger.warning("%d unreadable or empty audio files skipped", skipped)
    return rows


def read_csv_source(source):
    """``(id, duration, wav)`` rows of a CSV manifest with those columns.

    Arguments
    ---------
    source : str or pathlib.Path
        A CSV with a header holding ``ID``, ``duration`` and ``wav``.

    Returns
    -------
    list of tuple
        The rows.

    Example
    -------
    >>> p = Path(getfixture("tmpdir")) / "u.csv"
    >>> _ = p.write_text("ID,duration,wav,spk_id\\nU1,1.5,/a.wav,S9\\n")
    >>> read_csv_source(p)
    [('U1', '1.5', '/a.wav')]
    """
    with open(source, encoding="utf-8", newline="") as f:
        return [
            (row["ID"], row["duration"], row["wav"])
            for row in csv.DictReader(f)
        ]


def prepare_unpaired_speech(source, save_folder):
    """Writes ``<save_folder>/unpaired.csv`` unless it exists; returns it.

    Arguments
    ---------
    source : str or pathlib.Path
        A CSV with ``ID,duration,wav`` columns, a Kaldi ``wav.scp`` or a
        folder of audio files.
    save_folder : str or pathlib.Path
        Where ``unpaired.csv`` is written.

    Returns
    -------
    pathlib.Path
        The written (or existing) CSV.

    Raises
    ------
    FileNotFoundError
        If ``source`` does not exist.
    ValueError
        If no usable audio is found.
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"Unpaired speech not found: {source}")
    destination = Path(save_folder) / UNPAIRED_CSV
    if destination.is_file():
        return destination
    if source.suffix == CSV_SUFFIX:
        rows = read_csv_source(source)
    else:
        rows = measure_durations(read_source(source))
    if not rows:
        raise ValueError(f"No readable audio in {source}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(destination.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        writer.writerows(rows)
    os.replace(tmp, destination)
    logger.info("Unpaired speech: %d utterances from %s", len(rows), source)
    return destination
