"""Recipe test: train.py and pretrain.py killed with SIGKILL, then restarted.

Each run is started through ``kill_point.py`` (a test-only launcher that
parks the process at a chosen point) and killed with SIGKILL:

- in the middle of an intra-epoch checkpoint save, after its ``model.ckpt``
  is written and before the rest;
- between two checkpoints, in the middle of an epoch.

The same command is then started again. It must finish, must resume from a
complete checkpoint (never from the interrupted save), and must end with
the weights of an uninterrupted run, bit for bit. Dropout and the random
masks are off: the random number generators' states are not checkpointed,
so with them on a resumed run draws other numbers than an uninterrupted one.

The recipes: fine-tuning (``train.py hparams/finetune.yaml``) on one
process and on 2 (``torchrun``, gloo), and stage 1 of pre-training
(``pretrain.py hparams/pretrain.yaml``, stage 1: P2T on the unpaired text).
Under ``torchrun`` the kill point is rank 0's, and the launcher and both
workers are killed together (``torchrun`` starts each worker in a session
of its own, so they share no process group).

Authors
 * MMSpeech plugin contributors 2026
"""

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from tiny_recipe_model import (
    DETERMINISTIC,
    NO_AUGMENTATION,
    STAGE1,
    TORCHRUN,
    tiny_architecture,
)

RECIPE_DIR = Path(__file__).resolve().parents[2] / "recipes" / "AISHELL-1"
LAUNCHER = Path(__file__).resolve().parent / "kill_point.py"
KILL_TIMEOUT = 600  # seconds to reach the kill point (slow shared CI)

# 3 train speakers x 5 utterances, 1 dev and 1 test speaker.
CRASH_CORPUS = {
    "seed": 17,
    "n_train_speakers": 3,
    "n_dev_speakers": 1,
    "n_test_speakers": 1,
    "utts_per_speaker": 5,
}
RECOVERABLES = {
    "CKPT.yaml",
    "model.ckpt",
    "optimizer.ckpt",
    "lr_annealing.ckpt",
    "counter.ckpt",
    "task_losses.ckpt",
    "dataloader-TRAIN.ckpt",
    "brain.ckpt",
}


@dataclass(frozen=True)
class Recipe:
    """A recipe command and where its run leaves what the test checks.

    Arguments
    ---------
    script : str
        The script in ``recipes/AISHELL-1``.
    args : callable
        ``args(corpus)``: the script's arguments for the generated corpus.
    model_file : str
        The exported model, relative to the output folder.
    recoverables : frozenset
        The files of each of its checkpoints.
    """

    script: str
    args: object
    model_file: str
    recoverables: frozenset = frozenset(RECOVERABLES)


def finetune_args(corpus):
    """Fine-tuning: 2 epochs of 9 batches, with a time budget that one
    epoch spends (its count, fixed at the start of epoch 2, is 2 whatever
    the machine): the budget's state goes through the kill too."""
    return [
        "hparams/finetune.yaml",
        f"--data_folder={corpus / 'data_aishell'}",
        "--max_batch_length_train=6",
        "--max_text_sentences=32",
        "--tokenizer_extra_text=[]",
        "--valid_search_interval=2",
        "--beam_size=2",
        "--training_minutes=0.0001",
        *NO_AUGMENTATION,
    ]


def pretrain_stage1_args(corpus):
    """Stage 1 of pre-training: 2 epochs of 8 text batches."""
    return [
        "hparams/pretrain.yaml",
        *STAGE1,
        f"--data_folder={corpus / 'data_aishell'}",
        f"--text_files=[{corpus / 'unpaired_text.txt'}]",
        "--max_text_sentences=32",
        "--text_batch_size=4",
    ]


RECIPES = {
    "train": Recipe(
        "train.py",
        finetune_args,
        "model/model.ckpt",
        frozenset(RECOVERABLES | {"epoch_budget.ckpt"}),
    ),
    "pretrain_stage1": Recipe(
        "pretrain.py", pretrain_stage1_args, "model.ckpt"
    ),
}


@pytest.fixture(scope="module")
def crash_corpus(tmp_path_factory):
    """A mini-AISHELL of a few utterances, with its unpaired text."""
    from speechbrain_mmspeech.mini_aishell import generate_mini_aishell

    output = tmp_path_factory.mktemp("crash_aishell")
    generate_mini_aishell(output, **CRASH_CORPUS)
    return output


def command(recipe, corpus, output, marker, point, processes):
    """The recipe through the launcher, checkpointing every 2 batches."""
    launcher = TORCHRUN if processes == 2 else []
    ddp = ["--distributed_backend=gloo"] if processes == 2 else []
    return [
        sys.executable,
        *launcher,
        str(LAUNCHER),
        str(marker),
        point,
        recipe.script,
        *recipe.args(corpus),
        f"--output_folder={output}",
        "--number_of_epochs=2",
        "--device=cpu",
        "--noprogressbar",
        "--ckpt_interval_minutes=0",
        "--ckpt_interval_steps=2",
        *DETERMINISTIC,
        # No audio codes: stage 1 writes the model fine-tuning reads.
        tiny_architecture(code_vocab_size=0),
        *ddp,
    ]


