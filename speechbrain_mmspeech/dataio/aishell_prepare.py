"""AISHELL-1 data preparation: unpacks the audio and writes the split CSVs.

``prepare_aishell`` reads an AISHELL-1 download (or a mini-AISHELL made by
``mmspeech-mini-aishell``, which has the same layout)::

    <data_folder>/wav/S0002.tar.gz ...            (as downloaded), or
    <data_folder>/wav/{train,dev,test}/S0002/*.wav  (already extracted)
    <data_folder>/transcript/aishell_transcript_v0.8.txt

and writes ``<save_folder>/{train,dev,test}.csv`` with the columns
``ID,duration,wav,spk_id,transcript``: the utterance name (e.g.
``BAC009S0002W0122``), the duration in seconds, the absolute wav path, the
speaker (the wav's folder) and the word-segmented transcript (words joined by
single spaces, as in the transcript file).

Nothing is dropped silently: wavs without a transcript, transcripts without
a wav, and unreadable or empty wavs are skipped, counted and logged (the bad
wavs by name). A missing transcript file, wav folder or split folder is an
error.

Example
-------
>>> prepare_aishell("/data/data_aishell", "results/prep")  # doctest: +SKIP

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import collections
import logging
import tarfile
from pathlib import Path

from speechbrain_mmspeech.dataio.audio import audio_duration
from speechbrain_mmspeech.dataio.fileio import write_csv

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
CSV_HEADER = ("ID", "duration", "wav", "spk_id", "transcript")
WAV_DIRNAME = "wav"
TRANSCRIPT_RELPATH = Path("transcript") / "aishell_transcript_v0.8.txt"
ARCHIVE_PATTERN = "*.tar.gz"
WAV_PATTERN = "*/*.wav"  # <split>/<speaker>/<utterance>.wav
EXTRACTED_MARKER = ".extracted_archives"  # names of the unpacked tars


def prepare_aishell(data_folder, save_folder, skip_prep=False, overwrite=False):
    """Writes ``train.csv``, ``dev.csv`` and ``test.csv`` for AISHELL-1.

    Tar archives found in ``<data_folder>/wav`` are unpacked there first (and
    kept); a marker file remembers which ones, so reruns do not unpack again.
    If all three CSVs exist, nothing is done unless ``overwrite`` is set.

    Wavs without a transcript, transcripts without a wav and unreadable or
    empty wavs are skipped and counted in the log; unreadable and empty wavs
    are also named in a warning. This keeps a long preparation going past a
    few bad files while leaving a trace of every dropped item.

    Arguments
    ---------
    data_folder : str or pathlib.Path
        The AISHELL-1 folder holding ``wav/`` and ``transcript/``.
    save_folder : str or pathlib.Path
        Where the CSVs are written (created if needed).
    skip_prep : bool
        Do nothing at all (for recipes whose CSVs are ready).
    overwrite : bool
        Rewrite the CSVs even if they all exist.

    Raises
    ------
    FileNotFoundError
        If the transcript file, the wav folder or a split folder is missing.

    Example
    -------
    >>> prepare_aishell("/data/data_aishell", "results/prep")  # doctest: +SKIP
    """
    if skip_prep:
        return
    data_folder, save_folder = Path(data_folder), Path(save_folder)
    csv_paths = {split: save_folder / f"{split}.csv" for split in SPLITS}
    if not overwrite and all(p.is_file() for p in csv_paths.values()):
        logger.info("AISHELL-1 CSVs already in %s: skipping", save_folder)
        return

    transcript_path = data_folder / TRANSCRIPT_RELPATH
    wav_folder = data_folder / WAV_DIRNAME
    transcripts = read_transcripts(transcript_path)
    if not wav_folder.is_dir():
        raise FileNotFoundError(f"AISHELL-1 wav folder not found: {wav_folder}")
    extract_archives(wav_folder)

    save_folder.mkdir(parents=True, exist_ok=True)
    used = set()
    for split in SPLITS:
        rows, counts = collect_split(wav_folder / split, transcripts)
        used.update(row[0] for row in rows)
        write_csv(csv_paths[split], CSV_HEADER, rows)
        log_split(split, len(rows), counts)

    orphans = len(transcripts.keys() - used)
    if orphans:
        logger.warning(
            "AISHELL-1: %d transcripts have no (usable) wav in %s",
            orphans,
            wav_folder,
        )


def read_transcripts(path):
    """Reads the AISHELL-1 transcript file.

    Each line is the utterance name followed by the word-segmented text; the
    words are re-joined with single spaces. Lines with a name but no text
    are dropped and duplicate names keep their first text; both are counted
    in a warning.

    Arguments
    ---------
    path : str or pathlib.Path
        ``transcript/aishell_transcript_v0.8.txt``.

    Returns
    -------
    dict
        Utterance name -> transcript.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.

    Example
    -------
    >>> p = Path(getfixture("tmpdir")) / "t.txt"
    >>> _ = p.write_text("BAC009S0002W0122 而 对  楼市\\n", encoding="utf-8")
    >>> read_transcripts(p)
    {'BAC009S0002W0122': '而 对 楼市'}
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"AISHELL-1 transcript file not found: {path}")
    transcripts, problems = {}, collections.Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if not fields:
                continue
            if len(fields) == 1:
                problems["empty"] += 1
            elif fields[0] in transcripts:
                problems["duplicate"] += 1
            else:
                transcripts[fields[0]] = " ".join(fields[1:])
    if problems:
        logger.warning(
            "AISHELL-1 transcript %s: skipped %d lines without text and %d "
            "duplicate names",
            path,
            problems["empty"],
            problems["duplicate"],
        )
    return transcripts


