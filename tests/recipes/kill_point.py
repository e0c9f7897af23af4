"""Test-only launcher: runs a recipe script and parks it at a chosen point.

``python kill_point.py MARKER POINT SCRIPT ARGS...`` runs ``SCRIPT ARGS...``
as ``python SCRIPT ARGS...`` would, except that at ``POINT`` it writes the
file ``MARKER`` and sleeps, so that a test can SIGKILL it right there:

- ``save:N``: inside the N-th checkpoint save, just after its
  ``model.ckpt`` is written (the checkpoint is half-written);
- ``batch:N``: before the N-th training batch (between checkpoints);
- ``none``: nowhere (the same launcher for the uninterrupted runs).

Under ``torchrun`` every process runs the launcher; only rank 0 parks
(the other ranks then wait for it in their next collective).

The recipes and the package hold no test hook: the points are patched in
here, in the launched process only.

Authors
 * MMSpeech plugin contributors 2026
"""

import os
import runpy
import sys
import time
from pathlib import Path

import torch


def park(marker):
    """Tells the test where we are, then waits to be killed."""
    Path(marker).write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(3600)


def install(marker, point):
    """Patches the stop at ``point`` into this process."""
    if point == "none" or int(os.environ.get("RANK", "0")) != 0:
        return
    kind, count = point.split(":")
    remaining = [int(count)]
    if kind == "save":
        from speechbrain_mmspeech.training.checkpoints import STAGING_PREFIX

        save = torch.save

        def save_then_park(obj, path, *args, **kwargs):
            save(obj, path, *args, **kwargs)
            path = Path(path)
            staged = path.parent.name.startswith(STAGING_PREFIX)
            if staged and path.name == "model.ckpt":
                remaining[0] -= 1
                if remaining[0] == 0:
                    park(marker)

        torch.save = save_then_park
    elif kind == "batch":
        from speechbrain_mmspeech.training.brain import MMSpeechBrain

        fit_batch = MMSpeechBrain.fit_batch

        def park_then_fit(self, batch):
            remaining[0] -= 1
            if remaining[0] == 0:
                park(marker)
            return fit_batch(self, batch)

        MMSpeechBrain.fit_batch = park_then_fit
    else:
        raise ValueError(f"unknown point {point}")


if __name__ == "__main__":
    marker, point, script, *argv = sys.argv[1:]
    install(marker, point)
    sys.path.insert(0, str(Path(script).resolve().parent))
    sys.argv = [script, *argv]
    runpy.run_path(script, run_name="__main__")
