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

Loading state dicts: ``load_pretrained`` (a pre-trained model, missing
parameters allowed), ``load_language_model`` (an ``lm.ckpt``, strictly) and
``average_best_checkpoints`` (the best checkpoints' mean, before testing).

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
import os
import shutil

import speechbrain as sb
import torch
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

from speechbrain_mmspeech.dataio.fileio import fsync_path, fsync_path_entries

logger = logging.getLogger(__name__)

STAGING_PREFIX = ".staging+"


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
                fsync_path(path)
            if final.exists():  # a custom name saved again
                shutil.rmtree(final)
            os.rename(staging, final)
            fsync_path_entries(final.parent)
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


def load_pretrained(model, path):
    """Starts from a pre-trained MMSpeech state dict (e.g. a model.ckpt).

    Arguments
    ---------
    model : torch.nn.Module
        The model to fill.
    path : str or pathlib.Path
        A ``torch.save``d state dict of the same architecture.

    Raises
    ------
    ValueError
        If the file holds parameters the model does not have.
    """
    state = torch.load(path, map_location="cpu")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise ValueError(f"{path}: unexpected parameters {unexpected[:5]} ...")
    logger.info(
        "Loaded %s (%d parameters left as initialised)", path, len(missing)
    )


def average_best_checkpoints(
    checkpointer, model, count, max_key=None, min_key=None
):
    """Loads the average of the best checkpoints' ``model`` into ``model``.

    Arguments
    ---------
    checkpointer : speechbrain.utils.checkpoints.Checkpointer
        Its checkpoints have a ``model`` recoverable.
    model : torch.nn.Module
        That recoverable (the bare module, not a DDP wrapper).
    count : int
        How many of the best checkpoints to average.
    max_key : str
        Meta key to maximise (e.g. ``"ACC"``).
    min_key : str
        Meta key to minimise (e.g. ``"CER"``).

    Returns
    -------
    int
        The number of checkpoints averaged (0: none found, model unchanged).

    Example
    -------
    >>> from speechbrain_mmspeech.training.checkpoints import AtomicCheckpointer
    >>> model = torch.nn.Linear(1, 1, bias=False)
    >>> checkpointer = AtomicCheckpointer(
    ...     getfixture("tmpdir"), {"model": model}
    ... )
    >>> for value, cer in [(1.0, 9.0), (2.0, 5.0), (4.0, 3.0)]:
    ...     _ = model.weight.data.fill_(value)
    ...     _ = checkpointer.save_checkpoint(meta={"CER": cer})
    >>> average_best_checkpoints(checkpointer, model, 2, min_key="CER")
    2
    >>> model.weight.item()
    3.0
    """
    checkpoints = checkpointer.find_checkpoints(
        max_key=max_key, min_key=min_key, max_num_checkpoints=count
    )
    if not checkpoints:
        return 0
    averaged = sb.utils.checkpoints.average_checkpoints(
        checkpoints, recoverable_name="model"
    )
    model.load_state_dict(averaged, strict=True)
    logger.info("Averaged %d checkpoints for testing", len(checkpoints))
    return len(checkpoints)


def load_language_model(language_model, path):
    """Loads an ``lm.ckpt`` (a state dict) into a language model, strictly.

    Arguments
    ---------
    language_model : torch.nn.Module
        The LM, built with the sizes it was trained with.
    path : str or pathlib.Path
        The ``lm.ckpt`` written by ``recipes/AISHELL-1/train_lm.py``.

    Returns
    -------
    torch.nn.Module
        The LM, in eval mode.

    Example
    -------
    >>> from speechbrain_mmspeech.lobes.models.transformer_lm import (
    ...     TransformerLM,
    ... )
    >>> lm = TransformerLM(
    ...     vocab=8, d_model=16, nhead=2, num_encoder_layers=1, d_ffn=32
    ... )
    >>> path = getfixture("tmp_path") / "lm.ckpt"
    >>> torch.save(lm.state_dict(), path)
    >>> load_language_model(lm, path).training
    False
    """
    state = torch.load(path, map_location="cpu")
    try:
        language_model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ValueError(
            f"{path} does not fit the language model built from the hparams "
            f"(its sizes must be the ones it was trained with): {error}"
        ) from error
    return language_model.eval()
