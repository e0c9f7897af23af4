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

Stages, as in the official recipe (see ``README.md`` for the commands):

1. ``hparams/pretrain_stage1.yaml``: P2T only;
2. ``hparams/pretrain_stage2.yaml``: all five tasks, from the stage-1 model;
3. fine-tuning: ``train.py hparams/finetune.yaml
   --pretrained_model=<stage 2>/model.ckpt --code_vocab_size=<codes>``.

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
from pathlib import Path

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.sampler import (
    ConcatDatasetBatchSampler,
    ReproducibleRandomSampler,
)
from speechbrain.utils.distributed import if_main_process, run_on_main
from train import (
    ScheduledBrain,
    dataio_prepare,
    heldout_sentences,
    load_pretrained,
    prepare_tokenizer,
    schedule_length,
)

from speechbrain_mmspeech.frontend import load_audio
from speechbrain_mmspeech.text import normalize_text

logger = logging.getLogger(__name__)

SPEECH, PAIRED, TEXT = "speech", "paired", "text"
POOLS = (SPEECH, PAIRED, TEXT)
TASKS_OF_POOL = {SPEECH: ("s2c", "msp"), PAIRED: ("s2t", "pp"), TEXT: ("p2t",)}
POOL_OF_TASK = {t: pool for pool, tasks in TASKS_OF_POOL.items() for t in tasks}
MODEL_FILE = "model.ckpt"
TOKENIZER_FILE = "tokenizer.ckpt"


class MixedBatch:
    """One training batch: a ``PaddedBatch`` per active pool.

    Arguments
    ---------
    sub_batches : dict
        Pool name -> ``PaddedBatch``.

    Example
    -------
    >>> batch = MixedBatch(
    ...     {"text": PaddedBatch([{"id": "a", "x": torch.ones(2)}])}
    ... )
    >>> batch.id, TEXT in batch, SPEECH in batch
    (['a'], True, False)
    """

    def __init__(self, sub_batches):
        self.sub_batches = sub_batches

    def __contains__(self, pool):
        """Whether the batch has a sub-batch of ``pool``."""
        return pool in self.sub_batches

    def __getitem__(self, pool):
        """The sub-batch of ``pool``."""
        return self.sub_batches[pool]

    def __len__(self):
        """Number of sentences over all sub-batches."""
        return sum(len(sub.id) for sub in self.sub_batches.values())

    @property
    def id(self):
        """Utterance and sentence ids of all sub-batches, pool by pool."""
        return [i for sub in self.sub_batches.values() for i in sub.id]

    def to(self, device):
        """Moves every sub-batch to ``device``; returns the batch."""
        for sub in self.sub_batches.values():
            sub.to(device)
        return self


class MixedBatchCollate:
    """Collates the examples of a ``ConcatDatasetBatchSampler`` batch.

    The sampler lists the examples pool by pool, ``batch_sizes[k]`` of pool
    ``k``; each run becomes one ``PaddedBatch``.

    Arguments
    ---------
    pools : list of str
        Active pool names, in dataset order.
    batch_sizes : list of int
        Examples per pool in a batch.

    Example
    -------
    >>> collate = MixedBatchCollate(["speech", "text"], [1, 2])
    >>> examples = [{"id": k, "x": torch.ones(1)} for k in "abc"]
    >>> batch = collate(examples)
    >>> batch["speech"].id, batch["text"].id
    (['a'], ['b', 'c'])
    """

    def __init__(self, pools, batch_sizes):
        self.pools = list(pools)
        self.batch_sizes = list(batch_sizes)

    def __call__(self, examples):
        """Splits ``examples`` into one ``PaddedBatch`` per pool."""
        sub_batches, start = {}, 0
        for pool, size in zip(self.pools, self.batch_sizes):
            sub_batches[pool] = PaddedBatch(examples[start : start + size])
            start += size
        return MixedBatch(sub_batches)


