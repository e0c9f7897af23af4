"""Fixtures for the AISHELL-1 recipe tests: import path and kill-and-resume.

The recipe scripts are not a package, so ``recipes/AISHELL-1`` is put on
``sys.path``. The tiny mini-AISHELL corpus comes from ``tests/conftest.py``.

Authors
 * MMSpeech plugin contributors 2026
"""

import sys
from pathlib import Path

import pytest

RECIPE_DIR = Path(__file__).resolve().parents[2] / "recipes" / "AISHELL-1"
if str(RECIPE_DIR) not in sys.path:
    sys.path.insert(0, str(RECIPE_DIR))


class Killed(Exception):
    """Stands for the process being killed in the middle of a batch."""


@pytest.fixture
def kill_and_resume(monkeypatch):
    """Checks that a run killed in epoch 2 resumes without losing a batch.

    The returned function runs a recipe three times, recording the
    ``(epoch, batch ids)`` of every ``fit_batch`` call: once uninterrupted,
    once killed inside the 5th batch of epoch 2, and once more in the killed
    run's output folder, which must resume from its last checkpoint. The
    recipe must save a checkpoint every 2 steps
    (``--ckpt_interval_steps=2``), so that the last one was taken after the
    4th batch of epoch 2. The batches before the kill and after the resume
    must be those of the uninterrupted run, in the same order.

    Arguments
    ---------
    monkeypatch : pytest.MonkeyPatch
        Patches ``fit_batch`` for the three runs.

    Returns
    -------
    callable
        ``check(brain_class, main, argv, folder)``: ``brain_class`` is the
        recipe's Brain class, ``main`` its entry point, ``argv(output)`` the
        command line of a run into ``output``; the runs write to
        ``folder / "uninterrupted"`` and ``folder / "killed"``. Returns the
        number of batches of an epoch.
    """

    def check(brain_class, main, argv, folder):
        original = brain_class.fit_batch

        def record_batches(into, kill_at=None):
            def fit_batch(self, batch):
                if len(into) == kill_at:
                    raise Killed
                into.append(
                    (self.hparams.epoch_counter.current, tuple(batch.id))
                )
                return original(self, batch)

            monkeypatch.setattr(brain_class, "fit_batch", fit_batch)

        reference = []
        record_batches(reference)
        main(argv(folder / "uninterrupted"))
        batches_per_epoch = sum(1 for epoch, _ in reference if epoch == 1)
        assert batches_per_epoch >= 5, "the kill must fall inside epoch 2"

        before_kill = []
        record_batches(before_kill, kill_at=batches_per_epoch + 4)
        with pytest.raises(Killed):
            main(argv(folder / "killed"))
        after_resume = []
        record_batches(after_resume)
        main(argv(folder / "killed"))

        assert before_kill + after_resume == reference
        return batches_per_epoch

    return check
