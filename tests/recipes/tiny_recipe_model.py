"""The tiny model size shared by the recipe tests, and how they launch a recipe.

Pre-training and fine-tuning tests pass the same overrides, so that a
checkpoint of one loads into the other. ``run_recipe`` starts a recipe
script as a user would, on one process or on two with torchrun. The test files import this module by
name (pytest's default ``prepend`` import mode puts ``tests/recipes`` on
``sys.path``).

Authors
 * MMSpeech plugin contributors 2026
"""

import subprocess
import sys
from pathlib import Path

RECIPE_DIR = Path(__file__).resolve().parents[2] / "recipes" / "AISHELL-1"
TEXT_VOCAB = 120
# The architecture keys the tiny model changes in the recipes' CPU preset.
TINY_ARCHITECTURE = {
    "d_model": 32,
    "nhead": 2,
    "num_encoder_layers": 2,
    "num_decoder_layers": 1,
    "d_ffn": 64,
    "subsample_channels": 8,
    "context_layer": 1,
    "pos_conv_depth": 2,
    "pos_conv_kernel": 5,
    "pos_conv_groups": 4,
    "text_vocab_size": TEXT_VOCAB,
    "max_positions": 64,
    "rel_pos_bucket_size": 16,
}


def tiny_architecture(**changes):
    """The tiny model as one ``--architecture`` override (and ``changes``).

    Arguments
    ---------
    **changes
        Other architecture keys, e.g. ``code_vocab_size=40``.

    Returns
    -------
    str
        ``--architecture={d_model: 32, ...}``.
    """
    keys = {**TINY_ARCHITECTURE, **changes}
    return (
        "--architecture={"
        + ", ".join(f"{k}: {v}" for k, v in keys.items())
        + "}"
    )


TINY_MODEL = [tiny_architecture()]

# Overrides that turn off dropout and the random masks, so that runs that
# differ in how they are split (processes, a kill and a restart) can end
# with the same weights: the random generators' states are not checkpointed.
DETERMINISTIC = [
    "--dropout=0.0",
    "--drop_path=0.0",
    "--s2t_time_mask_prob=0.0",
    "--p2t_mask_ratio=0.0",
    "--p2t_random_ratio=0.0",
]
# With DETERMINISTIC for fine-tuning (hparams/finetune.yaml): no random
# augmentation of the labeled speech.
NO_AUGMENTATION = ["--wav_augment_prob=0.0", "--fea_augment_prob=0.0"]
# Pre-training stage 1 (P2T on the text pool alone) with hparams/pretrain.yaml.
STAGE1 = ["--speech_batch_size=0", "--paired_batch_size=0"]
# Two processes on this machine, as a user starts DDP.
TORCHRUN = [
    "-m",
    "torch.distributed.run",
    "--standalone",
    "--nproc_per_node=2",
]


def run_recipe(script, *args, processes=1):
    """Runs a recipe script from its folder; returns its standard output.

    Arguments
    ---------
    script : str
        The script's file name (``train.py``, ...).
    *args
        Its arguments (paths are turned into strings).
    processes : int
        1, or 2: through ``TORCHRUN`` with the gloo backend.

    Returns
    -------
    str
        What it printed; a failed run fails the test with its exit code,
        the end of its standard output (where the run stopped) and of its
        standard error.
    """
    launcher = TORCHRUN if processes == 2 else []
    ddp = ["--distributed_backend=gloo"] if processes == 2 else []
    command = [sys.executable, *launcher, script, *map(str, args), *ddp]
    result = subprocess.run(
        command, cwd=RECIPE_DIR, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout[-2000:]}"
        f"\nstderr:\n{result.stderr[-4000:]}"
    )
    return result.stdout
