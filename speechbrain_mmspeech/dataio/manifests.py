"""Reading SpeechBrain CSV manifests: rows, columns, utterances.

``read_utterances`` is the one reader of a manifest as utterances (id,
audio path, duration, normalised reference) for the scripts that decode a
set outside a ``Brain`` (benchmarks, weight sweeps).

Authors
 * MMSpeech plugin contributors 2026
"""

import csv
import itertools
from dataclasses import dataclass
from typing import Optional

from speechbrain_mmspeech.text import normalize_text


def read_csv_rows(csv_path, limit=None):
    """Reads the rows of a SpeechBrain CSV manifest, in file order.

    Arguments
    ---------
    csv_path : str or pathlib.Path
        The manifest.
    limit : int, optional
        Read at most this many rows.

    Returns
    -------
    list of dict
        One dict per row, column name to value (all strings).

    Example
    -------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = path.write_text("ID,wav\\nu1,a.wav\\nu2,b.wav\\n", encoding="utf-8")
    >>> read_csv_rows(path, limit=1)
    [{'ID': 'u1', 'wav': 'a.wav'}]
    """
    with open(csv_path, encoding="utf-8", newline="") as f:
        return list(itertools.islice(csv.DictReader(f), limit))


def read_csv_column(csv_path, column):
    """Reads one column of a SpeechBrain CSV manifest.

    Arguments
    ---------
    csv_path : str or pathlib.Path
        The manifest.
    column : str
        The column name.

    Returns
    -------
    list of str
        The column's values, in file order.
    """
    return [row[column] for row in read_csv_rows(csv_path)]


@dataclass
class Utterance:
    """One row of a manifest.

    Arguments
    ---------
    id : str
        The ``ID`` column.
    wav : str
        The audio file (``wav`` column).
    duration : float
        Seconds (``duration`` column).
    reference : str or None
        The normalised ``transcript`` (None without that column).
    """

    id: str
    wav: str
    duration: float
    reference: Optional[str] = None


def read_utterances(csv_path, limit=None):
    """Reads a manifest as ``Utterance`` objects, in file order.

    Arguments
    ---------
    csv_path : str or pathlib.Path
        A manifest with ``ID``, ``wav`` and ``duration`` columns (and
        ``transcript``, normalised with ``normalize_text``), as
        ``aishell_prepare`` writes it.
    limit : int, optional
        Read at most this many rows.

    Returns
    -------
    list of Utterance

    Example
    -------
    >>> path = getfixture("tmp_path") / "a.csv"
    >>> _ = path.write_text(
    ...     "ID,duration,wav,transcript\\nu1,1.5,a.wav,你 好\\n",
    ...     encoding="utf-8",
    ... )
    >>> read_utterances(path)
    [Utterance(id='u1', wav='a.wav', duration=1.5, reference='你好')]
    """
    utterances = []
    for row in read_csv_rows(csv_path, limit):
        reference = row.get("transcript")
        utterances.append(
            Utterance(
                row["ID"],
                row["wav"],
                float(row["duration"]),
                None if reference is None else normalize_text(reference),
            )
        )
    return utterances
