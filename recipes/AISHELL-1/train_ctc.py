#!/usr/bin/env python3
"""Character CTC on a pre-trained MMSpeech encoder, as a SpeechBrain recipe.

The MMSpeech speech encoder of a model folder (``--mmspeech_source``:
written by ``train.py`` or ``mmspeech-convert``, or a hub id) is used as a
SpeechBrain lobe (``speechbrain_mmspeech.lobes.wrappers.MMSpeechEncoder``), frozen
(``--freeze_encoder=True``, the default) or fine-tuned; a SpeechBrain
``Linear`` head learns the characters with SpeechBrain's ``ctc_loss``.
Validation decodes greedily; at the end, the checkpoints with the lowest
validation CER are averaged, the test set is decoded greedily and with
SpeechBrain's ``CTCBeamSearcher``, and a model folder is written that the
stock ``EncoderASR.from_hparams`` loads (``speechbrain_mmspeech.export.ctc``).

    python train_ctc.py hparams/ctc.yaml --data_folder=/data/data_aishell \\
        --mmspeech_source=results/finetune/1986/model

Run again on a finished output folder, it only tests and exports; killed,
it resumes from its last checkpoint. Several processes: ``torchrun
--nproc_per_node=N train_ctc.py ...``.

Authors
 * MMSpeech plugin contributors 2026
"""

import sys

import speechbrain as sb
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.utils.distributed import if_main_process, run_on_main

from speechbrain_mmspeech.dataio.aishell_prepare import prepare_aishell
from speechbrain_mmspeech.dataio.batches import paired_loader_kwargs
from speechbrain_mmspeech.dataio.pools import character_datasets
from speechbrain_mmspeech.export.ctc import (
    CTC_INFERENCE_TEMPLATE,
    write_ctc_model_folder,
)
from speechbrain_mmspeech.export.folders import values_from_hparams
from speechbrain_mmspeech.training.brain import ScheduledBrain
from speechbrain_mmspeech.training.checkpoints import average_best_checkpoints
from speechbrain_mmspeech.training.distributed import (
    all_reduce_sum,
    end_process_group,
    gather_error_rate_stats,
    world_size,
)
from speechbrain_mmspeech.training.settings import load_hparams


