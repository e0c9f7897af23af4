"""Unpaired (untranscribed) speech for pre-training: its manifest and codes.

``prepare_codes`` fits the S2C pseudo-code quantizer on that pool (once,
to ``codes_file``).

``prepare_unpaired_speech`` accepts the unpaired speech pool in one of three
forms and writes ``<save_folder>/unpaired.csv`` with the columns
``ID,duration,wav`` (absolute paths), the manifest ``pretrain.py`` and
``build_codes.py`` of the AISHELL-1 recipe read:

- a CSV with at least ``ID,duration,wav`` (``mmspeech-mini-aishell`` writes
  ``unpaired_speech/unpaired.csv``): those columns are copied;
- a Kaldi ``wav.scp`` (``<id> <path>`` lines, relative paths taken from the
  file's folder; AISHELL-2 ships ``iOS/data/wav.scp``);
- a folder: every ``.wav``/``.flac`` below it, named by its file stem.

Unreadable or empty audio is skipped, counted and logged (as in
``speechbrain_mmspeech.dataio.aishell_prepare``). A transcript, if the source has one, is
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
import json
import logging
from pathlib import Path

import torch

from speechbrain_mmspeech.dataio.audio import audio_duration, load_audio
from speechbrain_mmspeech.dataio.fileio import write_csv
from speechbrain_mmspeech.dataio.manifests import read_csv_rows

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
    write_csv(destination, CSV_HEADER, rows)
    logger.info("Unpaired speech: %d utterances from %s", len(rows), source)
    return destination


STATS_SUFFIX = ".json"


def fit_wavs(hparams):
    """The wavs the quantizer is fitted on: a seeded subset of the pool.

    Arguments
    ---------
    hparams : dict
        ``unpaired_csv``, ``codes_fit_utterances`` and ``seed``.

    Returns
    -------
    list of str
        Wav paths.
    """
    wavs = [row["wav"] for row in read_csv_rows(hparams["unpaired_csv"])]
    limit = hparams["codes_fit_utterances"]
    if limit and len(wavs) > limit:
        generator = torch.Generator().manual_seed(hparams["seed"])
        order = torch.randperm(len(wavs), generator=generator)[:limit]
        wavs = [wavs[i] for i in sorted(order.tolist())]
    return wavs


def prepare_codes(hparams):
    """Fits and saves the quantizer unless ``codes_file`` exists.

    Arguments
    ---------
    hparams : dict
        The pre-training hyperparameters (``quantizer``,
        ``compute_features``, ``codes_file`` and those of ``fit_wavs``).

    Returns
    -------
    dict or None
        The fitting statistics, or None if the file already existed.
    """
    path = Path(hparams["codes_file"])
    if path.exists():
        return None
    wavs = fit_wavs(hparams)
    logger.info("Fitting the pseudo-codes on %d utterances", len(wavs))
    fbank = hparams["compute_features"]
    quantizer = hparams["quantizer"]
    stats = quantizer.fit(fbank.utterance_fbank(load_audio(w)) for w in wavs)
    path.parent.mkdir(parents=True, exist_ok=True)
    quantizer.save(path)
    stats_path = path.with_name(path.name + STATS_SUFFIX)
    stats_path.write_text(json.dumps(stats, indent=2), encoding="utf-8")
    logger.info("Pseudo-codes saved to %s: %s", path, stats)
    return stats
