#!/usr/bin/env python3
"""Fine-tunes MMSpeech on AISHELL-1 with speech-to-text and phone CTC.

The network reads 80 Kaldi fbanks, its decoder predicts characters and its
encoder's phone head is trained with CTC on pinyin phones (the official
fine-tuning stage: S2T + PP). At the end, the checkpoints with the best
validation accuracy are averaged, evaluated on the test set (CER), and
written as a model folder that ``EncoderDecoderASR.from_hparams`` loads.

The test set can be decoded with a language model trained by
``train_lm.py`` (``--lm_mode=fusion`` or ``--lm_mode=rescoring`` with
``--lm_file=.../lm.ckpt``); the model folder then holds the LM too. Run
again on a finished output folder, the recipe only tests and exports.

To run on real AISHELL-1 (``data_folder`` holds ``wav/`` and
``transcript/``):

    python train.py hparams/finetune.yaml --data_folder=/data/data_aishell

and on the synthetic mini-AISHELL (see ``mini_aishell.py``):

    python mini_aishell.py data/mini
    python train.py hparams/finetune.yaml --data_folder=data/mini/data_aishell

Authors
 * MMSpeech plugin contributors 2026
"""

import csv
import logging
import math
import sys
from collections import Counter
from pathlib import Path

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import if_main_process, run_on_main

from speechbrain_mmspeech.export import write_model_folder
from speechbrain_mmspeech.frontend import load_audio
from speechbrain_mmspeech.lm import (
    LM_MODE_FUSION,
    LM_MODE_NONE,
    LM_MODE_RESCORING,
    LM_MODES,
    load_language_model,
    rescore_nbest,
)
from speechbrain_mmspeech.model import pack_memory
from speechbrain_mmspeech.tasks import restrict_to_vocabulary
from speechbrain_mmspeech.text import normalize_text

logger = logging.getLogger(__name__)


