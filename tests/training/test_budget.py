"""Tests for speechbrain_mmspeech.training.budget: epochs fitted to minutes.

A fake clock stands for the time, so the tests neither sleep nor depend on
the machine.

Authors
 * MMSpeech plugin contributors 2026
"""

from speechbrain_mmspeech.training.budget import EpochBudget


class FakeClock:
    """Seconds that the test moves on."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_no_budget_never_fixes_a_count():
    clock = FakeClock()
    budget = EpochBudget(minutes=None, max_epochs=3, clock=clock)
    for epoch in (1, 2, 3):
        clock.now += 100.0
        assert budget.begin_epoch(epoch) is None


def test_count_is_fixed_once_from_the_measured_epochs():
    clock = FakeClock()
    budget = EpochBudget(
        minutes=10, max_epochs=20, measured_epochs=2, clock=clock
    )
    assert budget.begin_epoch(1) is None
    clock.now = 50.0
    assert budget.begin_epoch(2) is None  # one epoch measured of two
    clock.now = 150.0  # epochs of 50 and 100 s: 75 s each, 450 s left
    assert budget.begin_epoch(3) == 8
    clock.now = 200.0  # a faster epoch does not add any
    assert budget.begin_epoch(4) == 8


def test_a_machine_that_slows_down_trains_fewer_epochs():
    # The first epoch (60 s) fixes 10 of 600 s; then epochs take 90 s.
    clock = FakeClock()
    budget = EpochBudget(minutes=10, max_epochs=20, clock=clock)
    budget.begin_epoch(1)
    counts = []
    for epoch, seconds in enumerate([60, 90, 90, 90, 90, 90], start=2):
        clock.now += seconds
        counts.append(budget.begin_epoch(epoch))
    assert counts == [10, 8, 7, 7, 7, 7]
    assert clock.now + 90 <= 600  # the last epoch, 7, ends in time


def test_a_slowdown_never_cuts_the_starting_epoch():
    clock = FakeClock()
    budget = EpochBudget(minutes=10, max_epochs=20, clock=clock)
    budget.begin_epoch(1)
    clock.now = 60.0
    assert budget.begin_epoch(2) == 10
    clock.now = 5000.0  # far over the budget
    assert budget.begin_epoch(3) == 3


def test_the_starting_epoch_is_always_trained():
    clock = FakeClock()
    budget = EpochBudget(minutes=1, max_epochs=5, clock=clock)
    budget.begin_epoch(1)
    clock.now = 90.0  # over the budget already
    assert budget.begin_epoch(2) == 2


def test_processes_plan_from_the_combined_time():
    clock = FakeClock()
    budget = EpochBudget(minutes=10, max_epochs=20, clock=clock)
    budget.begin_epoch(1)
    clock.now = 60.0
    # The other process took 140 s: the mean, 100 s, sets the count.
    assert budget.begin_epoch(2, combine=lambda spent: (spent + 140) / 2) == 6


def test_a_killed_epoch_keeps_its_time_across_the_resume(tmp_path):
    clock = FakeClock()
    budget = EpochBudget(minutes=10, max_epochs=20, clock=clock)
    budget.begin_epoch(1)
    clock.now = 40.0
    budget._save(tmp_path / "budget.json")  # an intra-epoch checkpoint
    clock.now = 45.0  # then the kill: these 5 s are lost

    resumed_clock = FakeClock()
    resumed = EpochBudget(minutes=10, max_epochs=20, clock=resumed_clock)
    resumed._recover(tmp_path / "budget.json", end_of_epoch=False)
    resumed.begin_epoch(1)  # epoch 1 again, from its last batch
    resumed_clock.now = 60.0  # its other 60 s
    # 100 s per epoch, 500 s left.
    assert resumed.begin_epoch(2) == 6
    resumed._save(tmp_path / "budget.json")

    again = EpochBudget(minutes=10, max_epochs=20, clock=FakeClock())
    again._recover(tmp_path / "budget.json")
    assert again.epochs == 6
