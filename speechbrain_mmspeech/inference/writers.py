"""What ``mmspeech-transcribe`` writes (``--format``).

- ``text``: one ``<id>\\t<text>`` line per file;
- ``jsonl``: one JSON object per file: ``id``, ``path``, and the
  ``Transcription`` (``speechbrain_mmspeech.inference.results``);
- ``srt``: one SubRip file per input in the ``--output`` folder.

Authors
 * MMSpeech plugin contributors 2026
"""

import json
import sys
from pathlib import Path

from speechbrain_mmspeech.inference.inputs import InputError
from speechbrain_mmspeech.inference.results import to_srt

FORMATS = ("text", "jsonl", "srt")


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
    >>> from speechbrain_mmspeech.inference.inputs import AudioInput
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
