"""Training on several processes (DDP): model runner, sharding, gathering.

SpeechBrain's ``Brain`` wraps every trainable module in
``DistributedDataParallel`` and gives each process every
``world_size``-th training batch. What MMSpeech needs on top of that:

- ``ModelRunner``: the tasks call ``model.encoder``, ``model.decoder`` and
  ``model.output_projection`` directly, which DDP neither exposes nor
  synchronises (gradients are averaged only for what runs inside the
  wrapped module's ``forward``). The runner's ``forward`` runs a whole
  training step's forward passes, so DDP sees them as one call.
- ``ShardedBatchSampler`` / ``shard_evaluation``: validation and test
  batches split between the processes without padding, so that every
  utterance is scored on exactly one process;
- ``DistributedBatchSamplerWrapper``: SpeechBrain's wrapper of the training
  batch sampler, fixed for a process that gets a single batch;
- ``all_reduce_sum`` / ``gather_objects``: the metrics of those shards
  summed or gathered, so that the logged numbers are those of the whole set;
- ``end_process_group``: what a recipe calls when it is done, as PyTorch
  asks; a gloo process that exits with its group alive can abort
  ("terminate called without an active exception") while its worker
  threads are torn down with the interpreter.

Without DDP (one process) every helper is a no-op.

Authors
 * MMSpeech plugin contributors 2026
"""

import gc

import torch
from speechbrain.dataio.sampler import DistributedSamplerWrapper
from speechbrain.utils.distributed import is_distributed_initialized


def world_size():
    """Number of DDP processes (1 without DDP).

    Returns
    -------
    int
        The world size.

    Example
    -------
    >>> world_size()
    1
    """
    if not is_distributed_initialized():
        return 1
    return torch.distributed.get_world_size()


def end_process_group():
    """Frees what still uses the process group, waits, then destroys it.

    Recipes call it after their ``main`` has returned (so that the ``Brain``
    and its DDP-wrapped modules are gone); without DDP it does nothing.

    Example
    -------
    >>> end_process_group()
    """
    if not is_distributed_initialized():
        return
    gc.collect()  # DDP reducers in reference cycles
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def rank():
    """Rank of this process (0 without DDP).

    Returns
    -------
    int
        The global rank.

    Example
    -------
    >>> rank()
    0
    """
    if not is_distributed_initialized():
        return 0
    return torch.distributed.get_rank()


class ModelRunner(torch.nn.Module):
    """Runs a function of a model as this module's forward pass.

    Arguments
    ---------
    model : torch.nn.Module
        The model (its parameters become this module's, under ``model.``).

    Example
    -------
    >>> runner = ModelRunner(torch.nn.Linear(2, 3))
    >>> runner(lambda model, x: model(x).sum(-1), torch.ones(4, 2)).shape
    torch.Size([4])
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, function, *args):
        """Returns ``function(model, *args)``."""
        return function(self.model, *args)


def unwrap(module):
    """The module inside a DDP (or DataParallel) wrapper, else ``module``.

    Arguments
    ---------
    module : torch.nn.Module
        A module, wrapped or not.

    Returns
    -------
    torch.nn.Module
        The bare module.

    Example
    -------
    >>> linear = torch.nn.Linear(2, 2)
    >>> unwrap(torch.nn.DataParallel(linear)) is linear
    True
    """
    return getattr(module, "module", module)


class DistributedBatchSamplerWrapper(DistributedSamplerWrapper):
    """``DistributedSamplerWrapper`` that also works for one batch per process.

    SpeechBrain 1.1 picks a process' batches with
    ``operator.itemgetter(*positions)``, which returns the batch itself, not
    a tuple of batches, when there is a single position: the loader then
    reads each index of that batch as a batch (``'int' object is not
    iterable``). ``ScheduledBrain`` shards its training batch sampler with
    this class where Brain would use SpeechBrain's.

    Arguments
    ---------
    sampler : iterable
        The batch sampler to shard.
    *args : tuple
        ``DistributedSampler`` arguments.
    **kwargs : dict
        ``DistributedSampler`` keyword arguments.

    Example
    -------
    >>> batches = [[0, 1], [2, 3]]
    >>> wrapper = DistributedBatchSamplerWrapper(
    ...     batches, num_replicas=2, rank=1, shuffle=False
    ... )
    >>> list(wrapper)
    [[2, 3]]
    """

    def __iter__(self):
        """This process' batches."""
        batches = list(self.sampler)
        positions = torch.utils.data.DistributedSampler.__iter__(self)
        return iter([batches[position] for position in positions])