class CTCBrain(ScheduledBrain):
    """MMSpeech lobe + Linear head trained with CTC; CER by greedy decoding.

    The hyperparameters it reads: ``lr``, ``encoder_lr_scale``,
    ``log_softmax``, ``ctc_cost``,
    ``greedy_decoding``, ``test_beam_search``, ``test_beam_size``,
    ``tokenizer``, ``cer_computer``, ``train_logger``, ``avg_checkpoints``,
    ``model``, ``cer_file``.
    """

    def init_optimizers(self):
        """One optimizer: the head at ``lr``, the encoder (when trained) at
        ``lr * encoder_lr_scale``, through the whole schedule."""
        encoder = [
            p
            for p in self.modules.mmspeech_encoder.parameters()
            if p.requires_grad
        ]
        groups = [{"params": list(self.modules.ctc_lin.parameters())}]
        if encoder:
            scale = self.hparams.encoder_lr_scale
            groups.append(
                {
                    "params": encoder,
                    "lr": self.hparams.lr * scale,
                    "lr_scale": scale,
                }
            )
        self.optimizer = self.opt_class(groups)
        self.optimizers_dict = {"opt_class": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Steps the schedule (one rate for all), then scales the encoder's."""
        super().on_fit_batch_end(batch, outputs, loss, should_step)
        if should_step:
            for group in self.optimizer.param_groups:
                group["lr"] *= group.get("lr_scale", 1.0)

    def compute_forward(self, batch, stage):
        """Log-probabilities of the characters, and the relative lengths."""
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        states = self.modules.mmspeech_encoder(wavs, wav_lens)
        logits = self.modules.ctc_lin(states)
        return self.hparams.log_softmax(logits), wav_lens

    def compute_objectives(self, predictions, batch, stage):
        """CTC loss; in evaluation, the CER of greedy (and beam) decoding."""
        log_probs, wav_lens = predictions
        tokens, token_lens = batch.tokens
        loss = self.hparams.ctc_cost(log_probs, tokens, wav_lens, token_lens)
        if stage != sb.Stage.TRAIN:
            tokenizer = self.hparams.tokenizer
            targets = [list(text) for text in batch.text]
            hyps = self.hparams.greedy_decoding(log_probs, wav_lens)
            predicted = [list(tokenizer.decode_ids(hyp)) for hyp in hyps]
            self.cer_metric.append(batch.id, predicted, targets)
            if stage == sb.Stage.TEST and self.beam_cer_metric is not None:
                beams = self.hparams.test_beam_search(log_probs, wav_lens)
                predicted = [list(beam[0].text) for beam in beams]
                self.beam_cer_metric.append(batch.id, predicted, targets)
            self.eval_batches += 1
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Fresh CER metrics for evaluation stages."""
        if stage == sb.Stage.TRAIN:
            return
        self.cer_metric = self.hparams.cer_computer()
        self.beam_cer_metric = None
        if stage == sb.Stage.TEST and self.hparams.test_beam_size > 0:
            self.beam_cer_metric = self.hparams.cer_computer()
        self.eval_batches = 0

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs, checkpoints by validation CER, writes the test CER."""
        if stage == sb.Stage.TRAIN:
            # Every process trains on as many batches: the mean of means.
            self.train_stats = {
                "loss": all_reduce_sum([stage_loss])[0] / world_size()
            }
            return
        stats = {"loss": self._gather(stage_loss)}
        stats["CER"] = self.cer_metric.summarize("error_rate")
        if self.beam_cer_metric is not None:
            stats["beam CER"] = self.beam_cer_metric.summarize("error_rate")
        if stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["lr"]
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(
                meta={"CER": stats["CER"], "epoch": epoch},
                min_keys=["CER"],
                num_to_keep=self.hparams.avg_checkpoints,
            )
            return
        self.hparams.train_logger.log_stats(
            stats_meta={"Epoch loaded": self.hparams.epoch_counter.current},
            test_stats=stats,
        )
        if if_main_process():
            with open(self.hparams.cer_file, "w", encoding="utf-8") as w:
                self.cer_metric.write_stats(w)
        self.test_stats = stats

    def _gather(self, stage_loss):
        """The whole set's loss and CER under DDP (each process had a share)."""
        if world_size() == 1:
            return stage_loss
        gather_error_rate_stats(self.cer_metric)
        if self.beam_cer_metric is not None:
            gather_error_rate_stats(self.beam_cer_metric)
        loss_sum, batches = all_reduce_sum(
            [stage_loss * self.eval_batches, self.eval_batches]
        )
        return loss_sum / max(batches, 1)

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


def main(argv):
    """Prepares data, trains, tests and exports the model folder."""
    hparams_file, run_opts, overrides, hparams = load_hparams(argv)
    sb.utils.distributed.ddp_init_group(run_opts)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    run_on_main(
        prepare_aishell,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["csv_folder"],
            "skip_prep": hparams["skip_prep"],
        },
    )
    datasets = character_datasets(hparams)
    brain = CTCBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    train_kwargs = paired_loader_kwargs(
        hparams, datasets["train"], train=True, collate_fn=PaddedBatch
    )
    brain.plan_schedule(hparams, datasets["train"], train_kwargs, run_opts)

    def eval_kwargs(split):
        return paired_loader_kwargs(
            hparams, datasets[split], train=False, collate_fn=PaddedBatch
        )

    brain.fit(
        hparams["epoch_counter"],
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=train_kwargs,
        valid_loader_kwargs=eval_kwargs("valid"),
    )
    brain.evaluate(
        datasets["test"],
        min_key="CER",
        test_loader_kwargs=eval_kwargs("test"),
    )
    folder = run_on_main(
        write_ctc_model_folder,
        args=[
            hparams["model_folder"],
            hparams["mmspeech_encoder"],
            hparams["ctc_lin"],
            hparams["tokenizer"],
            values_from_hparams(hparams, CTC_INFERENCE_TEMPLATE),
        ],
    )
    if if_main_process():
        stats = brain.test_stats
        beam = (
            f", beam {hparams['test_beam_size']}: {stats['beam CER']:.2f}%"
            if "beam CER" in stats
            else ""
        )
        print(
            f"Test CER: greedy {stats['CER']:.2f}%{beam}  "
            f"(model folder: {folder})"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
    # After main: its Brain and DDP modules are gone before the group is.
    end_process_group()