class ScheduledBrain(sb.Brain):
    """A ``Brain`` that steps ``hparams.lr_annealing`` after every update.

    When ``schedule_length`` (updates, warm-up updates) is set, the recovered
    scheduler keeps its step count but takes that total and warm-up, computed
    for the current ``number_of_epochs``, so extending a finished run keeps
    learning. Shared by the fine-tuning, pre-training and LM recipes.
    """

    schedule_length = None

    def on_fit_start(self):
        """Recovers, then sizes the schedule for this run's epoch count."""
        super().on_fit_start()
        if self.schedule_length is not None:
            scheduler = self.hparams.lr_annealing
            scheduler.num_training_steps, scheduler.num_warmup_steps = (
                self.schedule_length
            )

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Steps the learning-rate schedule after each optimizer update."""
        if should_step:
            self.hparams.lr_annealing(self.optimizer)


class ASR(ScheduledBrain):
    """Fine-tuning Brain: S2T cross-entropy plus phone CTC (PP)."""

    def compute_forward(self, batch, stage):
        """Features -> encoder (masked in training) -> decoder, phone head."""
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        tokens_bos, _ = batch.tokens_bos
        feats = self.hparams.compute_features(wavs, wav_lens)
        feats = self.modules.normalize(feats, wav_lens)
        mask_prob = (
            self.hparams.time_mask_prob if stage == sb.Stage.TRAIN else 0
        )
        logits, phone_logits, encoded = self.modules.model(
            feats, wav_lens, tokens_bos, time_mask_prob=mask_prob
        )
        hyps = None
        if self._decodes(stage):
            hyps = self._search(pack_memory(encoded), wav_lens, stage)
        return logits, phone_logits, encoded, hyps

    def _search(self, memory, wav_lens, stage):
        """Beam search; at test, with the language model ``lm_mode`` names."""
        if stage != sb.Stage.TEST:
            hyps, _, _, _ = self.hparams.valid_search(memory, wav_lens)
            return hyps
        lm_mode = self.hparams.lm_mode
        if lm_mode == LM_MODE_RESCORING:
            topk_hyps, topk_lengths, topk_scores, _ = (
                self.hparams.rescoring_search(memory, wav_lens)
            )
            hyps, _ = rescore_nbest(
                self.hparams.rescorer,
                self.hparams.tokenizer,
                topk_hyps,
                topk_lengths,
                topk_scores,
            )
            return hyps
        search = (
            self.hparams.fusion_search
            if lm_mode == LM_MODE_FUSION
            else self.hparams.test_search
        )
        hyps, _, _, _ = search(memory, wav_lens)
        return hyps

    def _decodes(self, stage):
        """Beam search on every test batch and every N-th validation."""
        if stage == sb.Stage.TEST:
            return True
        if stage == sb.Stage.VALID:
            epoch = self.hparams.epoch_counter.current
            return epoch % self.hparams.valid_search_interval == 0
        return False

    def compute_objectives(self, predictions, batch, stage):
        """Weighted S2T cross-entropy and phone CTC; metrics outside TRAIN."""
        logits, phone_logits, encoded, hyps = predictions
        tokens_eos, tokens_eos_lens = batch.tokens_eos
        phones, phone_lens = batch.phone_targets
        if self.hparams.s2t_text_only:
            logits = restrict_to_vocabulary(
                logits, self.hparams.text_vocab_size
            )
        log_probs = torch.log_softmax(logits, dim=-1)
        s2t_loss = sb.nnet.losses.nll_loss(
            log_probs,
            tokens_eos,
            length=tokens_eos_lens,
            label_smoothing=self.hparams.label_smoothing,
        )
        speech_frames = phone_logits.shape[1]
        speech_lens = encoded.speech_lengths.float() / speech_frames
        pp_loss = sb.nnet.losses.ctc_loss(
            torch.log_softmax(phone_logits, dim=-1),
            phones,
            speech_lens,
            phone_lens,
            blank_index=0,
        )
        loss = self.hparams.s2t_weight * s2t_loss
        loss = loss + self.hparams.ctc_weight * pp_loss
        if stage != sb.Stage.TRAIN:
            self.acc_metric.append(log_probs, tokens_eos, tokens_eos_lens)
            if hyps is not None:
                predicted = [
                    list(self.hparams.tokenizer.decode_ids(hyp)) for hyp in hyps
                ]
                targets = [list(text) for text in batch.text]
                self.cer_metric.append(batch.id, predicted, targets)
        return loss

    def on_stage_start(self, stage, epoch=None):
        """Fresh metrics for validation and test; the LM on the device."""
        if stage != sb.Stage.TRAIN:
            self.acc_metric = self.hparams.acc_computer()
            self.cer_metric = self.hparams.cer_computer()
        if stage == sb.Stage.TEST and self.hparams.lm_mode != LM_MODE_NONE:
            self.hparams.lm_model.to(self.device)

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs losses, accuracy and CER; checkpoints after validation."""
        stats = {"loss": stage_loss}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        stats["ACC"] = self.acc_metric.summarize()
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
        elif stage == sb.Stage.TEST:
            meta = {"Epoch loaded": self.hparams.epoch_counter.current}
            if self.hparams.lm_mode != LM_MODE_NONE:
                meta["LM"] = self.hparams.lm_mode
                meta["LM weight"] = self.hparams.lm_weight
            self.hparams.train_logger.log_stats(
                stats_meta=meta, test_stats=stats
            )
            if if_main_process():
                with open(self.hparams.cer_file, "w", encoding="utf-8") as w:
                    self.cer_metric.write_stats(w)
            self.test_stats = stats

    def on_evaluate_start(self, max_key=None, min_key=None):
        """Averages the best checkpoints into the model before testing."""
        super().on_evaluate_start()
        checkpoints = self.checkpointer.find_checkpoints(
            max_key=max_key,
            min_key=min_key,
            max_num_checkpoints=self.hparams.avg_checkpoints,
        )
        if not checkpoints:
            return
        averaged = sb.utils.checkpoints.average_checkpoints(
            checkpoints, recoverable_name="model"
        )
        self.hparams.model.load_state_dict(averaged, strict=True)
        logger.info("Averaged %d checkpoints for testing", len(checkpoints))


