"""Writing files so that a crash leaves either the old files or the new ones.

``write_atomically`` writes every file (or folder) into a hidden staging
folder next to its destination and only then moves them into place with
``os.replace``, which is atomic on one file system; the files are flushed
to disk (``fsync``) before they move and the folder after, so a power cut
cannot leave a renamed but empty file. The staging folder is removed
whether the writing succeeds or fails, so a failure leaves nothing behind.
The model folder export, the checkpoint converter, the hub model card, the
data CSVs (``write_csv``) and every state dict (``save_state_dict``) write
through it; ``training.checkpoints.AtomicCheckpointer`` uses ``fsync_path``.

Authors
 * MMSpeech plugin contributors 2026
"""

import csv
import os
import shutil
import tempfile
from pathlib import Path

import torch

STAGING_PREFIX = ".staging."


def fsync_path(path):
    """Flushes a file, or a folder and its entries, to disk.

    Arguments
    ---------
    path : pathlib.Path
        A file or a folder (a folder's files are flushed too).
    """
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            fsync_path(child)
    elif path.is_symlink():
        return
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) * path.is_dir()
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(folder, writers):
    """Writes files through a hidden staging folder, then moves them in place.

    Every writer runs before any destination changes; then each result
    replaces its destination (an existing folder is removed first, so that
    step alone is not atomic for folders).

    Arguments
    ---------
    folder : str or Path
        Where the files go (created if needed).
    writers : dict
        ``{name: write}``; ``write(path)`` creates the file or folder
        ``path``, which does not exist yet.

    Returns
    -------
    list of pathlib.Path
        The written paths, in the order of ``writers``.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> written = write_atomically(
    ...     folder, {"a.txt": lambda p: p.write_text("new")}
    ... )
    >>> [path.name for path in written]
    ['a.txt']
    >>> def fail(path):
    ...     raise OSError("disk full")
    >>> write_atomically(
    ...     folder, {"a.txt": lambda p: p.write_text("x"), "b": fail}
    ... )
    Traceback (most recent call last):
    ...
    OSError: disk full
    >>> sorted(p.name for p in folder.iterdir()), (folder / "a.txt").read_text()
    (['a.txt'], 'new')
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
    try:
        for name, write in writers.items():
            write(staging / name)
            fsync_path(staging / name)
        for name in writers:
            destination = folder / name
            if destination.is_dir() and not destination.is_symlink():
                shutil.rmtree(destination)
            os.replace(staging / name, destination)
        fsync_path_entries(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [folder / name for name in writers]


def write_csv(path, header, rows):
    """Writes a CSV (header, then rows) atomically, as SpeechBrain reads it.

    Arguments
    ---------
    path : str or Path
        Destination (its folder is created if needed).
    header : sequence of str
        Column names (SpeechBrain's data CSVs start with ``ID``).
    rows : iterable of sequence
        One sequence of values per row.

    Example
    -------
    >>> path = getfixture("tmp_path") / "dev.csv"
    >>> _ = write_csv(path, ["ID", "duration"], [("U1", 1.5)])
    >>> print(path.read_text(encoding="utf-8"), end="")
    ID,duration
    U1,1.5
    """
    path = Path(path)

    def write(target):
        with open(target, "w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)

    return write_atomically(path.parent, {path.name: write})[0]


def fsync_path_entries(folder):
    """Flushes a folder's entries (names), not its files' contents."""
    descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def state_on_cpu(module):
    """A module's state dict with every tensor on the CPU.

    Arguments
    ---------
    module : torch.nn.Module

    Returns
    -------
    dict
    """
    return {key: value.cpu() for key, value in module.state_dict().items()}


def save_state_dict(module, path):
    """Writes a module's state dict (on the CPU) atomically, the one way.

    Arguments
    ---------
    module : torch.nn.Module
        The module (its state is taken now).
    path : str or pathlib.Path
        The file (``model.ckpt``, ``lm.ckpt``, ...).

    Returns
    -------
    pathlib.Path
        The written file.

    Example
    -------
    >>> path = getfixture("tmp_path") / "model.ckpt"
    >>> _ = save_state_dict(torch.nn.Linear(2, 1), path)
    >>> sorted(torch.load(path))
    ['bias', 'weight']
    """
    path = Path(path)
    state = state_on_cpu(module)
    writer = {path.name: lambda target: torch.save(state, target)}
    return write_atomically(path.parent, writer)[0]
