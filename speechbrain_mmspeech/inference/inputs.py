"""What ``mmspeech-transcribe`` reads: audio files, folders, lists.

Inputs are audio files, folders (searched recursively for ``.wav``,
``.flac`` and ``.mp3`` files that soundfile reads), Kaldi ``wav.scp`` files
(``<id> <path>`` lines) and CSV manifests (an ``ID`` column and a ``wav``
column, as the recipe's ``test.csv``). Relative paths in a list are relative
to the list's folder.

Authors
 * MMSpeech plugin contributors 2026
"""

import csv
from dataclasses import dataclass
from pathlib import Path

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3")
# Column names tried, in order, in a CSV manifest.
ID_COLUMNS = ("ID", "id", "utt_id")
PATH_COLUMNS = ("wav", "path", "audio", "file")


class InputError(ValueError):
    """An input list or a command-line option that cannot be used."""


@dataclass
class AudioInput:
    """One audio file to transcribe.

    Arguments
    ---------
    id : str
        What the outputs call it: the path as found for files and folders,
        the utterance id for ``wav.scp`` and CSV entries.
    path : str
        The audio file.
    name : str
        Its SRT file name without the extension (relative to ``--output``).
    """

    id: str
    path: str
    name: str


def find_audio(folder):
    """Audio files under a folder, recursively, in sorted order.

    Arguments
    ---------
    folder : str or pathlib.Path
        The folder.

    Returns
    -------
    list of AudioInput
        Named by their path inside the folder.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> for name in ["b.flac", "sub/a.wav", "notes.txt"]:
    ...     (folder / name).parent.mkdir(exist_ok=True)
    ...     (folder / name).touch()
    >>> [item.name for item in find_audio(folder)]
    ['b', 'sub/a']
    """
    folder = Path(folder)
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file()
    )
    return [
        AudioInput(
            str(path),
            str(path),
            path.relative_to(folder).with_suffix("").as_posix(),
        )
        for path in files
    ]


def list_path(list_file, path):
    """A path from a list file: relative paths are relative to its folder."""
    path = Path(path)
    return str(path if path.is_absolute() else Path(list_file).parent / path)


def read_wav_scp(path):
    """The entries of a Kaldi ``wav.scp`` (``<id> <path>`` lines).

    Arguments
    ---------
    path : str or pathlib.Path
        The list.

    Returns
    -------
    list of AudioInput

    Raises
    ------
    InputError
        For a piped command (``... |``) or a line without a path.

    Example
    -------
    >>> scp = getfixture("tmp_path") / "wav.scp"
    >>> _ = scp.write_text("u1 /data/u1.wav\\nu2 wav/u2.flac\\n")
    >>> [(i.id, i.path.endswith("wav/u2.flac")) for i in read_wav_scp(scp)]
    [('u1', False), ('u2', True)]
    """
    items = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            fields = line.strip().split(maxsplit=1)
            if not fields:
                continue
            if len(fields) < 2 or fields[1].endswith("|"):
                raise InputError(
                    f"{path}:{number}: expected '<id> <audio file>' "
                    "(piped commands are not supported)"
                )
            items.append(
                AudioInput(fields[0], list_path(path, fields[1]), fields[0])
            )
    return items


def read_csv_manifest(path):
    """The entries of a CSV manifest with an id and an audio path column.

    Arguments
    ---------
    path : str or pathlib.Path
        The CSV file; its id column is the first of ``ID_COLUMNS`` and its
        audio column the first of ``PATH_COLUMNS`` that it has.

    Returns
    -------
    list of AudioInput

    Example
    -------
    >>> manifest = getfixture("tmp_path") / "test.csv"
    >>> _ = manifest.write_text("ID,duration,wav\\nu1,1.0,/data/u1.wav\\n")
    >>> read_csv_manifest(manifest)
    [AudioInput(id='u1', path='/data/u1.wav', name='u1')]
    """
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        id_column = next((c for c in ID_COLUMNS if c in columns), None)
        path_column = next((c for c in PATH_COLUMNS if c in columns), None)
        if id_column is None or path_column is None:
            raise InputError(
                f"{path}: a CSV manifest needs an id column (one of "
                f"{', '.join(ID_COLUMNS)}) and an audio column (one of "
                f"{', '.join(PATH_COLUMNS)}); it has {', '.join(columns)}"
            )
        return [
            AudioInput(
                row[id_column],
                list_path(path, row[path_column]),
                row[id_column],
            )
            for row in reader
        ]


def list_inputs(inputs):
    """Every audio file named by the command line, in order.

    Arguments
    ---------
    inputs : list of str
        Audio files, folders, ``*.scp`` lists and ``*.csv`` manifests.
        A path that does not exist is listed as an audio file (and fails
        when it is read).

    Returns
    -------
    list of AudioInput

    Example
    -------
    >>> list_inputs(["a.wav"])
    [AudioInput(id='a.wav', path='a.wav', name='a')]
    """
    items = []
    for argument in inputs:
        path = Path(argument)
        if path.is_dir():
            items.extend(find_audio(path))
        elif path.suffix == ".scp" and path.is_file():
            items.extend(read_wav_scp(path))
        elif path.suffix.lower() == ".csv" and path.is_file():
            items.extend(read_csv_manifest(path))
        else:
            items.append(AudioInput(argument, argument, path.stem))
    return items
