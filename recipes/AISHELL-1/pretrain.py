#!/usr/bin/env python3
"""Pre-trains MMSpeech with its five tasks on unpaired speech, text and pairs.

Every batch combines up to three sub-batches, one per data pool:

- ``speech``: unpaired speech -> S2C (speech-to-code) and MSP (masked speech
  prediction), in one forward pass;
- ``paired``: labeled speech -> S2T (speech-to-text) and PP (phone CTC), in
  one forward pass;
- ``text``: unpaired text -> P2T (phone-to-text).

The sub-batch sizes (``speech_batch_size``, ``paired_batch_size``,
``text_batch_size``; 0 turns a pool off) set the mixing ratio, 4:1:2 by
default as in the official recipe. The loss is the weighted sum of the
tasks' summed losses divided by the number of sentences in the batch (the
official ``--sentence-avg`` criterion); each task's loss per sentence is
logged. An epoch ends when the first pool runs out (SpeechBrain's
``ConcatDatasetBatchSampler``).

Stages, as in the official recipe (``hparams/pretrain.yaml`` serves both;
see ``README.md`` for the commands):

1. P2T only: ``--speech_batch_size=0 --paired_batch_size=0
   --text_batch_size=32 --number_of_epochs=10``;
2. all five tasks, from the stage-1 model: ``--unpaired_speech=<audio>
   --init_model=<stage 1>/model.ckpt``;
3. fine-tuning: ``train.py hparams/finetune.yaml
   --pretrained_model=<stage 2>/model.ckpt
   --architecture="{code_vocab_size: <codes>}"``.

Each stage writes ``<output_folder>/model.ckpt`` (the final weights) and the
``tokenizer.ckpt`` it trained with. A killed run resumes from its last
checkpoint when started again with the same command. S2C needs the
pseudo-code quantizer: it is fitted on the unpaired speech the first time
(``build_codes.py`` does that step alone) and saved to ``codes_file``.

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
import shutil
import sys
import time
from pathlib import Path

import speechbrain as sb
from speechbrain.utils.distributed import if_main_process, run_on_main

from speechbrain_mmspeech.dataio.aishell_prepare import prepare_aishell
from speechbrain_mmspeech.dataio.batches import (
    PAIRED,
    SPEECH,
    TEXT,
    active_pools,
    fixed_mix_loader,
)
from speechbrain_mmspeech.dataio.fileio import save_state_dict
from speechbrain_mmspeech.dataio.pools import (
    paired_datasets,
    speech_dataset,
    text_dataset,
)
from speechbrain_mmspeech.dataio.text_pool import prepare_tokenizer
from speechbrain_mmspeech.dataio.unpaired import (
    prepare_codes,
    prepare_unpaired_speech,
)
from speechbrain_mmspeech.export.folders import MODEL_FILE, TOKENIZER_FILE
from speechbrain_mmspeech.training.brain import MMSpeechBrain
from speechbrain_mmspeech.training.checkpoints import load_pretrained
from speechbrain_mmspeech.training.distributed import end_process_group
from speechbrain_mmspeech.training.settings import load_hparams

logger = logging.getLogger(__name__)


def build_pools(hparams, pools):
    """The dataset of each active pool, in ``POOLS`` order.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters.
    pools : list of str
        Active pools.

    Returns
    -------
    dict
        Pool name -> dataset.
    """
    builders = {
        SPEECH: speech_dataset,
        PAIRED: lambda h: paired_datasets(h)["train"],
        TEXT: text_dataset,
    }
    return {pool: builders[pool](hparams) for pool in pools}


def prepare_pools_on_disk(hparams, pools):
    """Data preparation of the main process: CSVs, tokenizer, codes.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters.
    pools : list of str
        Active pools.
    """
    text_files = {str(path) for path in hparams["text_files"]}
    if hparams["text_files_have_ids"] and text_files & {
        str(path) for path in hparams["tokenizer_extra_text"]
    }:
        raise ValueError(
            "text_files start with utterance ids, which must not enter the "
            "character vocabulary: set tokenizer_extra_text to [] (or to "
            "text without ids)"
        )
    prepare_aishell(
        hparams["data_folder"], hparams["csv_folder"], hparams["skip_prep"]
    )
    save_folder = Path(hparams["save_folder"])
    save_folder.mkdir(parents=True, exist_ok=True)
    if hparams["init_model"]:
        # Continue with the vocabulary of the model we start from.
        previous = Path(hparams["init_model"]).parent / TOKENIZER_FILE
        if previous.is_file() and not (save_folder / TOKENIZER_FILE).exists():
            shutil.copy(previous, save_folder / TOKENIZER_FILE)
    prepare_tokenizer(hparams)
    if SPEECH in pools:
        if not hparams["unpaired_speech"]:
            raise ValueError(
                f"speech_batch_size is {hparams['speech_batch_size']} but "
                "unpaired_speech is not set: give --unpaired_speech=<CSV, "
                "wav.scp or folder>, or --speech_batch_size=0 (stage 1)"
            )
        prepare_unpaired_speech(
            hparams["unpaired_speech"], hparams["csv_folder"]
        )
        prepare_codes(hparams)


def write_outputs(hparams):
    """Writes ``model.ckpt`` and ``tokenizer.ckpt`` to the output folder.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters.

    Returns
    -------
    pathlib.Path
        The written ``model.ckpt``.
    """
    output = Path(hparams["output_folder"])
    save_state_dict(hparams["model"], output / MODEL_FILE)
    shutil.copy(
        Path(hparams["save_folder"]) / TOKENIZER_FILE, output / TOKENIZER_FILE
    )
    return output / MODEL_FILE


def main(argv):
    """Prepares the pools, pre-trains and writes the model."""
    hparams_file, run_opts, overrides, hparams = load_hparams(argv)
    sb.utils.distributed.ddp_init_group(run_opts)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    pools = active_pools(hparams)
    run_on_main(
        prepare_pools_on_disk, kwargs={"hparams": hparams, "pools": pools}
    )
    hparams["tokenizer"].load(Path(hparams["save_folder"]) / TOKENIZER_FILE)
    if SPEECH in pools:
        hparams["quantizer"].load(hparams["codes_file"])
    if hparams["init_model"]:
        load_pretrained(hparams["model"], hparams["init_model"])

    train_set, train_kwargs = fixed_mix_loader(
        hparams, build_pools(hparams, pools)
    )
    brain = MMSpeechBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.plan_schedule(hparams, train_set, train_kwargs, run_opts)
    start = time.perf_counter()
    brain.fit(
        brain.hparams.epoch_counter,
        train_set,
        train_loader_kwargs=train_kwargs,
    )
    elapsed = time.perf_counter() - start
    path = run_on_main(write_outputs, kwargs={"hparams": hparams})
    if if_main_process():
        print(f"Pre-trained model: {path}")
        print(
            f"Training time: {elapsed:.1f} s for "
            f"{brain.hparams.epoch_counter.current} epochs"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
    # After main: its Brain and DDP modules are gone before the group is.
    end_process_group()