def prepare_tokenizer(hparams):
    """Builds the character vocabulary from training text (main process)."""
    path = Path(hparams["save_folder"]) / "tokenizer.ckpt"
    if path.exists():
        return
    texts = list(read_csv_column(hparams["train_csv"], "transcript"))
    for text_file in hparams["tokenizer_extra_text"]:
        texts.extend(Path(text_file).read_text(encoding="utf-8").splitlines())
    tokenizer = hparams["tokenizer"]
    tokenizer.build(texts, hparams["text_vocab_size"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(path)


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


def read_csv_column(csv_path, column):
    """Yields one column of a SpeechBrain CSV manifest."""
    with open(csv_path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            yield row[column]


def report_unknown_characters(hparams, tokenizer):
    """Logs, per split, transcript characters outside the vocabulary.

    They are trained and scored as ``<unk>`` (and so always count as errors
    in the CER); this makes the count visible instead of silent.
    """
    for csv_key in ["train_csv", "valid_csv", "test_csv"]:
        unknown = Counter()
        for transcript in read_csv_column(hparams[csv_key], "transcript"):
            text = normalize_text(transcript)
            ids = tokenizer.encode_as_ids(text)
            unknown.update(
                char
                for char, index in zip(text, ids)
                if index == tokenizer.unk_index
            )
        if unknown:
            logger.warning(
                "%s: %d characters outside the vocabulary (%d distinct, "
                "e.g. %s) become <unk>",
                hparams[csv_key],
                sum(unknown.values()),
                len(unknown),
                "".join(char for char, _ in unknown.most_common(10)),
            )


def heldout_sentences(hparams):
    """The normalised dev and test transcripts.

    Arguments
    ---------
    hparams : dict
        ``valid_csv`` and ``test_csv``.

    Returns
    -------
    set of str
        The sentences the LM must never train on.
    """
    sentences = set()
    for key in ["valid_csv", "test_csv"]:
        texts = read_csv_column(hparams[key], "transcript")
        sentences.update(normalize_text(text) for text in texts)
    return sentences - {""}


def dataio_prepare(hparams):
    """Builds the train/valid/test datasets and their pipelines."""
    tokenizer = hparams["tokenizer"]
    pinyin = hparams["pinyin_tokenizer"]
    datasets = {}
    for split, csv_key in [
        ("train", "train_csv"),
        ("valid", "valid_csv"),
        ("test", "test_csv"),
    ]:
        dataset = sb.dataio.dataset.DynamicItemDataset.from_csv(
            csv_path=hparams[csv_key]
        )
        datasets[split] = dataset.filtered_sorted(
            sort_key="duration",
            reverse=hparams["sorting"] == "descending",
            key_min_value={"duration": hparams["min_duration"]},
            key_max_value={"duration": hparams["max_duration"]},
        )
    all_sets = list(datasets.values())

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(wav):
        return load_audio(wav)

    @sb.utils.data_pipeline.takes("transcript")
    @sb.utils.data_pipeline.provides(
        "text", "tokens_bos", "tokens_eos", "phone_targets"
    )
    def text_pipeline(transcript):
        text = normalize_text(transcript)
        yield text
        tokens = tokenizer.encode_as_ids(text)
        yield torch.LongTensor([tokenizer.bos_index] + tokens)
        yield torch.LongTensor(tokens + [tokenizer.eos_index])
        phones = pinyin.encode_as_ids(text)
        yield torch.LongTensor(pinyin.ids_to_ctc_targets(phones))

    sb.dataio.dataset.add_dynamic_item(all_sets, audio_pipeline)
    sb.dataio.dataset.add_dynamic_item(all_sets, text_pipeline)
    sb.dataio.dataset.set_output_keys(
        all_sets,
        ["id", "sig", "text", "tokens_bos", "tokens_eos", "phone_targets"],
    )
    return datasets


def make_loader_kwargs(hparams, dataset, train):
    """Dynamic batching (by seconds of audio) or fixed-size batches."""
    if not hparams["dynamic_batching"]:
        key = "train_dataloader_opts" if train else "valid_dataloader_opts"
        return dict(hparams[key])
    key = (
        "dynamic_batch_sampler_train"
        if train
        else "dynamic_batch_sampler_valid"
    )
    sampler = sb.dataio.sampler.DynamicBatchSampler(
        dataset,
        length_func=lambda x: x["duration"],
        **hparams[key],
    )
    return {"batch_sampler": sampler, "num_workers": hparams["num_workers"]}


def load_pretrained(model, path):
    """Starts from a pre-trained MMSpeech state dict (e.g. a model.ckpt)."""
    state = torch.load(path, map_location="cpu")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise ValueError(f"{path}: unexpected parameters {unexpected[:5]} ...")
    logger.info(
        "Loaded %s (%d parameters left as initialised)", path, len(missing)
    )


def main(argv):
    """Prepares data, fine-tunes, tests and exports the model folder."""
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.utils.distributed.ddp_init_group(run_opts)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )

    from aishell_prepare import prepare_aishell

    run_on_main(
        prepare_aishell,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["csv_folder"],
            "skip_prep": hparams["skip_prep"],
        },
    )
    run_on_main(prepare_tokenizer, kwargs={"hparams": hparams})
    hparams["tokenizer"].load(Path(hparams["save_folder"]) / "tokenizer.ckpt")
    report_unknown_characters(hparams, hparams["tokenizer"])
    language_model = prepare_language_model(hparams)
    datasets = dataio_prepare(hparams)

    if hparams["pretrained_model"]:
        load_pretrained(hparams["model"], hparams["pretrained_model"])

    asr_brain = ASR(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    train_kwargs = make_loader_kwargs(hparams, datasets["train"], train=True)
    valid_kwargs = make_loader_kwargs(hparams, datasets["valid"], train=False)
    # Brain calls set_epoch only on `train_sampler`: with it, the batch order
    # is a function of the epoch, so a resumed run skips exactly the batches
    # it had already trained on, and each epoch is reshuffled.
    asr_brain.train_sampler = train_kwargs.get("batch_sampler")
    asr_brain.schedule_length = schedule_length(
        hparams, datasets["train"], train_kwargs, run_opts
    )

    asr_brain.fit(
        asr_brain.hparams.epoch_counter,
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=train_kwargs,
        valid_loader_kwargs=valid_kwargs,
    )
    asr_brain.evaluate(
        datasets["test"],
        max_key="ACC",
        test_loader_kwargs=make_loader_kwargs(
            hparams, datasets["test"], train=False
        ),
    )
    if if_main_process():
        settings = dict(hparams["inference_settings"])
        if language_model is not None:
            settings.update(hparams["lm_inference_settings"])
        folder = write_model_folder(
            hparams["model_folder"],
            hparams["model"],
            hparams["tokenizer"],
            settings,
            language_model=language_model,
        )
        cer = asr_brain.test_stats["CER"]
        lm_note = ""
        if language_model is not None:
            lm_note = f", LM {hparams['lm_mode']} weight {hparams['lm_weight']}"
        print(f"Test CER: {cer:.2f}%{lm_note}  (model folder: {folder})")


def schedule_length(hparams, train_set, train_kwargs, run_opts):
    """Number of updates and of warm-up updates for the whole run."""
    if "batch_sampler" in train_kwargs:
        batches = len(train_kwargs["batch_sampler"])
    else:
        batches = math.ceil(len(train_set) / train_kwargs["batch_size"])
    accumulation = run_opts.get("grad_accumulation_factor", 1) or 1
    updates = hparams["number_of_epochs"] * math.ceil(batches / accumulation)
    warmup = int(hparams["warmup_fraction"] * updates)
    logger.info("Schedule: %d updates, %d warm-up", updates, warmup)
    return updates, warmup


if __name__ == "__main__":
    main(sys.argv[1:])