class ShardedBatchSampler(torch.utils.data.Sampler):
    """Batches ``rank``, ``rank + world_size``, ... of a batch sampler.

    Unlike ``DistributedSamplerWrapper``, no batch is repeated to even out
    the shards: every batch is on exactly one process, which is what
    evaluation needs (each utterance scored once). The processes may get
    one batch more or less, which evaluation (no DDP collectives per batch)
    does not mind.

    Arguments
    ---------
    batch_sampler : iterable
        Yields lists of indices.
    rank : int
        This process.
    world_size : int
        Number of processes.

    Example
    -------
    >>> batches = [[0, 1], [2], [3, 4], [5]]
    >>> (
    ...     list(ShardedBatchSampler(batches, 0, 3)),
    ...     len(ShardedBatchSampler(batches, 2, 3)),
    ... )
    ([[0, 1], [5]], 1)
    """

    def __init__(self, batch_sampler, rank, world_size):
        self.batch_sampler = batch_sampler
        self.rank = rank
        self.world_size = world_size

    def __iter__(self):
        """This process' batches."""
        for index, batch in enumerate(self.batch_sampler):
            if index % self.world_size == self.rank:
                yield batch

    def __len__(self):
        """Number of this process' batches."""
        total = len(self.batch_sampler)
        return len(range(self.rank, total, self.world_size))


def shard_evaluation(dataset, loader_kwargs):
    """Loader options that give each process its share of the eval batches.

    Fixed-size batches (``batch_size``) become a sequential
    ``BatchSampler`` first. Without DDP the options are returned unchanged.

    Arguments
    ---------
    dataset : torch.utils.data.Dataset
        The validation or test set.
    loader_kwargs : dict
        Its loader options (``batch_sampler``, or ``batch_size``).

    Returns
    -------
    dict
        The options, with a ``ShardedBatchSampler`` under DDP.

    Example
    -------
    >>> shard_evaluation(range(5), {"batch_size": 2})
    {'batch_size': 2}
    """
    if world_size() == 1:
        return loader_kwargs
    kwargs = dict(loader_kwargs)
    batch_sampler = kwargs.pop("batch_sampler", None)
    if batch_sampler is None:
        batch_sampler = torch.utils.data.BatchSampler(
            torch.utils.data.SequentialSampler(range(len(dataset))),
            batch_size=kwargs.pop("batch_size", 1),
            drop_last=False,
        )
    for key in ("batch_size", "shuffle", "drop_last", "sampler"):
        kwargs.pop(key, None)
    kwargs["batch_sampler"] = ShardedBatchSampler(
        batch_sampler, rank(), world_size()
    )
    return kwargs


def all_reduce_sum(values):
    """Sums numbers over the processes (float64); identity without DDP.

    Arguments
    ---------
    values : list of float
        This process' numbers.

    Returns
    -------
    list of float
        The sums, on every process.

    Example
    -------
    >>> all_reduce_sum([1, 2.5])
    [1.0, 2.5]
    """
    tensor = torch.tensor(values, dtype=torch.float64)
    if world_size() > 1:
        torch.distributed.all_reduce(tensor)
    return tensor.tolist()


def gather_objects(obj):
    """Every process' ``obj``, in rank order; ``[obj]`` without DDP.

    Arguments
    ---------
    obj : object
        A picklable object.

    Returns
    -------
    list
        One object per process.

    Example
    -------
    >>> gather_objects({"a": 1})
    [{'a': 1}]
    """
    if world_size() == 1:
        return [obj]
    gathered = [None] * world_size()
    torch.distributed.all_gather_object(gathered, obj)
    return gathered


def gather_error_rate_stats(metric):
    """Collects every process' utterances into an ``ErrorRateStats``.

    Under DDP each process scored its own share of an evaluation set
    (``shard_evaluation``); afterwards every process holds the details of
    all utterances, in utterance-id order, so that ``summarize`` gives the
    error rate of the whole set. Without DDP it only sorts them.

    Arguments
    ---------
    metric : speechbrain.utils.metric_stats.ErrorRateStats
        Updated in place.

    Example
    -------
    >>> from speechbrain.utils.metric_stats import ErrorRateStats
    >>> metric = ErrorRateStats()
    >>> metric.append(["b", "a"], [["x"], ["y"]], [["x"], ["z"]])
    >>> gather_error_rate_stats(metric)
    >>> metric.ids, metric.summarize("error_rate")
    (['a', 'b'], 50.0)
    """
    shards = gather_objects(list(zip(metric.ids, metric.scores)))
    pairs = sorted(
        (pair for shard in shards for pair in shard), key=lambda p: p[0]
    )
    metric.ids = [utterance for utterance, _ in pairs]
    metric.scores = [score for _, score in pairs]
