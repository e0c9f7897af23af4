"""Tests for speechbrain_mmspeech.training.checkpoints: a killed save is never loaded.

A save is "killed" by a recoverable whose save hook raises in the middle of
the save, after the model's file is written: what is left on disk is what a
SIGKILL at that moment leaves (``tests/recipes/test_crash_recovery.py``
kills real processes).

Authors
 * MMSpeech plugin contributors 2026
"""

import pytest
import torch
from speechbrain.utils.checkpoints import (
    Checkpointer,
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)

from speechbrain_mmspeech.training.checkpoints import (
    STAGING_PREFIX,
    AtomicCheckpointer,
)


class Killed(Exception):
    """Stands for the process being killed."""


@register_checkpoint_hooks
class Fuse:
    """A recoverable whose save raises ``Killed`` once armed."""

    def __init__(self):
        self.armed = False

    @mark_as_saver
    def save(self, path):
        if self.armed:
            raise Killed
        path.write_text("ok", encoding="utf-8")

    @mark_as_loader
    def load(self, path, end_of_epoch):
        assert path.read_text(encoding="utf-8") == "ok"


def interrupted_save(checkpointer_class, folder):
    """One complete save, then one killed after ``model.ckpt``."""
    model, fuse = torch.nn.Linear(2, 2), Fuse()
    # "model" comes before "z_fuse": the model is written, then the kill.
    checkpointer = checkpointer_class(folder, {"model": model, "z_fuse": fuse})
    checkpointer.save_checkpoint(meta={"step": 1})
    fuse.armed = True
    with pytest.raises(Killed):
        checkpointer.save_checkpoint(meta={"step": 2})
    return checkpointer


def test_stock_checkpointer_lists_a_killed_save(tmp_path):
    """Why AtomicCheckpointer exists: SpeechBrain writes CKPT.yaml first."""
    checkpointer = interrupted_save(Checkpointer, tmp_path)
    latest = checkpointer.find_checkpoint()
    assert latest.meta["step"] == 2
    assert "z_fuse" not in latest.paramfiles  # half-written, yet the latest
    # Recovery takes it and fails (KeyError or RuntimeError by version).
    with pytest.raises((KeyError, RuntimeError)):
        checkpointer.recover_if_possible()


def test_atomic_checkpointer_recovers_the_last_complete_save(tmp_path):
    checkpointer = interrupted_save(AtomicCheckpointer, tmp_path)
    staging = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert [p.name.startswith(STAGING_PREFIX) for p in staging] == [True]
    assert (staging[0] / "model.ckpt").is_file()  # killed mid-save
    assert [c.meta["step"] for c in checkpointer.list_checkpoints()] == [1]
    assert checkpointer.recover_if_possible().meta["step"] == 1
    # The next save clears what the killed one left.
    checkpointer.recoverables["z_fuse"].armed = False
    checkpointer.save_checkpoint(meta={"step": 3})
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())
    assert sorted(c.meta["step"] for c in checkpointer.list_checkpoints()) == [
        1,
        3,
    ]


def test_atomic_checkpointer_overwrites_a_named_checkpoint(tmp_path):
    model = torch.nn.Linear(2, 2)
    checkpointer = AtomicCheckpointer(tmp_path, {"model": model})
    checkpointer.save_checkpoint(name="last", meta={"step": 1})
    checkpoint = checkpointer.save_checkpoint(name="last", meta={"step": 2})
    assert checkpoint.path.name == "CKPT+last"
    assert [c.meta["step"] for c in checkpointer.list_checkpoints()] == [2]
