"""Reading the converter's input files safely, and the error every step raises.

Checkpoints are loaded with ``torch.load(weights_only=True)``: no pickled
code runs. Old fairseq ``args`` (``argparse.Namespace``) are allowed, and any
other non-tensor object a checkpoint pickles (training meters, numpy
scalars ...) becomes an inert ``UnreadableObject``. JSON and YAML files are
parsed with ``json`` and ``yaml.safe_load``. Every problem is a
``ConversionError`` whose message names the file.

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import json
from collections.abc import Mapping
from pathlib import Path

import torch
import yaml

# File suffix -> (name, parser, the parser's error type).
MAPPING_FORMATS = {
    ".json": ("JSON", json.loads, ValueError),
    ".yaml": ("YAML", yaml.safe_load, yaml.YAMLError),
}


class ConversionError(ValueError):
    """A checkpoint that cannot be converted; the message names the cause."""


class UnreadableObject:
    """Stands for a pickled object whose class we do not import.

    Checkpoints carry training state (fairseq meters, numpy scalars ...)
    that the conversion never needs; loading replaces each such object by
    this inert placeholder instead of running foreign code.

    Arguments
    ---------
    *args : tuple
        Constructor arguments recorded by the pickle (kept, never used).
    **kwargs : dict
        Ignored.

    Example
    -------
    >>> UnreadableObject(1, 2).args
    (1, 2)
    """

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        """Keeps the pickled state without interpreting it."""
        self.state = state


def load_torch_file(path):
    """Loads a ``torch.save`` file without running code from it.

    The file is read with ``weights_only=True``; ``argparse.Namespace`` (old
    fairseq ``args``) is allowed, and any other non-tensor class is replaced
    by ``UnreadableObject``.

    Arguments
    ---------
    path : str or Path
        A ``pytorch_model.bin`` or fairseq ``.pt`` file.

    Returns
    -------
    object
        The unpickled content.

    Example
    -------
    >>> load_torch_file("missing.pt")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: missing.pt: no such file
    """
    path = require_file(Path(path))
    allowed = [argparse.Namespace]
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # Legacy or broken files: torch.load reports it.
        names = []
    allowed += [
        (UnreadableObject, name)
        for name in names
        if name != "argparse.Namespace"
    ]
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:
        raise ConversionError(
            f"{path}: cannot be read as a PyTorch checkpoint (truncated or "
            f"corrupt file?): {error}"
        ) from None


def tensor_dict(content, path, what):
    """Checks that a loaded object is a ``{name: tensor}`` state dict.

    Arguments
    ---------
    content : object
        What was loaded.
    path : str or Path
        Its file (for messages).
    what : str
        What it should be (for messages).

    Returns
    -------
    dict
        The state dict.

    Example
    -------
    >>> tensor_dict({"a": torch.ones(1)}, "x.bin", "weights")["a"]
    tensor([1.])
    """
    if not isinstance(content, Mapping):
        raise ConversionError(
            f"{path}: {what} should be a dict of tensors, found "
            f"{type(content).__name__}"
        )
    for key, value in content.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ConversionError(
                f"{path}: {what} entry {key!r} is not a named tensor "
                f"({type(value).__name__})"
            )
    return dict(content)


def read_mapping(path):
    """Reads a JSON object or YAML mapping file, naming the file in errors.

    Arguments
    ---------
    path : Path
        The file; ``.json`` is parsed as JSON, anything else as YAML.

    Returns
    -------
    dict
        Its content.

    Example
    -------
    >>> read_mapping(Path("missing.json"))
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: missing.json: no such file
    """
    require_file(path)
    kind, parse, parse_error = MAPPING_FORMATS.get(
        path.suffix, MAPPING_FORMATS[".yaml"]
    )
    try:
        content = parse(path.read_text(encoding="utf-8"))
    except (parse_error, UnicodeDecodeError) as error:
        raise ConversionError(f"{path}: not valid {kind} ({error})") from None
    if not isinstance(content, dict):
        raise ConversionError(f"{path}: expected a {kind} mapping")
    return content


def require_file(path, what=None):
    """Checks that one input file exists.

    Arguments
    ---------
    path : Path
        The file.
    what : str
        What it holds, added to the message (None: nothing).

    Returns
    -------
    Path
        The same path.

    Example
    -------
    >>> require_file(Path("stats.npz"), "CMVN stats")
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: stats.npz: no such file (CMVN stats)
    """
    if not path.is_file():
        detail = f" ({what})" if what else ""
        raise ConversionError(f"{path}: no such file{detail}")
    return path


def require_files(paths):
    """Checks that every input file exists.

    Arguments
    ---------
    paths : dict
        ``{role: Path}``.

    Returns
    -------
    dict
        The same paths.

    Example
    -------
    >>> require_files({"vocabulary": Path("no_vocab.txt")})
    Traceback (most recent call last):
    ...
    speechbrain_mmspeech.convert.reading.ConversionError: Missing input file(s): no_vocab.txt (vocabulary)
    """
    missing = [
        f"{path} ({role})" for role, path in paths.items() if not path.is_file()
    ]
    if missing:
        raise ConversionError("Missing input file(s): " + ", ".join(missing))
    return paths