class Pretrain(ScheduledBrain):
    """The five MMSpeech tasks on mixed batches (see the module docstring)."""

    def compute_forward(self, batch, stage):
        """Runs the forward pass of every sub-batch of ``batch``."""
        batch = batch.to(self.device)
        model = self.modules.model
        outputs = {}
        if SPEECH in batch:
            sub = batch[SPEECH]
            feats, wav_lens = self._features(sub)
            teacher = None
            if self.hparams.msp_weight > 0:
                teacher = self.hparams.msp_task.teacher_logits(
                    model.encoder, feats, wav_lens
                )
            logits, encoded = self.hparams.s2c_task.forward(
                model, feats, wav_lens, sub.code_bos.data
            )
            outputs[SPEECH] = (logits, encoded, teacher)
        if PAIRED in batch:
            sub = batch[PAIRED]
            feats, wav_lens = self._features(sub)
            outputs[PAIRED] = self.hparams.s2t_task.forward(
                model, feats, wav_lens, sub.tokens_bos.data
            )
        if TEXT in batch:
            sub = batch[TEXT]
            phones, phone_lens = sub.phones
            outputs[TEXT] = self.hparams.p2t_task.forward(
                model, phones, phone_lens, sub.tokens_bos.data
            )
        return outputs

    def _features(self, sub_batch):
        """Normalised fbank of a speech sub-batch, and relative lengths."""
        wavs, wav_lens = sub_batch.sig
        feats = self.hparams.compute_features(wavs, wav_lens)
        return self.modules.normalize(feats, wav_lens), wav_lens

    def compute_objectives(self, predictions, batch, stage):
        """Weighted sum of the tasks' summed losses per sentence."""
        losses = {}
        if SPEECH in predictions:
            logits, encoded, teacher = predictions[SPEECH]
            code_eos, code_lens = batch[SPEECH].code_eos
            losses["s2c"] = self.hparams.s2c_task.loss(
                logits, code_eos, code_lens
            )
            if teacher is not None:
                losses["msp"] = self.hparams.msp_task.loss(
                    self.modules.model.encoder, encoded, teacher
                )
        if PAIRED in predictions:
            logits, phone_logits, encoded = predictions[PAIRED]
            tokens_eos, token_lens = batch[PAIRED].tokens_eos
            phones, phone_lens = batch[PAIRED].phone_targets
            losses["s2t"] = self.hparams.s2t_task.loss(
                logits, tokens_eos, token_lens
            )
            losses["pp"] = self.hparams.pp_task.loss(
                phone_logits, encoded.speech_lengths, phones, phone_lens
            )
        if TEXT in predictions:
            tokens_eos, token_lens = batch[TEXT].tokens_eos
            losses["p2t"] = self.hparams.p2t_task.loss(
                predictions[TEXT], tokens_eos, token_lens
            )
        weights = self.hparams.task_weights
        loss = sum(weights[task] * value for task, value in losses.items())
        for task, value in losses.items():
            sentences = len(batch[POOL_OF_TASK[task]].id)
            self.hparams.task_losses.update(task, value.detach(), sentences)
        return loss / len(batch)

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs the loss of every task and checkpoints (no validation)."""
        if stage != sb.Stage.TRAIN:
            return
        stats = {"loss": stage_loss, **self.hparams.task_losses.summarize()}
        self.hparams.task_losses.reset()
        lr = self.optimizer.param_groups[0]["lr"]
        self.hparams.train_logger.log_stats(
            stats_meta={"epoch": epoch, "lr": lr}, train_stats=stats
        )
        # Brain resets these right after this hook; resetting them before
        # the end-of-epoch checkpoint keeps the next epoch's running average
        # clean when a run resumes from it.
        self.step, self.avg_train_loss = 0, 0.0
        self.checkpointer.save_and_keep_only(
            meta={"loss": stage_loss, "epoch": epoch},
            num_to_keep=self.hparams.keep_checkpoints,
        )


def active_pools(hparams):
    """Pools with a positive sub-batch size, checked against task weights.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters.

    Returns
    -------
    list of str
        Active pool names, in ``POOLS`` order.

    Raises
    ------
    ValueError
        If no pool is active, or an active pool has no weighted task.

    Example
    -------
    >>> hparams = {"speech_batch_size": 0, "paired_batch_size": 0}
    >>> hparams.update(text_batch_size=4, task_weights={"p2t": 1.0})
    >>> active_pools(hparams)
    ['text']
    """
    pools = [pool for pool in POOLS if hparams[f"{pool}_batch_size"] > 0]
    if not pools:
        raise ValueError("Every pool has batch size 0: nothing to train on")
    weights = hparams["task_weights"]
    for pool in pools:
        if not any(weights.get(task, 0) > 0 for task in TASKS_OF_POOL[pool]):
            raise ValueError(
                f"Pool {pool} is on but all its tasks "
                f"{TASKS_OF_POOL[pool]} have weight 0"
            )
    return pools


def speech_pool(hparams):
    """Unpaired speech with its S2C targets, computed by the quantizer.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters (``unpaired_csv``, ``quantizer``,
        ``compute_features``, ``s2c_task``, ``max_code_length``, durations).

    Returns
    -------
    speechbrain.dataio.dataset.DynamicItemDataset
        Items ``id, sig, code_bos, code_eos``.
    """
    dataset = sb.dataio.dataset.DynamicItemDataset.from_csv(
        csv_path=hparams["unpaired_csv"]
    )
    dataset = dataset.filtered_sorted(
        key_min_value={"duration": hparams["min_duration"]},
        key_max_value={"duration": hparams["max_duration"]},
    )
    quantizer = hparams["quantizer"]
    fbank = hparams["compute_features"]
    task = hparams["s2c_task"]

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav):
        return load_audio(wav)

    @sb.utils.data_pipeline.takes("sig")
    @sb.utils.data_pipeline.provides("code_bos", "code_eos")
    def code_pipeline(sig):
        codes = quantizer(fbank.utterance_fbank(sig))
        yield from task.targets(codes[: hparams["max_code_length"]])

    sb.dataio.dataset.add_dynamic_item([dataset], audio_pipeline)
    sb.dataio.dataset.add_dynamic_item([dataset], code_pipeline)
    sb.dataio.dataset.set_output_keys(
        [dataset], ["id", "sig", "code_bos", "code_eos"]
    )
    return dataset


def read_text_pool(hparams):
    """Normalised sentences of ``text_files``, minus every dev/test one.

    Lines are normalised (``normalize_text``) and cut to
    ``max_text_chars`` characters; with ``text_files_have_ids`` the first
    field of each line (an utterance id, as in AISHELL-2's ``trans.txt``) is
    dropped. Empty lines and sentences of the labeled dev or test sets are
    left out. ``max_text_sentences`` keeps only the first ones.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters.

    Returns
    -------
    list of str
        The sentences, in file order.
    """
    excluded = heldout_sentences(hparams)
    sentences, n_excluded = [], 0
    limit = hparams["max_text_sentences"]
    for path in hparams["text_files"]:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if hparams["text_files_have_ids"]:
                    fields = line.split(maxsplit=1)
                    line = fields[1] if len(fields) == 2 else ""
                text = normalize_text(line)
                if not text:
                    continue
                if text in excluded:
                    n_excluded += 1
                    continue
                sentences.append(text[: hparams["max_text_chars"]])
                if limit and len(sentences) == limit:
                    break
    logger.info(
        "Text pool: %d sentences (%d dev/test sentences left out)",
        len(sentences),
        n_excluded,
    )
    return sentences


def text_pool(hparams):
    """Unpaired text with its masked phones (P2T).

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters.

    Returns
    -------
    speechbrain.dataio.dataset.DynamicItemDataset
        Items ``id, phones, tokens_bos, tokens_eos``; the phones are masked
        afresh every time an item is read.
    """
    data = {
        f"text{index:08d}": {"text": text}
        for index, text in enumerate(read_text_pool(hparams))
    }
    dataset = sb.dataio.dataset.DynamicItemDataset(data)
    tokenizer = hparams["tokenizer"]
    pinyin = hparams["pinyin_tokenizer"]
    task = hparams["p2t_task"]

    @sb.utils.data_pipeline.takes("text")
    @sb.utils.data_pipeline.provides("phones", "tokens_bos", "tokens_eos")
    def text_pipeline(text):
        # A sentence without any pronounceable character still gets one
        # (masked) phone, so that the encoder never sees an empty input.
        phones = pinyin.encode_as_ids(text) or [task.mask_index]
        yield task.mask_phones(phones)
        tokens = tokenizer.encode_as_ids(text)
        yield torch.LongTensor([tokenizer.bos_index] + tokens)
        yield torch.LongTensor(tokens + [tokenizer.eos_index])

    sb.dataio.dataset.add_dynamic_item([dataset], text_pipeline)
    sb.dataio.dataset.set_output_keys(
        [dataset], ["id", "phones", "tokens_bos", "tokens_eos"]
    )
    return dataset


def build_pools(hparams, pools):
    """The dataset of each active pool.

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
        SPEECH: speech_pool,
        PAIRED: lambda h: dataio_prepare(h)["train"],
        TEXT: text_pool,
    }
    return {pool: builders[pool](hparams) for pool in pools}