def run_to_end(recipe, corpus, output, processes):
    """Runs the recipe (no kill point); returns its log."""
    result = subprocess.run(
        command(recipe, corpus, output, output / "unused", "none", processes),
        cwd=RECIPE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return (output / "log.txt").read_text(encoding="utf-8")


def process_tree(pid):
    """``pid`` and the ids of all its descendants (read from ``/proc``)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process has ended
            continue
        # pid (comm) state ppid ...; comm may hold spaces and parentheses
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo.extend(children.get(tree[-1], []))
    return tree


def kill_tree(pids):
    """SIGKILLs every process of ``pids`` that still runs."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def running(pid):
    """Whether ``pid`` runs (neither gone nor a zombie)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text.rsplit(")", 1)[1].split()[0] != "Z"


def run_and_kill(recipe, corpus, output, point, processes):
    """Starts the recipe, SIGKILLs it at ``point``; returns the seconds."""
    marker = output.parent / f"{output.name}.parked"
    process = subprocess.Popen(
        command(recipe, corpus, output, marker, point, processes),
        cwd=RECIPE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    start = time.monotonic()
    try:
        while not marker.exists():
            assert process.poll() is None, "finished before the kill point"
            assert time.monotonic() - start < KILL_TIMEOUT, "no kill point"
            time.sleep(0.2)
        tree = process_tree(process.pid)
        kill_tree(tree)
        process.wait()
    finally:
        if process.poll() is None:
            tree = process_tree(process.pid)
            kill_tree(tree)
            process.wait()
    assert process.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30  # the workers die (a signal is async)
    while any(running(pid) for pid in tree[1:]):
        assert time.monotonic() < deadline, "a worker survived SIGKILL"
        time.sleep(0.1)
    return time.monotonic() - start


def checkpoints(output):
    """Names of the checkpoint folders, and of the staging folders."""
    names = [path.name for path in (output / "save").iterdir()]
    ckpts = sorted(n for n in names if n.startswith("CKPT+"))
    staging = sorted(n for n in names if n.startswith("."))
    return ckpts, staging


def final_weights(recipe, output):
    """The exported model's weights and the last checkpoint's."""
    from speechbrain_mmspeech.training.checkpoints import AtomicCheckpointer

    last = AtomicCheckpointer(output / "save").find_checkpoint()
    return [
        torch.load(path, map_location="cpu")
        for path in (output / recipe.model_file, last.paramfiles["model"])
    ]


@pytest.fixture(scope="module")
def uninterrupted(crash_corpus, tmp_path_factory):
    """``weights(name, processes)``: an uninterrupted run's weights."""
    cache = {}

    def weights(name, processes):
        if (name, processes) not in cache:
            output = tmp_path_factory.mktemp("crash") / f"{name}{processes}"
            run_to_end(RECIPES[name], crash_corpus, output, processes)
            cache[name, processes] = final_weights(RECIPES[name], output)
        return cache[name, processes]

    return weights


def assert_same(weights, reference):
    for state, expected in zip(weights, reference):
        assert state.keys() == expected.keys()
        for key in state:
            assert torch.equal(state[key], expected[key]), key


@pytest.mark.parametrize(
    ("name", "processes", "point"),
    [
        ("train", 1, "save:3"),
        ("train", 1, "batch:7"),
        ("pretrain_stage1", 1, "save:3"),
        ("pretrain_stage1", 1, "batch:7"),
        # 5 batches per process and epoch: save 2 is the one after batch 4.
        ("train", 2, "save:2"),
        ("train", 2, "batch:4"),
    ],
)
def test_killed_run_resumes_to_the_uninterrupted_weights(
    crash_corpus, uninterrupted, tmp_path, name, processes, point
):
    recipe = RECIPES[name]
    output = tmp_path / "killed"
    run_and_kill(recipe, crash_corpus, output, point, processes)
    ckpts, staging = checkpoints(output)
    # Every listed checkpoint is whole; a killed save is only staged.
    for ckpt in ckpts:
        files = {p.name for p in (output / "save" / ckpt).iterdir()}
        assert files == recipe.recoverables, (ckpt, files)
    if point.startswith("save"):
        assert len(staging) == 1
        staged = {p.name for p in (output / "save" / staging[0]).iterdir()}
        assert "model.ckpt" in staged and "CKPT.yaml" not in staged
    else:
        assert staging == []
    log = run_to_end(recipe, crash_corpus, output, processes)
    loaded = re.findall(r"Loading a checkpoint from (\S+)", log)
    assert loaded and Path(loaded[0]).name == ckpts[-1]
    assert checkpoints(output)[1] == []  # the staging folder is gone
    reference = uninterrupted(name, processes)
    assert_same(final_weights(recipe, output), reference)
