"""The ``mmspeech-transcribe`` command line: audio files to text.

::

    mmspeech-transcribe model_folder a.wav b.flac recordings/
    mmspeech-transcribe model_folder data/test/wav.scp --format jsonl \\
        --output test.jsonl
    mmspeech-transcribe model_folder test.csv --format srt --output subs/

Inputs (``inference.inputs``) are audio files, folders, Kaldi ``wav.scp``
files and CSV manifests. Audio of any length, sampling rate and channel count
is transcribed through ``MMSpeechASR`` (long audio in segments; no speech,
no text).

Outputs (``--format``, ``inference.writers``): ``text`` lines, JSON lines
with the segments, characters' times, pinyin and confidences, or SRT files.

``--hotwords FILE`` (one a line) boosts the listed words where the phone
head hears their pinyin (``decoders.hotwords``); a missing or empty file, or
a hotword the model cannot write, stops the command with exit code 2.

``text`` and ``jsonl`` go to ``--output`` (a file) or to stdout. A progress
bar runs on stderr. A file that cannot be read or transcribed is reported
there by name with the reason, and the others go on; the exit code is 1 if
any file failed (2 for a bad command line or a model that does not load).

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from tqdm import tqdm

from speechbrain_mmspeech.decoders.hotwords import read_hotwords
from speechbrain_mmspeech.export.folders import LM_FILE, folder_keys
from speechbrain_mmspeech.inference.inputs import InputError, list_inputs
from speechbrain_mmspeech.inference.writers import FORMATS, open_writer

EXIT_FAILED_FILES = 1
EXIT_USAGE = 2


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


def load_asr(args, workdir):
    """Loads the model folder with the command line's options.

    Arguments
    ---------
    args, workdir : argparse.Namespace, pathlib.Path
        The command line, and a scratch folder (links to the model's files).

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


def transcribe_inputs(
    asr, items, writer, batch_size, progress=True, hotwords=None
):
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
    hotwords : list of str
        Words to boost where their pinyin is heard (None: the folder's).

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
                    [signal for _, signal in group], writer.details, hotwords
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
        "--hotwords",
        default=None,
        metavar="FILE",
        help="a UTF-8 file of hotwords, one a line (names, terms): boosted "
        "where the phone head hears their pinyin",
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


def main(argv=None):
    """Entry point of ``mmspeech-transcribe``.

    Arguments
    ---------
    argv : list of str
        The command line, parsed by :func:`parse_args`.

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
            hotwords = None
            if args.hotwords is not None:
                hotwords = read_hotwords(args.hotwords)
            asr = load_asr(args, Path(workdir))
            if hotwords is not None:
                with asr.using_hotwords(hotwords):
                    pass  # checks the list against the model now
        except (InputError, OSError, ValueError) as error:
            print(f"mmspeech-transcribe: {error}", file=sys.stderr)
            return EXIT_USAGE
        writer, stream = open_writer(args)
        try:
            failures = transcribe_inputs(
                asr,
                items,
                writer,
                args.batch_size,
                not args.no_progress,
                hotwords,
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
