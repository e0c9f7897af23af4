"""Training batches mixed from the three data pools, and their loaders.

Every training batch is a ``MixedBatch``: one ``PaddedBatch`` per pool
(``speech``: unpaired speech for S2C and MSP; ``paired``: labeled speech for
S2T and PP; ``text``: unpaired text for P2T). Pre-training batches take a
fixed number of items from each pool (``fixed_mix_loader``, SpeechBrain's
``ConcatDatasetBatchSampler``); fine-tuning batches take the paired
utterances of SpeechBrain's ``DynamicBatchSampler`` and add text sentences
to them (``TextMixingBatchSampler``). Both are functions of the epoch, so a
resumed run sees exactly the batches it had not trained on.

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
import math

import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.sampler import (
    ConcatDatasetBatchSampler,
    DynamicBatchSampler,
    ReproducibleRandomSampler,
)

from speechbrain_mmspeech.training.distributed import shard_evaluation

logger = logging.getLogger(__name__)

SPEECH, PAIRED, TEXT = "speech", "paired", "text"
POOLS = (SPEECH, PAIRED, TEXT)
TASKS_OF_POOL = {SPEECH: ("s2c", "msp"), PAIRED: ("s2t", "pp"), TEXT: ("p2t",)}
POOL_OF_TASK = {t: pool for pool, tasks in TASKS_OF_POOL.items() for t in tasks}
POOL_KEY = "pool"


class MixedBatch:
    """One batch made of a ``PaddedBatch`` per pool.

    Arguments
    ---------
    sub_batches : dict
        Pool name -> ``PaddedBatch``.

    Example
    -------
    >>> batch = MixedBatch(
    ...     {"text": PaddedBatch([{"id": "a", "x": torch.ones(2)}])}
    ... )
    >>> batch.id, TEXT in batch, SPEECH in batch, len(batch)
    (['a'], True, False, 1)
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


def collate_pools(examples):
    """Collates examples into a ``MixedBatch``, grouped by their pool.

    Every dataset of ``pool_datasets`` gives its items a ``pool`` key; the
    examples of each pool become one ``PaddedBatch`` (in ``POOLS`` order).

    Arguments
    ---------
    examples : list of dict
        Items of the pool datasets.

    Returns
    -------
    MixedBatch
        The batch.

    Example
    -------
    >>> examples = [
    ...     {"id": "t1", "pool": "text", "x": torch.ones(2)},
    ...     {"id": "p1", "pool": "paired", "x": torch.ones(3)},
    ... ]
    >>> batch = collate_pools(examples)
    >>> batch["paired"].id, batch["text"].id
    (['p1'], ['t1'])
    """
    grouped = {}
    for example in examples:
        fields = {k: v for k, v in example.items() if k != POOL_KEY}
        grouped.setdefault(example[POOL_KEY], []).append(fields)
    return MixedBatch(
        {pool: PaddedBatch(grouped[pool]) for pool in POOLS if pool in grouped}
    )


class TextMixingBatchSampler(torch.utils.data.Sampler):
    """Adds unpaired text sentences to every batch of a paired sampler.

    The official fine-tuning keeps P2T on: a batch of ``B`` paired
    utterances gets ``ceil(text_ratio * B)`` text sentences. The text
    sentences are read in a random order drawn from ``seed`` and the epoch,
    continuing from batch to batch; their indices are offset by
    ``text_offset`` (the size of the paired dataset in front of them in a
    ``ConcatDataset``). ``set_epoch`` reaches the paired sampler too, so the
    whole epoch is a function of the epoch number.

    Arguments
    ---------
    paired_sampler : torch.utils.data.Sampler
        Yields lists of paired indices (e.g. ``DynamicBatchSampler``).
    text_size : int
        Number of text sentences.
    text_offset : int
        Index of the first text sentence in the concatenated dataset.
    text_ratio : float
        Text sentences per paired utterance.
    seed : int
        Seed of the text order.

    Example
    -------
    >>> paired = [[0, 1], [2, 3]]
    >>> sampler = TextMixingBatchSampler(paired, 10, 4, 0.5, seed=1)
    >>> batches = list(sampler)
    >>> [b[:2] for b in batches], [len(b) for b in batches]
    ([[0, 1], [2, 3]], [3, 3])
    >>> all(4 <= i < 14 for b in batches for i in b[2:])
    True
    """

    def __init__(
        self, paired_sampler, text_size, text_offset, text_ratio, seed
    ):
        self.paired_sampler = paired_sampler
        self.text_size = text_size
        self.text_offset = text_offset
        self.text_ratio = text_ratio
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch):
        """Sets the epoch of the text order and of the paired sampler."""
        self.epoch = epoch
        if hasattr(self.paired_sampler, "set_epoch"):
            self.paired_sampler.set_epoch(epoch)

    def __len__(self):
        """As many batches as the paired sampler."""
        return len(self.paired_sampler)

    def _text_order(self):
        """Endless text indices, reshuffled at every pass."""
        generator = torch.Generator().manual_seed(self.seed + 7919 * self.epoch)
        while True:
            yield from torch.randperm(self.text_size, generator=generator)

    def __iter__(self):
        """Paired indices, then the text indices, for every batch."""
        text = self._text_order()
        for paired in self.paired_sampler:
            n_text = math.ceil(self.text_ratio * len(paired))
            extra = [self.text_offset + int(next(text)) for _ in range(n_text)]
            yield [*paired, *extra]


