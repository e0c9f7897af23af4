"""A SpeechBrain ``Checkpointer`` whose checkpoints appear whole or not at all.

SpeechBrain 1.1's ``Checkpointer.save_checkpoint`` creates
``CKPT+<time>/``, writes its ``CKPT.yaml`` first and the recoverables'
files after it, in place. A folder counts as a checkpoint as soon as its
``CKPT.yaml`` exists, so a process killed in the middle of a save leaves a
checkpoint that recovery takes (it is the most recent one) and then fails
to load, or, for a missing ``dataloader-TRAIN.ckpt``, loads with a warning
and trains the epoch again from its start.

``AtomicCheckpointer`` writes everything, ``CKPT.yaml`` last, into a staging
folder whose name does not start with ``CKPT`` (so that nothing lists it),
flushes the files to disk and renames the folder to its final name, which
is atomic. A killed save leaves only a staging folder, removed by the next
save.

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
import os
import shutil

from speechbrain.utils.checkpoints import (
    DEFAULT_SAVE_HOOKS,
    METAFNAME,
    PARAMFILE_EXT,
    Checkpoint,
    Checkpointer,
    get_default_hook,
)
from speechbrain.utils.distributed import (
    ddp_barrier,
    ddp_broadcast,
    if_main_process,
)

logger = logging.getLogger(__name__)

STAGING_PREFIX = ".staging+"


def _fsync(path):
    """Flushes a file or a folder (its entries) to disk."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) * path.is_dir()
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class AtomicCheckpointer(Checkpointer):
    """A ``Checkpointer`` that never shows a half-written checkpoint.

    Same arguments and use as ``speechbrain.utils.checkpoints.Checkpointer``.

    Arguments
    ---------
    *args : tuple
        ``Checkpointer`` arguments (``checkpoints_dir``, ``recoverables``...).
    **kwargs : dict
        ``Checkpointer`` keyword arguments.

    Example
    -------
    >>> import torch
    >>> tmpdir = getfixture("tmpdir")
    >>> model = torch.nn.Linear(2, 2)
    >>> checkpointer = AtomicCheckpointer(tmpdir, {"model": model})
    >>> checkpoint = checkpointer.save_checkpoint(meta={"loss": 1.0})
    >>> sorted(path.name for path in checkpoint.path.iterdir())
    ['CKPT.yaml', 'model.ckpt']
    >>> checkpointer.find_checkpoint().meta["loss"]
    1.0
    """

    def save_checkpoint(
        self, meta=None, end_of_epoch=True, name=None, verbosity=logging.INFO
    ):
        """Saves a checkpoint: all files into staging, then one rename.

        Arguments
        ---------
        meta : mapping, optional
            Added to the checkpoint's ``CKPT.yaml``.
        end_of_epoch : bool, optional
            Whether the checkpoint is at the end of an epoch.
        name : str, optional
            A custom name (``CKPT+<name>``); a timestamp by default.
        verbosity : int, optional
            Logging level of the "saved" message.

        Returns
        -------
        speechbrain.utils.checkpoints.Checkpoint or None
            The checkpoint on the main process, None on the others.
        """
        meta = meta or {}
        final = staging = None
        if if_main_process():
            self._remove_staging_folders()
            final = (
                self._new_checkpoint_dirpath()
                if name is None
                else self._custom_checkpoint_dirpath(name)
            )
            staging = final.with_name(STAGING_PREFIX + final.name)
            os.makedirs(staging)
        staging = ddp_broadcast(staging, src=0)
        for key, obj in self.recoverables.items():
            savepath = staging / f"{key}{PARAMFILE_EXT}"
            if key in self.custom_save_hooks:
                self.custom_save_hooks[key](obj, savepath)
                continue
            default_hook = get_default_hook(obj, DEFAULT_SAVE_HOOKS)
            if default_hook is None:
                raise RuntimeError(
                    f"Don't know how to save {type(obj)}. Register a default "
                    "hook or add a custom hook for this object."
                )
            default_hook(obj, savepath)
        checkpoint = None
        if if_main_process():
            saved_meta = self._save_checkpoint_metafile(
                staging / METAFNAME, meta, end_of_epoch
            )
            for path in staging.iterdir():
                _fsync(path)
            if final.exists():  # a custom name saved again
                shutil.rmtree(final)
            os.rename(staging, final)
            _fsync(final.parent)
            paramfiles = {
                key: final / f"{key}{PARAMFILE_EXT}"
                for key in self.recoverables
            }
            kind = "end-of-epoch" if end_of_epoch else "intra-epoch"
            logger.log(verbosity, f"Saved an {kind} checkpoint in {final}")
            checkpoint = Checkpoint(final, saved_meta, paramfiles)
        ddp_barrier()
        return checkpoint

    def _remove_staging_folders(self):
        """Removes what saves killed before their rename left behind."""
        if not self.checkpoints_dir.is_dir():
            return
        for path in self.checkpoints_dir.iterdir():
            if path.name.startswith(STAGING_PREFIX) and path.is_dir():
                logger.info("Removing an interrupted checkpoint save: %s", path)
                shutil.rmtree(path)
