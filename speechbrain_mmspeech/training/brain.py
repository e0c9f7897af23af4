"""Training MMSpeech on SpeechBrain's ``Brain``: one Brain for every stage.

Every training batch is a ``MixedBatch``: one ``PaddedBatch`` per data pool,

- ``speech``: unpaired speech -> S2C (speech-to-code) and MSP (masked speech
  prediction), in one forward pass;
- ``paired``: labeled speech -> S2T (speech-to-text) and PP (phone CTC), in
  one forward pass;
- ``text``: unpaired text -> P2T (phone-to-text).

``MMSpeechBrain`` runs the forward pass of each pool present and sums the
tasks' losses (``speechbrain_mmspeech.training.tasks``, the only place losses are
computed) with ``task_weights``, divided by the number of sentences of the
batch (the official ``--sentence-avg``). The official stages differ only in
which pools their batches hold:

1. pre-training stage 1: text (P2T);
2. pre-training stage 2: speech, paired and text (all five tasks);
3. fine-tuning: paired (S2T + PP) plus about half as many text sentences
   (P2T), with validation, checkpoint averaging and test decoding.

Pre-training batches take a fixed number of items from each pool
(``ConcatDatasetBatchSampler``); fine-tuning batches take the paired
utterances of SpeechBrain's ``DynamicBatchSampler`` and add text sentences
to them (``TextMixingBatchSampler``). Both are functions of the epoch, so a
resumed run sees exactly the batches it had not trained on.

Under DDP (``torchrun``), every process trains on its own share of the
batches (``DistributedBatchSamplerWrapper``; ``schedule_length`` counts
one process' batches) and evaluates its share of the validation and test
batches, whose metrics are then gathered so that each utterance counts once
(``speechbrain_mmspeech.training.distributed``).

The data side lives in ``dataio`` (``pools``: the datasets of the three
pools; ``batches``: mixed batches and their loaders; ``text_pool``: the text
pool, the vocabulary and the held-out sentences); recipe settings are read
by ``training.settings``.

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
import math

import speechbrain as sb
import torch

from speechbrain_mmspeech.dataio.batches import (
    PAIRED,
    POOL_OF_TASK,
    SPEECH,
    TEXT,
)
from speechbrain_mmspeech.decoders.scorers import (
    LM_MODE_FUSION,
    LM_MODE_NONE,
    LM_MODE_RESCORING,
    rescore_nbest,
)
from speechbrain_mmspeech.lobes.models.mmspeech import pack_memory
from speechbrain_mmspeech.nnet.precision import warn_if_slow_precision
from speechbrain_mmspeech.training.checkpoints import average_best_checkpoints
from speechbrain_mmspeech.training.decoder_losses import (
    restrict_to_vocabulary,
)
from speechbrain_mmspeech.training.distributed import (
    DistributedBatchSamplerWrapper,
    ModelRunner,
    all_reduce_sum,
    gather_error_rate_stats,
    unwrap,
    world_size,
)

logger = logging.getLogger(__name__)


def schedule_length(hparams, n_batches, run_opts, processes=None):
    """Number of updates and of warm-up updates for the whole run.

    Under DDP each of the ``processes`` trains on ``ceil(n_batches /
    processes)`` of an epoch's batches (``DistributedBatchSamplerWrapper``
    pads the last round), and every process steps the schedule once per
    update, so the schedule counts one process' batches.

    Arguments
    ---------
    hparams : dict
        ``number_of_epochs`` and ``warmup_fraction``.
    n_batches : int
        Batches per epoch, over all processes.
    run_opts : dict
        SpeechBrain run options (``grad_accumulation_factor``).
    processes : int, optional
        Number of DDP processes (default: the current world size).

    Returns
    -------
    tuple of int
        ``(updates, warm-up updates)``.

    Example
    -------
    >>> schedule_length(
    ...     {"number_of_epochs": 10, "warmup_fraction": 0.1}, 15, {}
    ... )
    (150, 15)
    >>> schedule_length(
    ...     {"number_of_epochs": 10, "warmup_fraction": 0.1}, 15, {}, 2
    ... )
    (80, 8)
    """
    processes = processes or world_size()
    per_process = math.ceil(n_batches / processes)
    accumulation = run_opts.get("grad_accumulation_factor", 1) or 1
    updates = hparams["number_of_epochs"] * math.ceil(
        per_process / accumulation
    )
    warmup = int(hparams["warmup_fraction"] * updates)
    logger.info("Schedule: %d updates, %d warm-up", updates, warmup)
    return updates, warmup


class ScheduledBrain(sb.Brain):
    """A ``Brain`` that steps ``hparams.lr_annealing`` after every update.

    When ``schedule_length`` (updates, warm-up updates) is set, the recovered
    scheduler keeps its step count but takes that total and warm-up, computed
    for the current ``number_of_epochs``, so extending a finished run keeps
    learning. With an ``hparams.epoch_budget`` (an ``EpochBudget``), the
    number of epochs is the budget's once it is fixed: the epoch counter
    stops there and the schedule ends with it. The base of ``MMSpeechBrain``
    and of the LM recipe's Brain.

    Arguments
    ---------
    *args : tuple
        The arguments of ``speechbrain.Brain``.
    **kwargs : dict
        Its keyword arguments.
    """

    schedule_length = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.epoch_budget = getattr(self.hparams, "epoch_budget", None)
        self._epoch_counter = None
        if self.epoch_budget is not None and self.checkpointer is not None:
            # Optional: runs checkpointed without a budget still resume.
            self.checkpointer.add_recoverable(
                "epoch_budget", self.epoch_budget, optional_load=True
            )

    def fit(self, epoch_counter, train_set, valid_set=None, **kwargs):
        """``Brain.fit``, keeping the epoch counter for the budget."""
        self._epoch_counter = epoch_counter
        return super().fit(epoch_counter, train_set, valid_set, **kwargs)

    def on_fit_start(self):
        """Recovers, then sizes the schedule for this run's epoch count."""
        super().on_fit_start()
        if self.schedule_length is not None:
            scheduler = self.hparams.lr_annealing
            scheduler.num_training_steps, scheduler.num_warmup_steps = (
                self.schedule_length
            )
        if self.epoch_budget is not None and self.epoch_budget.epochs:
            self._train_epochs(self.epoch_budget.epochs)  # a resumed run

    def on_stage_start(self, stage, epoch=None):
        """Times the epochs for the budget (a training stage starts one)."""
        if stage != sb.Stage.TRAIN or self.epoch_budget is None:
            return
        epochs = self.epoch_budget.begin_epoch(
            epoch,
            combine=lambda spent: all_reduce_sum([spent])[0] / world_size(),
        )
        if epochs is not None:
            self._train_epochs(epochs)

    def _train_epochs(self, epochs):
        """Stops the epoch counter at ``epochs``; the schedule ends there.

        The warm-up keeps its length; the decay is stretched or shortened.
        """
        if self._epoch_counter is not None:
            self._epoch_counter.limit = epochs
        if self.schedule_length is not None:
            updates, _ = self.schedule_length
            per_epoch = updates // self.hparams.number_of_epochs
            self.hparams.lr_annealing.num_training_steps = epochs * per_epoch

    def plan_schedule(self, hparams, train_set, loader_kwargs, run_opts):
        """Sets ``train_sampler`` and ``schedule_length`` for a training run.

        Brain calls ``set_epoch`` only on ``train_sampler``: with it, the
        batch order is a function of the epoch, so a resumed run skips
        exactly the batches it had trained on, and each epoch reshuffles.

        Arguments
        ---------
        hparams : dict
            ``number_of_epochs`` and ``warmup_fraction``.
        train_set : torch.utils.data.Dataset
            The training set.
        loader_kwargs : dict
            Its loader's options: a ``batch_sampler``, or a ``batch_size``.
        run_opts : dict
            SpeechBrain run options (``grad_accumulation_factor``).
        """
        sampler = loader_kwargs.get("batch_sampler")
        self.train_sampler = sampler
        if sampler is not None:
            n_batches = len(sampler)
        else:
            n_batches = math.ceil(len(train_set) / loader_kwargs["batch_size"])
        self.schedule_length = schedule_length(hparams, n_batches, run_opts)

    def _train_loader_specifics(self, dataset, loader_kwargs):
        """Brain's, but under DDP a batch sampler is sharded by
        ``DistributedBatchSamplerWrapper`` (which works for any size).

        Brain would wrap it in SpeechBrain's ``DistributedSamplerWrapper``
        (same arguments, same state); every other case is Brain's.
        """
        batch_sampler = loader_kwargs.get("batch_sampler")
        if (
            not self.distributed_launch
            or batch_sampler is None
            or loader_kwargs.get("sampler") is not None
            or isinstance(dataset, torch.utils.data.IterableDataset)
        ):
            return super()._train_loader_specifics(dataset, loader_kwargs)
        # Brain's choice: shuffle unless hparams.sorting asks for an order.
        shuffle = getattr(self.hparams, "sorting", "random") == "random"
        self.train_sampler = DistributedBatchSamplerWrapper(
            batch_sampler, rank=self.rank, shuffle=shuffle
        )
        loader_kwargs["batch_sampler"] = self.train_sampler
        return loader_kwargs

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Steps the learning-rate schedule after each optimizer update."""
        if should_step:
            self.hparams.lr_annealing(self.optimizer)


class MMSpeechBrain(ScheduledBrain):
    """The MMSpeech tasks on mixed batches (see the module docstring).

    Training batches may hold any of the three pools; validation and test
    batches hold labeled speech, scored by S2T accuracy, the loss, and (on
    every ``valid_search_interval``-th epoch and at test) the CER of the
    beam search. With a validation set, checkpoints are kept by accuracy
    and the best ``avg_checkpoints`` are averaged before testing; without
    one (pre-training), a checkpoint is written at the end of every epoch.

    The hyperparameters it reads: ``task_weights``, the task objects
    (``p2t_task``, ``s2c_task``, ``msp_task``, ``pp_task``, ``s2t_task``),
    ``task_losses`` (a ``TaskLossTracker``), ``compute_features``,
    ``architecture``, ``epoch_counter``, ``train_logger``; with validation
    ``beam_search`` (a partial searcher, see ``searcher``),
    ``valid_beam_size``, ``beam_size``, ``test_scorer``, ``lm_mode`` (with
    ``lm_scorer``, or ``rescorer`` and ``rescoring_topk``), ``tokenizer``,
    ``acc_computer``, ``cer_computer``, ``avg_checkpoints``,
    ``valid_search_interval``, ``cer_file``.

    Under DDP, ``modules["model"]`` is put in a ``ModelRunner``, so that a
    training step's forward passes (of every pool) are one call of the DDP
    module; ``self.model`` is the bare model, which validation and test use
    (no gradients, so no DDP). Every process evaluates its share of the
    batches (``shard_evaluation``) and the stage ends with the metrics of
    all of them. The training loss logged is the mean over the processes.

    Arguments
    ---------
    modules : dict
        ``model`` (an ``MMSpeech``) and ``normalize``.
    *args : tuple
        The other arguments of ``speechbrain.Brain``.
    **kwargs : dict
        The other keyword arguments of ``speechbrain.Brain``.
    """

    validates = False

    def __init__(self, modules=None, *args, **kwargs):
        modules = dict(modules)
        modules["model"] = ModelRunner(modules["model"])
        super().__init__(modules, *args, **kwargs)
        self._searchers = {}
        warn_if_slow_precision(self.device, self.precision, self.eval_precision)

    @property
    def model(self):
        """The bare ``MMSpeech`` (outside the runner and the DDP wrapper)."""
        return unwrap(self.modules.model).model

    def fit(self, epoch_counter, train_set, valid_set=None, **kwargs):
        """``Brain.fit``, remembering whether there is a validation set."""
        self.validates = valid_set is not None
        return super().fit(epoch_counter, train_set, valid_set, **kwargs)

    # ------------------------------------------------------------ forward
    def compute_forward(self, batch, stage):
        """Runs the forward pass of every sub-batch of ``batch``.

        Training goes through the (DDP-wrapped) runner, evaluation through
        the bare model.
        """
        batch = batch.to(self.device)
        if stage == sb.Stage.TRAIN:
            return self.modules.model(self._forward_pools, batch, stage)
        return self._forward_pools(self.model, batch, stage)

    def _forward_pools(self, model, batch, stage):
        """The forward passes of ``batch``'s pools through ``model``."""
        hparams = self.hparams
        outputs = {}
        if SPEECH in batch:
            sub = batch[SPEECH]
            feats, wav_lens = self._features(sub)
            teacher = None
            if hparams.task_weights["msp"] > 0:
                teacher = hparams.msp_task.teacher_logits(
                    model.encoder, feats, wav_lens
                )
            logits, encoded = hparams.s2c_task.forward(
                model, feats, wav_lens, sub.code_bos.data
            )
            outputs[SPEECH] = (logits, encoded, teacher)
        if PAIRED in batch:
            sub = batch[PAIRED]
            feats, wav_lens = self._features(sub, stage == sb.Stage.TRAIN)
            tokens_bos = sub.tokens_bos.data
            if stage == sb.Stage.TRAIN:
                outputs[PAIRED] = hparams.s2t_task.forward(
                    model, feats, wav_lens, tokens_bos
                )
            else:
                outputs[PAIRED] = model(feats, wav_lens, tokens_bos)
                hyps = None
                if self._decodes(stage):
                    memory = pack_memory(outputs[PAIRED][2])
                    hyps = self._search(memory, wav_lens, stage)
                outputs["hyps"] = hyps
        if TEXT in batch:
            sub = batch[TEXT]
            phones, phone_lens = sub.phones
            outputs[TEXT] = hparams.p2t_task.forward(
                model, phones, phone_lens, sub.tokens_bos.data
            )
        return outputs

    def _features(self, sub_batch, augment=False):
        """Normalised fbank of a speech sub-batch, and relative lengths.

        With ``augment`` (labeled speech in training), ``wav_augment`` (if
        any) augments the waveforms and ``fea_augment`` (if any) the
        normalised features; unpaired speech is never augmented, its code
        targets are frame-aligned with it. With
        ``feature_cache``, the fbank of a waveform left as it is comes from
        the cache (``lobes.features.FeatureCache``).
        """
        hparams = self.hparams
        wavs, wav_lens = sub_batch.sig
        wav_augment = getattr(hparams, "wav_augment", None)
        augmented = False
        if augment and wav_augment is not None:
            wavs, wav_lens = wav_augment(wavs, wav_lens)
            augmented = wav_augment.do_augment
        cache = getattr(hparams, "feature_cache", None)
        if cache is not None and not augmented:
            feats = cache(sub_batch.id, wavs, wav_lens)
        else:
            feats = hparams.compute_features(wavs, wav_lens)
        feats = self.modules.normalize(feats, wav_lens)
        fea_augment = getattr(hparams, "fea_augment", None)
        if augment and fea_augment is not None:
            feats, _ = fea_augment(feats, wav_lens)
        return feats, wav_lens

    def searcher(self, stage):
        """The beam search of a stage, built once from ``beam_search``.

        Validation searches with ``valid_beam_size`` and the decoder alone;
        test with ``beam_size`` and ``test_scorer``, or, as ``lm_mode``
        says, ``lm_scorer`` (fusion) or the ``rescoring_topk`` best
        hypotheses (rescoring).

        Arguments
        ---------
        stage : speechbrain.Stage
            ``VALID`` or ``TEST``.

        Returns
        -------
        speechbrain_mmspeech.decoders.seq2seq.MMSpeechBeamSearcher
        """
        mode = self.hparams.lm_mode if stage == sb.Stage.TEST else None
        key = (stage, mode)
        if key not in self._searchers:
            self._searchers[key] = self._build_searcher(stage, mode)
        return self._searchers[key]

    def _build_searcher(self, stage, lm_mode):
        """Completes the ``beam_search`` partial for a stage (see above)."""
        hparams = self.hparams
        if stage != sb.Stage.TEST:
            return hparams.beam_search(beam_size=hparams.valid_beam_size)
        if lm_mode == LM_MODE_RESCORING:
            return hparams.beam_search(
                beam_size=hparams.beam_size,
                scorer=hparams.test_scorer,
                return_topk=True,
                topk=min(hparams.rescoring_topk, hparams.beam_size),
            )
        scorer = (
            hparams.lm_scorer
            if lm_mode == LM_MODE_FUSION
            else hparams.test_scorer
        )
        return hparams.beam_search(beam_size=hparams.beam_size, scorer=scorer)

    def _search(self, memory, wav_lens, stage):
        """Beam search; at test, with what ``lm_mode`` names."""
        search = self.searcher(stage)
        if stage == sb.Stage.TEST and self.hparams.lm_mode == LM_MODE_RESCORING:
            topk_hyps, topk_lengths, topk_scores, _ = search(memory, wav_lens)
            hyps, _ = rescore_nbest(
                self.hparams.rescorer,
                self.hparams.tokenizer,
                topk_hyps,
                topk_lengths,
                topk_scores,
            )
            return hyps
        hyps, _, _, _ = search(memory, wav_lens)
        return hyps

    def _decodes(self, stage):
        """Beam search on every test batch, every N-th validation and the
        last (which a time budget may bring forward)."""
        if stage == sb.Stage.TEST:
            return True
        counter = self.hparams.epoch_counter
        return (
            counter.current % self.hparams.valid_search_interval == 0
            or counter.current == counter.limit
        )

    # ---------------------------------------------------------- objectives
    def compute_objectives(self, predictions, batch, stage):
        """Weighted sum of the tasks' summed losses, per sentence."""
        hparams = self.hparams
        losses = {}
        if SPEECH in predictions:
            logits, encoded, teacher = predictions[SPEECH]
            code_eos, code_lens = batch[SPEECH].code_eos
            losses["s2c"] = hparams.s2c_task.loss(logits, code_eos, code_lens)
            if teacher is not None:
                losses["msp"] = hparams.msp_task.loss(
                    self.model.encoder, encoded, teacher
                )
        if PAIRED in predictions:
            logits, phone_logits, encoded = predictions[PAIRED]
            sub = batch[PAIRED]
            tokens_eos, token_lens = sub.tokens_eos
            phones, phone_lens = sub.phone_targets
            losses["s2t"] = hparams.s2t_task.loss(
                logits, tokens_eos, token_lens
            )
            losses["pp"] = hparams.pp_task.loss(
                phone_logits, encoded.speech_lengths, phones, phone_lens
            )
            if stage != sb.Stage.TRAIN:
                self._update_metrics(logits, sub, predictions["hyps"])
                self.eval_batches += 1
        if TEXT in predictions:
            tokens_eos, token_lens = batch[TEXT].tokens_eos
            losses["p2t"] = hparams.p2t_task.loss(
                predictions[TEXT], tokens_eos, token_lens
            )
        weights = hparams.task_weights
        loss = sum(weights[task] * value for task, value in losses.items())
        if stage == sb.Stage.TRAIN:
            for task, value in losses.items():
                sentences = len(batch[POOL_OF_TASK[task]].id)
                hparams.task_losses.update(task, value.detach(), sentences)
        return loss / len(batch)

    def _update_metrics(self, logits, sub_batch, hyps):
        """S2T accuracy and, when decoded, the CER of a paired batch."""
        tokens_eos, token_lens = sub_batch.tokens_eos
        logits = restrict_to_vocabulary(
            logits, self.hparams.architecture["text_vocab_size"]
        )
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        self.acc_metric.append(log_probs, tokens_eos, token_lens)
        if hyps is not None:
            tokenizer = self.hparams.tokenizer
            predicted = [list(tokenizer.decode_ids(hyp)) for hyp in hyps]
            targets = [list(text) for text in sub_batch.text]
            self.cer_metric.append(sub_batch.id, predicted, targets)

    # -------------------------------------------------------------- stages
    def on_stage_start(self, stage, epoch=None):
        """Fresh metrics; per-task losses reset at every training epoch."""
        super().on_stage_start(stage, epoch)
        if stage == sb.Stage.TRAIN:
            # A run resumed inside an epoch keeps the recovered sums.
            if self.step == 0:
                self.hparams.task_losses.reset()
            return
        self.acc_metric = self.hparams.acc_computer()
        self.cer_metric = self.hparams.cer_computer()
        self.eval_batches = 0
        if stage == sb.Stage.TEST:
            for name in ["lm_model", "ngram_lm"]:
                language_model = getattr(self.hparams, name, None)
                if language_model is not None:
                    language_model.to(self.device)

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs every task's loss, accuracy and CER; checkpoints."""
        if stage == sb.Stage.TRAIN:
            self.train_stats = self._gather_train_stats(stage_loss)
            if not self.validates:
                self._end_unvalidated_epoch(epoch)
            return
        stage_loss = self._gather_metrics(stage_loss)
        stats = {"loss": stage_loss, "ACC": self.acc_metric.summarize()}
        if self._decodes(stage):
            stats["CER"] = self.cer_metric.summarize("error_rate")
        if stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["lr"]
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(
                meta={"ACC": stats["ACC"], "epoch": epoch},
                max_keys=["ACC"],
                num_to_keep=self.hparams.avg_checkpoints,
            )
        else:
            meta = {"Epoch loaded": self.hparams.epoch_counter.current}
            self.hparams.train_logger.log_stats(
                stats_meta={**meta, **self.test_meta()}, test_stats=stats
            )
            if sb.utils.distributed.if_main_process():
                with open(self.hparams.cer_file, "w", encoding="utf-8") as w:
                    self.cer_metric.write_stats(w)
            self.test_stats = stats

    def _gather_train_stats(self, stage_loss):
        """Training loss and task losses over every process.

        Every process trains on as many batches (Brain pads the last
        round), so the loss is the mean of the processes' means.
        """
        tracker = self.hparams.task_losses
        tasks = sorted(POOL_OF_TASK)  # the same list on every process
        sums = all_reduce_sum(
            [stage_loss]
            + [tracker.totals.get(task, 0.0) for task in tasks]
            + [tracker.sentences.get(task, 0) for task in tasks]
        )
        totals, sentences = sums[1 : 1 + len(tasks)], sums[1 + len(tasks) :]
        return {
            "loss": sums[0] / world_size(),
            **{
                task: total / count
                for task, total, count in zip(tasks, totals, sentences)
                if count > 0
            },
        }

    def _gather_metrics(self, stage_loss):
        """Accuracy, CER and loss of every process' evaluation batches.

        Each process scored its own share of the set (``shard_evaluation``):
        the accuracy counts are summed, the CER details of all utterances
        collected (in utterance-id order) and the loss averaged over all
        batches. Returns the loss; the metrics are updated in place.
        """
        if world_size() == 1:
            return stage_loss
        acc = self.acc_metric
        acc.correct, acc.total, loss_sum, batches = all_reduce_sum(
            [
                acc.correct,
                acc.total,
                stage_loss * self.eval_batches,
                self.eval_batches,
            ]
        )
        gather_error_rate_stats(self.cer_metric)
        return loss_sum / max(batches, 1)

    def test_meta(self):
        """What the test log line says about the decoding settings."""
        meta = {}
        phone_ctc_weight = getattr(self.hparams, "phone_ctc_weight", 0)
        if phone_ctc_weight:
            meta["phone CTC weight"] = phone_ctc_weight
        ngram_lm_weight = getattr(self.hparams, "ngram_lm_weight", 0)
        if ngram_lm_weight:
            meta["n-gram LM weight"] = ngram_lm_weight
            meta["n-gram order"] = self.hparams.ngram_order
        lm_mode = getattr(self.hparams, "lm_mode", LM_MODE_NONE)
        if lm_mode != LM_MODE_NONE:
            meta["LM"] = lm_mode
            meta["LM weight"] = self.hparams.lm_weight
        return meta

    def _end_unvalidated_epoch(self, epoch):
        """Logs and checkpoints an epoch of a run without validation."""
        lr = self.optimizer.param_groups[0]["lr"]
        self.hparams.train_logger.log_stats(
            stats_meta={"epoch": epoch, "lr": lr}, train_stats=self.train_stats
        )
        # Brain resets these right after this hook; resetting them before
        # the end-of-epoch checkpoint keeps the next epoch's running average
        # clean when a run resumes from it.
        self.step, self.avg_train_loss = 0, 0.0
        self.checkpointer.save_and_keep_only(
            meta={"loss": self.train_stats["loss"], "epoch": epoch},
            num_to_keep=self.hparams.keep_checkpoints,
        )

    def on_evaluate_start(self, max_key=None, min_key=None):
        """Averages the best checkpoints into the model before testing."""
        super().on_evaluate_start()
        average_best_checkpoints(
            self.checkpointer,
            self.hparams.model,
            self.hparams.avg_checkpoints,
            max_key=max_key,
            min_key=min_key,
        )