def mixed_loader(hparams, datasets):
    """One dataset over all pools and its loader options.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters (``<pool>_batch_size``, ``seed``,
        ``num_workers``).
    datasets : dict
        Pool name -> dataset, in ``POOLS`` order.

    Returns
    -------
    dataset : torch.utils.data.ConcatDataset
        The pools, concatenated.
    loader_kwargs : dict
        ``batch_sampler`` (a ``ConcatDatasetBatchSampler`` of per-pool
        reshuffling samplers), ``collate_fn`` and ``num_workers``.
    """
    pools = list(datasets)
    batch_sizes = [hparams[f"{pool}_batch_size"] for pool in pools]
    samplers = [
        ReproducibleRandomSampler(datasets[pool], seed=hparams["seed"] + k)
        for k, pool in enumerate(pools)
    ]
    for pool, dataset, size in zip(pools, datasets.values(), batch_sizes):
        if len(dataset) < size:
            raise ValueError(
                f"Pool {pool} has {len(dataset)} items, fewer than its "
                f"batch size {size}"
            )
    sampler = ConcatDatasetBatchSampler(samplers, batch_sizes)
    logger.info(
        "Batches: %s per pool, %d batches per epoch",
        dict(zip(pools, batch_sizes)),
        len(sampler),
    )
    dataset = torch.utils.data.ConcatDataset(list(datasets.values()))
    loader_kwargs = {
        "batch_sampler": sampler,
        "collate_fn": MixedBatchCollate(pools, batch_sizes),
        "num_workers": hparams["num_workers"],
    }
    return dataset, loader_kwargs


