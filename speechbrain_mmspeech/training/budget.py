"""A wall-clock budget for training: as many epochs as fit in the minutes.

``EpochBudget`` times the epochs of a run and, once the first
``measured_epochs`` have finished, fixes how many epochs the run trains: as
many as fit in its budget at the speed measured, at most ``max_epochs``
(the recipe's ``number_of_epochs``). ``ScheduledBrain`` then stops the
epoch counter there and ends the learning-rate schedule with it, so a
slower machine trains fewer epochs on a complete schedule instead of
running out of time in the middle of one.

After that the count can only shrink: at the start of every later epoch,
if the planned epochs no longer fit at the mean speed so far (a machine
that slowed down in the middle of the run), the count drops to what fits
and the schedule ends earlier; it never grows. The count is saved in the
checkpoints, with the seconds spent (those of an epoch cut by a kill
included): a resumed run keeps it.
Only the epochs are timed (training and validation), not the start of the
process before the first one. What follows the last epoch (the test, an
evaluation) can have its share of the minutes kept for it, in epochs at
the measured speed (``reserved_epochs``): its work is of the same kind.

Authors
 * MMSpeech plugin contributors 2026
"""

import json
import logging
import math
import time

from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)

logger = logging.getLogger(__name__)


@register_checkpoint_hooks
class EpochBudget:
    """Fits a run's number of epochs to ``minutes`` of wall-clock time.

    Arguments
    ---------
    minutes : float or None
        The time for all the epochs, training and validation. ``None``
        turns the budget off: the run trains ``max_epochs``.
    max_epochs : int
        The most epochs (the recipe's ``number_of_epochs``).
    reserved_epochs : float
        Time kept out of the minutes for what follows the epochs, in epochs
        at the measured speed.
    measured_epochs : int
        Epochs timed before the count is fixed. The count is fixed when the
        next epoch starts, so that epoch is always trained; each later
        start may lower it (never below the epoch starting).
    clock : callable
        Returns seconds (``time.monotonic``; tests pass a fake clock).

    Example
    -------
    >>> now = [0.0]
    >>> budget = EpochBudget(minutes=10, max_epochs=12, clock=lambda: now[0])
    >>> budget.begin_epoch(1) is None  # nothing measured yet
    True
    >>> now[0] = 130.0  # the first epoch took 130 s of the 600
    >>> budget.begin_epoch(2)
    4
    >>> now[0] = 330.0  # the second took 200 s: 165 s each, 270 s left
    >>> budget.begin_epoch(3)
    3
    """

    def __init__(
        self,
        minutes,
        max_epochs,
        reserved_epochs=0.0,
        measured_epochs=1,
        clock=time.monotonic,
    ):
        self.seconds = None if minutes is None else 60.0 * minutes
        self.max_epochs = int(max_epochs)
        self.reserved_epochs = reserved_epochs
        self.measured_epochs = measured_epochs
        self.clock = clock
        self.spent = 0.0  # seconds of the epochs before the running one
        self.epochs = None  # the fixed count, once measured
        self._started = None  # when the running epoch started

    def begin_epoch(self, epoch, combine=None):
        """Counts the epoch that ended; fixes the count once it is known.

        Arguments
        ---------
        epoch : int
            The epoch starting now (1-based).
        combine : callable, optional
            Maps this process' seconds spent to the value every process
            agrees on (under DDP, their mean), so that all of them fix the
            same count. Called on every process at the same epoch.

        Returns
        -------
        int or None
            The run's number of epochs, or ``None`` while it is not fixed
            (or the budget is off).
        """
        now = self.clock()
        if self._started is not None:
            self.spent += now - self._started
        self._started = now
        finished = epoch - 1
        if self.seconds is None or finished < self.measured_epochs:
            return self.epochs
        if combine is not None:
            self.spent = combine(self.spent)
        fitting = self.fitting_epochs(finished)
        if self.epochs is not None and fitting >= self.epochs:
            return self.epochs
        logger.info(
            "Time budget: %d epochs%s (%.0f s per epoch measured, "
            "%.0f of %.0f s spent)",
            fitting,
            "" if self.epochs is None else f" instead of {self.epochs}",
            self.spent / finished,
            self.spent,
            self.seconds,
        )
        self.epochs = fitting
        return self.epochs

    def fitting_epochs(self, finished):
        """The epochs that fit in the budget at the speed measured so far.

        Arguments
        ---------
        finished : int
            Epochs finished, timed in ``spent``.

        Returns
        -------
        int
            At least ``finished + 1`` (the epoch that is starting), at most
            ``max_epochs``.

        Example
        -------
        >>> budget = EpochBudget(minutes=1, max_epochs=5)
        >>> budget.spent = 25.0
        >>> budget.fitting_epochs(1)  # 35 s left: one more epoch of 25
        2
        >>> budget.spent = 2.0
        >>> budget.fitting_epochs(1)  # capped at max_epochs
        5
        >>> budget.spent, budget.reserved_epochs = 10.0, 1.5
        >>> budget.fitting_epochs(1)  # 15 s kept: 35 s for 3 more
        4
        """
        per_epoch = self.spent / finished
        left = self.seconds - self.spent - self.reserved_epochs * per_epoch
        more = math.floor(left / per_epoch)
        return max(finished + 1, min(self.max_epochs, finished + more))

    @mark_as_saver
    def _save(self, path):
        running = 0.0
        if self._started is not None:
            running = self.clock() - self._started
        state = {"spent": self.spent + running, "epochs": self.epochs}
        with open(path, "w", encoding="utf-8") as out:
            json.dump(state, out)

    @mark_as_loader
    def _recover(self, path, end_of_epoch=True):
        # The time between the save and the kill is lost: the resumed epoch
        # is timed from its new start.
        del end_of_epoch
        with open(path, encoding="utf-8") as state_file:
            state = json.load(state_file)
        self.spent, self.epochs = state["spent"], state["epochs"]
        self._started = None