def extract_archives(wav_folder):
    """Unpacks the ``*.tar.gz`` in ``wav_folder`` into it, once.

    The names of the unpacked archives are appended to a marker file as each
    one finishes, so an interrupted run resumes where it stopped. The
    archives are kept.

    Arguments
    ---------
    wav_folder : str or pathlib.Path
        AISHELL-1 ``wav`` folder.

    Returns
    -------
    int
        Number of archives unpacked by this call.

    Example
    -------
    >>> extract_archives(getfixture("tmpdir"))
    0
    """
    wav_folder = Path(wav_folder)
    marker = wav_folder / EXTRACTED_MARKER
    done = set(marker.read_text().split()) if marker.is_file() else set()
    todo = sorted(
        p for p in wav_folder.glob(ARCHIVE_PATTERN) if p.name not in done
    )
    if todo:
        logger.info("Unpacking %d archives in %s", len(todo), wav_folder)
    for archive in todo:
        unpack(archive, wav_folder)
        with open(marker, "a", encoding="utf-8") as f:
            f.write(archive.name + "\n")
    return len(todo)


def unpack(archive, destination):
    """Unpacks one tar archive, refusing members that leave ``destination``.

    Arguments
    ---------
    archive : str or pathlib.Path
        A ``.tar.gz`` file.
    destination : str or pathlib.Path
        Folder to unpack into.

    Example
    -------
    >>> import io
    >>> tmp = Path(getfixture("tmpdir"))
    >>> with tarfile.open(tmp / "a.tar.gz", "w:gz") as tar:
    ...     info = tarfile.TarInfo("train/S0002/x.wav")
    ...     info.size = 2
    ...     tar.addfile(info, io.BytesIO(b"hi"))
    >>> unpack(tmp / "a.tar.gz", tmp)
    >>> (tmp / "train" / "S0002" / "x.wav").read_bytes()
    b'hi'
    """
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.9.17 / 3.11.4
            tar.extractall(destination, filter="data")
            return
        root = Path(destination).resolve()
        for member in tar.getmembers():
            target = (root / member.name).resolve()
            if root not in target.parents and target != root:
                raise ValueError(f"Unsafe path {member.name!r} in {archive}")
        tar.extractall(destination)


def collect_split(split_folder, transcripts):
    """CSV rows of one split, with counts of what was skipped.

    Arguments
    ---------
    split_folder : str or pathlib.Path
        ``wav/<split>`` holding ``<speaker>/<utterance>.wav``.
    transcripts : dict
        Utterance name -> transcript.

    Returns
    -------
    rows : list of tuple
        ``(ID, duration, wav, spk_id, transcript)``, sorted by ID.
    counts : collections.Counter
        ``no_transcript`` and ``bad_audio`` skips.

    Raises
    ------
    FileNotFoundError
        If ``split_folder`` does not exist.

    Example
    -------
    >>> collect_split("/nonexistent/dev", {})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: AISHELL-1 split folder not found: /nonexistent/dev...
    """
    split_folder = Path(split_folder)
    if not split_folder.is_dir():
        raise FileNotFoundError(
            f"AISHELL-1 split folder not found: {split_folder} (are the "
            "archives in the wav folder, or their contents extracted?)"
        )
    rows, counts = [], collections.Counter()
    for wav in sorted(split_folder.glob(WAV_PATTERN)):
        utt_id = wav.stem
        if utt_id not in transcripts:
            counts["no_transcript"] += 1
            continue
        duration = audio_duration(wav)
        if duration is None:
            logger.warning("Skipping unreadable or empty audio file %s", wav)
            counts["bad_audio"] += 1
            continue
        spk_id = wav.parent.name
        rows.append(
            (utt_id, duration, str(wav.resolve()), spk_id, transcripts[utt_id])
        )
    return rows, counts


def log_split(split, n_rows, counts):
    """Logs the size of a split and what was skipped.

    Arguments
    ---------
    split : str
        Split name.
    n_rows : int
        Utterances written.
    counts : collections.Counter
        Skip counts from ``collect_split``.

    Example
    -------
    >>> log_split("dev", 10, collections.Counter(no_transcript=1))
    """
    logger.info("AISHELL-1 %s: %d utterances", split, n_rows)
    if counts["no_transcript"]:
        logger.warning(
            "AISHELL-1 %s: skipped %d wavs without a transcript",
            split,
            counts["no_transcript"],
        )
    if counts["bad_audio"]:
        logger.warning(
            "AISHELL-1 %s: skipped %d unreadable or empty wavs",
            split,
            counts["bad_audio"],
        )


def parse_arguments(argv=None):
    """Parses the command line of ``python -m speechbrain_mmspeech.dataio.aishell_prepare``.

    Arguments
    ---------
    argv : list of str, optional
        The words after the command (default: the real command line).

    Returns
    -------
    argparse.Namespace
        ``data_folder``, ``save_folder`` and ``overwrite``.

    Example
    -------
    >>> parse_arguments(["data", "prep", "--overwrite"]).overwrite
    True
    """
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "data_folder", help="AISHELL-1 folder (wav/, transcript/)"
    )
    parser.add_argument("save_folder", help="where to write the CSVs")
    parser.add_argument(
        "--overwrite", action="store_true", help="rewrite existing CSVs"
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Command-line entry point: ``prepare_aishell`` as the options say.

    Arguments
    ---------
    argv : list of str, optional
        As for ``parse_arguments``.

    Example
    -------
    >>> main(["/data/data_aishell", "prep"])  # doctest: +SKIP
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_arguments(argv)
    prepare_aishell(
        args.data_folder, args.save_folder, overwrite=args.overwrite
    )


if __name__ == "__main__":
    main()