def active_pools(hparams):
    """Pools with a positive batch share, checked against task weights.

    A pool is on when ``<pool>_batch_size`` is above 0. Fine-tuning (the
    hyperparameters have ``text_batch_ratio``) always has labeled speech,
    and text when ``text_batch_ratio`` is above 0.

    Arguments
    ---------
    hparams : dict
        ``task_weights``, and the batch sizes or ``text_batch_ratio``.

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
    >>> active_pools({"text_batch_ratio": 0, "task_weights": {"s2t": 1.0}})
    ['paired']
    """
    sizes = {pool: hparams.get(f"{pool}_batch_size", 0) or 0 for pool in POOLS}
    if "text_batch_ratio" in hparams:  # fine-tuning: labeled speech always
        sizes[PAIRED] = 1
        sizes[TEXT] = hparams["text_batch_ratio"]
    pools = [pool for pool in POOLS if sizes[pool] > 0]
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


def fixed_mix_loader(hparams, datasets):
    """Pre-training batches: a fixed number of items from each pool.

    An epoch ends when the first pool runs out (SpeechBrain's
    ``ConcatDatasetBatchSampler``); every pool is reshuffled per epoch.

    Arguments
    ---------
    hparams : dict
        ``<pool>_batch_size``, ``seed``, ``num_workers``.
    datasets : dict
        Pool name -> dataset, in ``POOLS`` order.

    Returns
    -------
    dataset : torch.utils.data.ConcatDataset
        The pools, concatenated.
    loader_kwargs : dict
        ``batch_sampler``, ``collate_fn`` and ``num_workers``.
    """
    pools = list(datasets)
    batch_sizes = [hparams[f"{pool}_batch_size"] for pool in pools]
    for pool, size in zip(pools, batch_sizes):
        if len(datasets[pool]) < size:
            raise ValueError(
                f"Pool {pool} has {len(datasets[pool])} items, fewer than "
                f"its batch size {size}"
            )
    samplers = [
        ReproducibleRandomSampler(datasets[pool], seed=hparams["seed"] + k)
        for k, pool in enumerate(pools)
    ]
    sampler = ConcatDatasetBatchSampler(samplers, batch_sizes)
    logger.info(
        "Batches: %s per pool, %d batches per epoch",
        dict(zip(pools, batch_sizes)),
        len(sampler),
    )
    dataset = torch.utils.data.ConcatDataset(list(datasets.values()))
    loader_kwargs = {
        "batch_sampler": sampler,
        "collate_fn": collate_pools,
        "num_workers": hparams["num_workers"],
    }
    return dataset, loader_kwargs


def paired_loader_kwargs(hparams, dataset, train, collate_fn=collate_pools):
    """Loader options of a paired set: dynamic batching or fixed sizes.

    Arguments
    ---------
    hparams : dict
        ``dynamic_batching`` and the sampler or loader options.
    dataset : speechbrain.dataio.dataset.DynamicItemDataset
        The paired set.
    train : bool
        Training (shuffled) or evaluation options.
    collate_fn : callable
        How examples become a batch: ``collate_pools`` (a ``MixedBatch``,
        for ``MMSpeechBrain``) or SpeechBrain's ``PaddedBatch``.

    Returns
    -------
    dict
        Loader keyword arguments (with ``collate_fn``). Under DDP, the
        evaluation batches are split between the processes
        (``shard_evaluation``); Brain splits the training batches itself.
    """
    kwargs = {
        "collate_fn": collate_fn,
        "num_workers": hparams["num_workers"],
    }
    if not hparams["dynamic_batching"]:
        key = "train_dataloader_opts" if train else "valid_dataloader_opts"
        kwargs = {**dict(hparams[key]), "collate_fn": collate_fn}
    else:
        key = (
            "dynamic_batch_sampler_train"
            if train
            else "dynamic_batch_sampler_valid"
        )
        kwargs["batch_sampler"] = DynamicBatchSampler(
            dataset, length_func=lambda x: x["duration"], **hparams[key]
        )
    return kwargs if train else shard_evaluation(dataset, kwargs)


def finetuning_loader(hparams, paired_train, text=None):
    """Fine-tuning batches: paired utterances, plus text if ``text``.

    Arguments
    ---------
    hparams : dict
        Loader options, ``text_batch_ratio`` and ``seed``.
    paired_train : speechbrain.dataio.dataset.DynamicItemDataset
        The labeled training set.
    text : speechbrain.dataio.dataset.DynamicItemDataset
        The text pool (None: paired only).

    Returns
    -------
    dataset : torch.utils.data.Dataset
        The training set (paired, then text).
    loader_kwargs : dict
        ``batch_sampler``, ``collate_fn`` and ``num_workers``.
    """
    kwargs = paired_loader_kwargs(hparams, paired_train, train=True)
    if text is None:
        return paired_train, kwargs
    if "batch_sampler" not in kwargs:
        raise ValueError(
            "Text mixing needs a batch sampler: set dynamic_batching: True"
        )
    kwargs["batch_sampler"] = TextMixingBatchSampler(
        kwargs["batch_sampler"],
        text_size=len(text),
        text_offset=len(paired_train),
        text_ratio=hparams["text_batch_ratio"],
        seed=hparams["seed"],
    )
    dataset = torch.utils.data.ConcatDataset([paired_train, text])
    return dataset, kwargs
