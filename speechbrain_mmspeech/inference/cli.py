"""The ``mmspeech-transcribe`` command line: audio files to text.

::

    mmspeech-transcribe model_folder a.wav b.flac recordings/
    mmspeech-transcribe model_folder data/test/wav.scp --format jsonl \\
        --output test.jsonl
    mmspeech-transcribe model_folder test.csv --format srt --output subs/

Inputs are audio files, folders (searched recursively for ``.wav``,
``.flac`` and ``.mp3`` files that soundfile reads), Kaldi ``wav.scp`` files
(``<id> <path>`` lines) and CSV manifests (an ``ID`` column and a ``wav``
column, as the recipe's ``test.csv``). Relative paths in a list are relative
to the list's folder. Audio of any length, sampling rate and channel count
is transcribed through ``MMSpeechASR`` (long audio in segments; no speech,
no text).

Outputs (``--format``):

- ``text``: one ``<id>\\t<text>`` line per file;
- ``jsonl``: one JSON object per file: ``id``, ``path``, and the
  ``Transcription`` (``speechbrain_mmspeech.inference.results``): text, pinyin,
  duration and the segments with their times, their characters' times,
  pinyin and confidences;
- ``srt``: one SubRip file per input in the ``--output`` folder.

``text`` and ``jsonl`` go to ``--output`` (a file) or to stdout. A progress
bar runs on stderr. A file that cannot be read or transcribed is reported
there by name with the reason, and the others go on; the exit code is 1 if
any file failed (2 for a bad command line or a model that does not load).

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import csv
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from speechbrain_mmspeech.export.folders import HPARAMS_FILE, LM_FILE
from speechbrain_mmspeech.inference.results import to_srt

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3")
FORMATS = ("text", "jsonl", "srt")
# Column names tried, in order, in a CSV manifest.
ID_COLUMNS = ("ID", "id", "utt_id")
PATH_COLUMNS = ("wav", "path", "audio", "file")
EXIT_FAILED_FILES = 1
EXIT_USAGE = 2


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


class TextWriter:
    """Writes ``<id>\\t<text>`` lines.

    Arguments
    ---------
    stream : file object
        Where to write.

    Example
    -------
    >>> import io
    >>> stream = io.StringIO()
    >>> TextWriter(stream).write(AudioInput("u1", "u1.wav", "u1"), "你好")
    >>> stream.getvalue()
    'u1\\t你好\\n'
    """

    details = False

    def __init__(self, stream):
        self.stream = stream

    def write(self, item, result):
        """Writes the text of one file."""
        self.stream.write(f"{item.id}\t{result}\n")
        self.stream.flush()


class JsonLinesWriter(TextWriter):
    """Writes one JSON object per file: id, path and the transcription.

    Arguments
    ---------
    stream : file object
        Where to write.
    """

    details = True

    def write(self, item, result):
        """Writes the ``Transcription`` of one file."""
        record = {"id": item.id, "path": item.path, **result.to_dict()}
        self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stream.flush()


class SrtWriter:
    """Writes one SubRip file per input, under a folder.

    Arguments
    ---------
    folder : str or pathlib.Path
        The output folder (created if needed).
    """

    details = True

    def __init__(self, folder):
        self.folder = Path(folder)
        self.written = set()

    def write(self, item, result):
        """Writes ``<folder>/<item.name>.srt``.

        Raises
        ------
        InputError
            If an earlier input already wrote that file.
        """
        path = self.folder / f"{item.name}.srt"
        if path in self.written:
            raise InputError(f"another input was already written to {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_srt(result), encoding="utf-8")
        self.written.add(path)


def folder_keys(folder):
    """The top-level keys of a local model folder's ``hyperparams.yaml``.

    Arguments
    ---------
    folder : str or pathlib.Path
        The model folder.

    Returns
    -------
    set of str
        Empty when the folder is not local (a hub repository).
    """
    path = Path(folder) / HPARAMS_FILE
    if not path.is_file():
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    return {
        line.split(":", 1)[0]
        for line in lines
        if line[:1].isalpha() and ":" in line
    }


def stage_language_model(folder, lm_path, workdir):
    """A copy of a model folder (as links) with another ``lm.ckpt``.

    Arguments
    ---------
    folder : str or pathlib.Path
        A local model folder written with a language model.
    lm_path : str or pathlib.Path
        A folder holding ``lm.ckpt``, or the file itself: the same sizes
        and vocabulary as the folder's LM.
    workdir : pathlib.Path
        Where to put the copy.

    Returns
    -------
    pathlib.Path
        The copy, to load instead of ``folder``.

    Raises
    ------
    InputError
        If the model folder has no language model section or the LM file
        does not exist.
    """
    folder, lm_file = Path(folder), Path(lm_path)
    if lm_file.is_dir():
        lm_file = lm_file / LM_FILE
    if not lm_file.is_file():
        raise InputError(f"--lm: {lm_file} does not exist")
    if "lm_model" not in folder_keys(folder):
        raise InputError(
            f"--lm: {folder} was written without a language model, so it "
            "has no LM settings to load one with; export it with an LM"
        )
    staged = workdir / "model"
    staged.mkdir()
    for path in folder.iterdir():
        if path.name != LM_FILE:
            (staged / path.name).symlink_to(path.resolve())
    (staged / LM_FILE).symlink_to(lm_file.resolve())
    return staged


def decoding_overrides(args, keys):
    """``from_hparams`` overrides for the decoding options given.

    Arguments
    ---------
    args : argparse.Namespace
        The command line.
    keys : set of str
        The model folder's top-level keys (empty: not checked).

    Returns
    -------
    dict

    Raises
    ------
    InputError
        For an option whose setting the folder does not have.

    Example
    -------
    >>> args = argparse.Namespace(
    ...     beam_size=4, lm_weight=None, phone_ctc_weight=0.3
    ... )
    >>> decoding_overrides(args, {"beam_size", "phone_ctc_weight"})
    {'beam_size': 4, 'phone_ctc_weight': 0.3}
    """
    options = {
        "beam_size": ("--beam-size", args.beam_size),
        "lm_weight": ("--lm-weight", args.lm_weight),
        "phone_ctc_weight": ("--phone-ctc-weight", args.phone_ctc_weight),
    }
    overrides = {}
    for key, (flag, value) in options.items():
        if value is None:
            continue
        if keys and key not in keys:
            raise InputError(
                f"{flag}: the model folder has no '{key}' setting (written "
                "without that kind of decoding)"
            )
        overrides[key] = value
    return overrides


def load_model(args, workdir):
    """Loads the model folder with the command line's options.

    Arguments
    ---------
    args : argparse.Namespace
        The command line.
    workdir : pathlib.Path
        A scratch folder (links to the model's files).

    Returns
    -------
    speechbrain_mmspeech.inference.ASR.MMSpeechASR
    """
    from speechbrain_mmspeech.inference.ASR import MMSpeechASR

    source = args.model
    overrides = decoding_overrides(args, folder_keys(source))
    if args.lm is not None:
        source = stage_language_model(source, args.lm, workdir)
    asr = MMSpeechASR.from_hparams(
        source=str(source),
        savedir=str(args.savedir or workdir / "savedir"),
        run_opts={"device": args.device},
        overrides=overrides,
    )
    asr.transcriber.batch_size = args.batch_size
    return asr


def transcribe_inputs(asr, items, writer, batch_size, progress=True):
    """Transcribes every input, ``batch_size`` files at a time.

    A file that fails is reported on stderr by name and skipped; when a
    batch fails as a whole, its files are retried one by one, so that only
    the culprit is reported.

    Arguments
    ---------
    asr : speechbrain_mmspeech.inference.ASR.MMSpeechASR
        The model.
    items : list of AudioInput
        The files.
    writer : TextWriter, JsonLinesWriter or SrtWriter
        Where the results go.
    batch_size : int
        Files read and decoded together.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    list of tuple
        ``(item, reason)`` for each file that failed.
    """
    failures = []
    bar = tqdm(
        total=len(items),
        unit="file",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )

    def fail(item, error):
        reason = f"{type(error).__name__}: {error}"
        failures.append((item, reason))
        bar.write(f"FAILED {item.path}: {reason}", file=sys.stderr)

    for first in range(0, len(items), batch_size):
        loaded = []
        for item in items[first : first + batch_size]:
            try:
                loaded.append((item, asr.load_audio(item.path)))
            except Exception as error:
                fail(item, error)
                bar.update(1)
        groups = [loaded] if loaded else []
        while groups:
            group = groups.pop(0)
            try:
                results = asr.transcribe_waveforms(
                    [signal for _, signal in group], writer.details
                )
            except Exception as error:
                if len(group) > 1:
                    groups = [[entry] for entry in group] + groups
                    continue
                fail(group[0][0], error)
                bar.update(1)
                continue
            for (item, _), result in zip(group, results):
                try:
                    writer.write(item, result)
                except Exception as error:
                    fail(item, error)
                bar.update(1)
    bar.close()
    return failures


def parse_args(argv=None):
    """The command line (see the module docstring).

    Arguments
    ---------
    argv : list of str
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
    """
    parser = argparse.ArgumentParser(
        prog="mmspeech-transcribe",
        description="Transcribes audio files with an MMSpeech model folder.",
    )
    parser.add_argument("model", help="model folder or hub repository id")
    parser.add_argument(
        "inputs",
        nargs="+",
        help="audio files, folders (recursive), Kaldi wav.scp files or CSV "
        "manifests (ID and wav columns)",
    )
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument(
        "--output",
        default=None,
        help="output file (text, jsonl; default: stdout) or folder (srt)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=8,
        help="files read and segments decoded together",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads for torch"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1")
    parser.add_argument("--beam-size", type=int, default=None)
    parser.add_argument(
        "--lm",
        default=None,
        help="a folder holding lm.ckpt (or the file) to use instead of the "
        "model folder's language model",
    )
    parser.add_argument("--lm-weight", type=float, default=None)
    parser.add_argument(
        "--phone-ctc-weight",
        type=float,
        default=None,
        help="weight of the phone CTC scores in phone-aware decoding (for "
        "folders written with it)",
    )
    parser.add_argument(
        "--savedir", default=None, help="where to link the model's files"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar"
    )
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    if args.format == "srt" and args.output is None:
        parser.error("--format srt needs --output (a folder)")
    return args


def open_writer(args):
    """The writer for ``--format`` and ``--output``, and the file to close."""
    if args.format == "srt":
        return SrtWriter(args.output), None
    stream = sys.stdout
    if args.output is not None:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        stream = open(args.output, "w", encoding="utf-8")
    writer = JsonLinesWriter if args.format == "jsonl" else TextWriter
    return writer(stream), stream if args.output is not None else None


def main(argv=None):
    """Entry point of ``mmspeech-transcribe``.

    Arguments
    ---------
    argv : list of str
        Arguments (default: the command line).

    Returns
    -------
    int
        0 when every file was transcribed, 1 when some failed, 2 when
        nothing could start.
    """
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="mmspeech_") as workdir:
        try:
            items = list_inputs(args.inputs)
            asr = load_model(args, Path(workdir))
        except (InputError, OSError, ValueError) as error:
            print(f"mmspeech-transcribe: {error}", file=sys.stderr)
            return EXIT_USAGE
        writer, stream = open_writer(args)
        try:
            failures = transcribe_inputs(
                asr, items, writer, args.batch_size, not args.no_progress
            )
        finally:
            if stream is not None:
                stream.close()
    if failures:
        print(
            f"{len(failures)} of {len(items)} files failed: "
            + ", ".join(item.path for item, _ in failures),
            file=sys.stderr,
        )
        return EXIT_FAILED_FILES
    return 0


if __name__ == "__main__":
    sys.exit(main())
