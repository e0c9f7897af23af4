#!/usr/bin/env python3
"""Trains a character-level language model for MMSpeech decoding.

The LM is SpeechBrain's ``TransformerLM`` over the same character ids as
the MMSpeech decoder: its tokenizer is the ``tokenizer.ckpt`` of an ASR run
of ``train.py``. It learns from text only, the files of ``text_files`` plus
(``use_train_transcripts``) the ASR training transcripts, and is validated on
the dev transcripts, reporting the perplexity per token (``</s>``
included). A dev or test transcript among the training sentences stops the
run with an error: the LM would have seen the evaluation text.

At the end, the checkpoint with the lowest dev perplexity is written as
``lm.ckpt``, which ``train.py`` (``--lm_mode=fusion|rescoring
--lm_file=...``) and model folders use.

On mini-AISHELL, after ``run_mini_aishell.sh``:

    python train_lm.py hparams/lm.yaml --asr_output_folder=results/mini_aishell

On AISHELL-1 (no ``text_corpus.txt``; add any text of your own):

    python train_lm.py hparams/lm.yaml --asr_output_folder=results/finetune/1986 \\
        --text_files=[my_text.txt]

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
import math
import sys

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.nnet.losses import compute_length_mask
from speechbrain.utils.distributed import if_main_process, run_on_main

from speechbrain_mmspeech.dataio.fileio import save_state_dict
from speechbrain_mmspeech.dataio.manifests import read_csv_column
from speechbrain_mmspeech.dataio.text_pool import training_sentences
from speechbrain_mmspeech.text import normalize_text
from speechbrain_mmspeech.training.brain import ScheduledBrain
from speechbrain_mmspeech.training.distributed import (
    all_reduce_sum,
    end_process_group,
    shard_evaluation,
    unwrap,
    world_size,
)

logger = logging.getLogger(__name__)

PERPLEXITY = "PPL"


class LM(ScheduledBrain):
    """Language-model Brain: next-character cross-entropy, dev perplexity."""

    def compute_forward(self, batch, stage):
        """Logits of every next character after ``<s>`` and each prefix."""
        batch = batch.to(self.device)
        tokens_bos, _ = batch.tokens_bos
        # Evaluation runs the bare LM: each process scores its own share of
        # the dev batches, possibly one batch more than another, and a DDP
        # forward would broadcast the buffers, a collective that the process
        # without that batch never joins.
        lm_model = self.modules.lm_model
        if stage != sb.Stage.TRAIN:
            lm_model = unwrap(lm_model)
        return lm_model(tokens_bos)

    def compute_objectives(self, predictions, batch, stage):
        """Mean cross-entropy per token; sums it up outside training."""
        tokens_eos, lengths = batch.tokens_eos
        log_probs = torch.log_softmax(predictions, dim=-1)
        loss = sb.nnet.losses.nll_loss(log_probs, tokens_eos, length=lengths)
        if stage != sb.Stage.TRAIN:
            n_tokens = compute_length_mask(tokens_eos, lengths).sum().item()
            self.nll_sum += loss.item() * n_tokens
            self.n_tokens += n_tokens
            self.n_batches += 1
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Times the epochs for the budget; fresh perplexity sums."""
        super().on_stage_start(stage, epoch)
        self.nll_sum, self.n_tokens, self.n_batches = 0.0, 0, 0

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs loss and perplexity; checkpoints; writes ``lm.ckpt``."""
        if stage == sb.Stage.TRAIN:
            # Under DDP every process trains on as many batches.
            (loss_sum,) = all_reduce_sum([stage_loss])
            self.train_stats = {"loss": loss_sum / world_size()}
            return
        # Under DDP each process scored its share of the dev batches.
        nll_sum, n_tokens, loss_sum, n_batches = all_reduce_sum(
            [
                self.nll_sum,
                self.n_tokens,
                stage_loss * self.n_batches,
                self.n_batches,
            ]
        )
        stats = {
            "loss": loss_sum / max(n_batches, 1),
            PERPLEXITY: math.exp(nll_sum / n_tokens),
        }
        if stage == sb.Stage.VALID:
            self.hparams.train_logger.log_stats(
                stats_meta={
                    "epoch": epoch,
                    "lr": self.optimizer.param_groups[0]["lr"],
                },
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(
                meta={PERPLEXITY: stats[PERPLEXITY], "epoch": epoch},
                min_keys=[PERPLEXITY],
            )
        elif stage == sb.Stage.TEST:
            # The TEST stage evaluates the best checkpoint on dev.
            self.hparams.train_logger.log_stats(
                stats_meta={"best epoch": self.best_epoch()},
                valid_stats=stats,
            )
            self.dev_perplexity = stats[PERPLEXITY]
            self.dev_tokens = int(n_tokens)
            run_on_main(
                save_state_dict,
                args=[self.hparams.lm_model, self.hparams.lm_file],
            )

    def best_epoch(self):
        """The epoch of the checkpoint with the lowest dev perplexity."""
        best = self.checkpointer.find_checkpoint(min_key=PERPLEXITY)
        return best.meta["epoch"] if best else None


def load_tokenizer(hparams):
    """Loads the ASR's tokenizer and checks it fits the LM's vocabulary.

    Arguments
    ---------
    hparams : dict
        ``tokenizer``, ``tokenizer_file`` and ``text_vocab_size``.

    Returns
    -------
    speechbrain_mmspeech.tokenizers.CharTokenizer
        The loaded tokenizer.
    """
    tokenizer = hparams["tokenizer"]
    tokenizer.load(hparams["tokenizer_file"])
    if len(tokenizer) != hparams["text_vocab_size"]:
        raise ValueError(
            f"{hparams['tokenizer_file']} has {len(tokenizer)} ids but "
            f"text_vocab_size is {hparams['text_vocab_size']}: set "
            f"--text_vocab_size={len(tokenizer)} (the ASR's)"
        )
    return tokenizer


def make_dataset(sentences, tokenizer):
    """A dataset of ``tokens_bos`` / ``tokens_eos`` pairs.

    Arguments
    ---------
    sentences : list of str
        Normalised sentences.
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        The ASR's tokenizer.

    Returns
    -------
    speechbrain.dataio.dataset.DynamicItemDataset
        Items ``id``, ``tokens_bos`` (``<s>`` + ids), ``tokens_eos``
        (ids + ``</s>``).
    """
    data = {
        f"{index:08d}": {"text": text} for index, text in enumerate(sentences)
    }
    dataset = sb.dataio.dataset.DynamicItemDataset(data)

    @sb.utils.data_pipeline.takes("text")
    @sb.utils.data_pipeline.provides("tokens_bos", "tokens_eos")
    def text_pipeline(text):
        tokens = tokenizer.encode_as_ids(text)
        yield torch.LongTensor([tokenizer.bos_index] + tokens)
        yield torch.LongTensor(tokens + [tokenizer.eos_index])

    dataset.add_dynamic_item(text_pipeline)
    dataset.set_output_keys(["id", "tokens_bos", "tokens_eos"])
    return dataset


def log_corpus(name, sentences, tokenizer):
    """Logs a corpus' size and its share of characters outside the vocabulary.

    Arguments
    ---------
    name : str
        What the corpus is.
    sentences : list of str
        Its normalised sentences.
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        The vocabulary.
    """
    ids = [i for text in sentences for i in tokenizer.encode_as_ids(text)]
    unknown = sum(index == tokenizer.unk_index for index in ids)
    logger.info(
        "%s: %d sentences, %d characters (%.2f%% outside the vocabulary)",
        name,
        len(sentences),
        len(ids),
        100 * unknown / max(len(ids), 1),
    )


def main(argv):
    """Reads the text, trains the LM, writes ``lm.ckpt``; returns the Brain."""
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.utils.distributed.ddp_init_group(run_opts)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    tokenizer = load_tokenizer(hparams)
    train_sentences = training_sentences(hparams)
    valid_sentences = [
        normalize_text(text)
        for text in read_csv_column(hparams["valid_csv"], "transcript")
    ]
    log_corpus("LM training text", train_sentences, tokenizer)
    log_corpus("LM dev text", valid_sentences, tokenizer)

    lm_brain = LM(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    valid_set = make_dataset(valid_sentences, tokenizer)
    # Under DDP each process scores its share of the dev batches.
    valid_kwargs = shard_evaluation(valid_set, hparams["valid_dataloader_opts"])
    lm_brain.fit(
        lm_brain.hparams.epoch_counter,
        make_dataset(train_sentences, tokenizer),
        valid_set,
        train_loader_kwargs=hparams["train_dataloader_opts"],
        valid_loader_kwargs=valid_kwargs,
    )
    lm_brain.evaluate(
        valid_set, min_key=PERPLEXITY, test_loader_kwargs=valid_kwargs
    )
    if if_main_process():
        print(
            f"Dev perplexity: {lm_brain.dev_perplexity:.2f}  "
            f"(language model: {hparams['lm_file']})"
        )
    return lm_brain


if __name__ == "__main__":
    main(sys.argv[1:])
    # After main: its Brain and DDP modules are gone before the group is.
    end_process_group()
