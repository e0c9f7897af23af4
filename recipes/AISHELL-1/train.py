#!/usr/bin/env python3
"""Fine-tunes MMSpeech on AISHELL-1: S2T and phone CTC, plus P2T on text.

The official fine-tuning stage: every batch holds labeled utterances, whose
characters the decoder predicts (S2T) and whose pinyin phones the encoder's
phone head learns with CTC (PP), and about half as many sentences of
unpaired text (``text_files``, ``text_batch_ratio``), whose masked phones
the decoder turns into characters (P2T). The Brain and the losses are the
package's (``speechbrain_mmspeech.training.brain``, ``speechbrain_mmspeech.training.tasks``).
At the end, the checkpoints with the best validation accuracy are averaged,
evaluated on the test set (CER), and written as a model folder that
``EncoderDecoderASR.from_hparams`` loads.

The test set can be decoded with a character n-gram LM counted on the text
pool in seconds (``--ngram_lm_weight=0.3``, ``--ngram_order=3``), and with a
language model trained by
``train_lm.py`` (``--lm_mode=fusion`` or ``--lm_mode=rescoring`` with
``--lm_file=.../lm.ckpt``); the model folder then holds them too. Run
again on a finished output folder, the recipe only tests and exports.

To run on real AISHELL-1 (``data_folder`` holds ``wav/`` and
``transcript/``):

    python train.py hparams/finetune.yaml --data_folder=/data/data_aishell

and on the synthetic mini-AISHELL (``mmspeech-mini-aishell``):

    mmspeech-mini-aishell data/mini
    python train.py hparams/finetune.yaml --data_folder=data/mini/data_aishell

(the text pool defaults to mini-AISHELL's ``text_corpus.txt``; on other data
pass ``--text_files=[...]`` or ``--text_batch_ratio=0``).

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
import math
import sys
from pathlib import Path

import speechbrain as sb
from speechbrain.utils.distributed import if_main_process, run_on_main

from speechbrain_mmspeech.dataio.aishell_prepare import prepare_aishell
from speechbrain_mmspeech.dataio.batches import (
    TEXT,
    active_pools,
    finetuning_loader,
    paired_loader_kwargs,
)
from speechbrain_mmspeech.dataio.manifests import read_csv_rows
from speechbrain_mmspeech.dataio.pools import paired_datasets, text_dataset
from speechbrain_mmspeech.dataio.text_pool import (
    prepare_ngram_lm,
    prepare_tokenizer,
    report_unknown_characters,
)
from speechbrain_mmspeech.decoders.scorers import LM_MODE_NONE, LM_MODES
from speechbrain_mmspeech.export.folders import (
    TOKENIZER_FILE,
    values_from_hparams,
    write_model_folder,
)
from speechbrain_mmspeech.training.brain import MMSpeechBrain
from speechbrain_mmspeech.training.checkpoints import (
    load_language_model,
    load_pretrained,
)
from speechbrain_mmspeech.training.distributed import end_process_group
from speechbrain_mmspeech.training.settings import load_hparams

logger = logging.getLogger(__name__)


def prepare_language_model(hparams):
    """Checks ``lm_mode``; loads ``lm_file`` unless the mode is ``none``.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters (``lm_mode``, ``lm_file``,
        ``lm_model``).

    Returns
    -------
    torch.nn.Module or None
        The language model, or None without one.
    """
    lm_mode = hparams["lm_mode"]
    if lm_mode not in LM_MODES:
        raise ValueError(f"lm_mode is {lm_mode!r}; choose one of {LM_MODES}")
    if lm_mode == LM_MODE_NONE:
        return None
    if not hparams["lm_file"]:
        raise ValueError(f"lm_mode {lm_mode} needs lm_file (an lm.ckpt)")
    return load_language_model(hparams["lm_model"], hparams["lm_file"])


def longest_duration(csv_path):
    """The longest utterance of a manifest, in seconds, rounded up to 0.1 s.

    Arguments
    ---------
    csv_path : str
        A manifest with a ``duration`` column.

    Returns
    -------
    float
        The duration.
    """
    longest = max(float(row["duration"]) for row in read_csv_rows(csv_path))
    return math.ceil(longest * 10) / 10


def check_text_files(hparams):
    """Fails early, naming the file, when a text pool file is missing.

    Arguments
    ---------
    hparams : dict
        ``text_files`` and ``text_batch_ratio``.
    """
    for path in hparams["text_files"]:
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"{path}: text pool file not found. mini-AISHELL writes "
                "text_corpus.txt next to data_aishell/; on other data pass "
                "--text_files=[your_text.txt] (one sentence per line), or "
                "--text_batch_ratio=0 to fine-tune without text (P2T off)"
            )


def main(argv):
    """Prepares data, fine-tunes, tests and exports the model folder."""
    hparams_file, run_opts, overrides, hparams = load_hparams(argv)
    sb.utils.distributed.ddp_init_group(run_opts)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    pools = active_pools(hparams)
    if TEXT in pools:
        check_text_files(hparams)

    run_on_main(
        prepare_aishell,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["csv_folder"],
            "skip_prep": hparams["skip_prep"],
        },
    )
    run_on_main(prepare_tokenizer, kwargs={"hparams": hparams})
    hparams["tokenizer"].load(Path(hparams["save_folder"]) / TOKENIZER_FILE)
    report_unknown_characters(hparams, hparams["tokenizer"])
    language_model = prepare_language_model(hparams)
    datasets = paired_datasets(hparams)
    text = text_dataset(hparams) if TEXT in pools else None
    if hparams["max_segment_seconds"] is None:
        hparams["max_segment_seconds"] = longest_duration(hparams["train_csv"])

    if hparams["pretrained_model"]:
        load_pretrained(hparams["model"], hparams["pretrained_model"])

    asr_brain = MMSpeechBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    train_set, train_kwargs = finetuning_loader(
        hparams, datasets["train"], text
    )
    asr_brain.plan_schedule(hparams, train_set, train_kwargs, run_opts)

    asr_brain.fit(
        asr_brain.hparams.epoch_counter,
        train_set,
        datasets["valid"],
        train_loader_kwargs=train_kwargs,
        valid_loader_kwargs=paired_loader_kwargs(
            hparams, datasets["valid"], train=False
        ),
    )
    # Counted once by the main process (cached in save_folder), then loaded
    # by every process.
    run_on_main(prepare_ngram_lm, args=[hparams])
    ngram_lm = prepare_ngram_lm(hparams)
    asr_brain.evaluate(
        datasets["test"],
        max_key="ACC",
        test_loader_kwargs=paired_loader_kwargs(
            hparams, datasets["test"], train=False
        ),
    )
    # run_on_main, not `if if_main_process()`: the tokenizer's save hook
    # broadcasts its result (SpeechBrain's main_process_only), which outside
    # run_on_main waits for the other processes, by then gone.
    folder = run_on_main(
        write_model_folder,
        args=[
            hparams["model_folder"],
            hparams["model"],
            hparams["tokenizer"],
            values_from_hparams(hparams),
        ],
        kwargs={"language_model": language_model, "ngram_lm": ngram_lm},
    )
    if if_main_process():
        cer = asr_brain.test_stats["CER"]
        lm_note = ""
        if hparams["phone_ctc_weight"]:
            lm_note += f", phone CTC weight {hparams['phone_ctc_weight']}"
        if ngram_lm is not None:
            lm_note += (
                f", {hparams['ngram_order']}-gram LM weight "
                f"{hparams['ngram_lm_weight']}"
            )
        if language_model is not None:
            lm_note += (
                f", LM {hparams['lm_mode']} weight {hparams['lm_weight']}"
            )
        print(f"Test CER: {cer:.2f}%{lm_note}  (model folder: {folder})")


if __name__ == "__main__":
    main(sys.argv[1:])
    # After main: its Brain and DDP modules are gone before the group is.
    end_process_group()