def prepare_pools_on_disk(hparams, pools):
    """Data preparation of the main process: CSVs, tokenizer, codes.

    Arguments
    ---------
    hparams : dict
        The recipe's hyperparameters.
    pools : list of str
        Active pools.
    """
    from build_codes import prepare_codes
    from unpaired_prepare import prepare_unpaired_speech

    from aishell_prepare import prepare_aishell

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
    torch.save(hparams["model"].state_dict(), output / MODEL_FILE)
    shutil.copy(
        Path(hparams["save_folder"]) / TOKENIZER_FILE, output / TOKENIZER_FILE
    )
    return output / MODEL_FILE


def main(argv):
    """Prepares the pools, pre-trains and writes the model."""
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
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

    datasets = build_pools(hparams, pools)
    train_set, train_kwargs = mixed_loader(hparams, datasets)
    brain = Pretrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    # Brain calls set_epoch only on `train_sampler`: every epoch reshuffles
    # each pool, and a resumed run skips exactly the batches already done.
    brain.train_sampler = train_kwargs["batch_sampler"]
    brain.schedule_length = schedule_length(
        hparams, train_set, train_kwargs, run_opts
    )
    brain.fit(
        brain.hparams.epoch_counter,
        train_set,
        train_loader_kwargs=train_kwargs,
    )
    if if_main_process():
        path = write_outputs(hparams)
        print(f"Pre-trained model: {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
