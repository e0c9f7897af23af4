#!/usr/bin/env python3
"""Where a fine-tuning epoch's time goes, phase by phase.

Builds the fine-tuning Brain, data and batches exactly as ``train.py`` does
(from the same YAML and overrides), then trains one epoch by hand so that
each phase can be timed on its own, and runs one validation pass:

- data: reading the audio and the text, collating (the loader);
- fbank: features and CMVN of the labeled speech;
- encoder / decoder: forward passes of S2T + PP and of P2T (forward hooks
  on the encoder, the phone-input path and the decoder);
- losses: the tasks' losses;
- backward;
- optimizer: gradient clipping, AdamW and the learning-rate schedule;
- validation: the dev set, teacher-forced (as every epoch but the last).

Run with ``--precision=bf16`` to train under bf16 autocast, as SpeechBrain's
``precision`` run option does. It prints one line per phase, with seconds
and share, and the epoch's utterances per second::

    python profile_epoch.py hparams/finetune.yaml \\
        --data_folder=data/mini_aishell/data_aishell \\
        --output_folder=results/profile --device=cpu

Authors
 * MMSpeech plugin contributors 2026
"""

import contextlib
import sys
import time
from collections import defaultdict
from pathlib import Path

import speechbrain as sb
import torch

from speechbrain_mmspeech.dataio.aishell_prepare import prepare_aishell
from speechbrain_mmspeech.dataio.batches import (
    PAIRED,
    TEXT,
    finetuning_loader,
    paired_loader_kwargs,
)
from speechbrain_mmspeech.dataio.pools import paired_datasets, text_dataset
from speechbrain_mmspeech.dataio.text_pool import prepare_tokenizer
from speechbrain_mmspeech.export.folders import TOKENIZER_FILE
from speechbrain_mmspeech.training.brain import MMSpeechBrain
from speechbrain_mmspeech.training.settings import load_hparams


class PhaseClock:
    """Accumulates wall time per named phase.

    Example
    -------
    >>> clock = PhaseClock()
    >>> with clock("work"):
    ...     _ = sum(range(1000))
    >>> list(clock.seconds)
    ['work']
    """

    def __init__(self):
        self.seconds = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, phase):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - start


def time_module(clock, module, phase):
    """Adds ``module``'s forward time to ``phase`` (forward hooks)."""
    starts = []
    module.register_forward_pre_hook(
        lambda *_: starts.append(time.perf_counter())
    )

    def stop(*_):
        clock.seconds[phase] += time.perf_counter() - starts.pop()

    module.register_forward_hook(stop)


def main(argv):
    """Builds the run as train.py does, then times one epoch."""
    hparams_file, run_opts, overrides, hparams = load_hparams(argv)
    Path(hparams["output_folder"]).mkdir(parents=True, exist_ok=True)
    prepare_aishell(hparams["data_folder"], hparams["csv_folder"])
    prepare_tokenizer(hparams)
    hparams["tokenizer"].load(Path(hparams["save_folder"]) / TOKENIZER_FILE)
    datasets = paired_datasets(hparams)
    brain = MMSpeechBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
    )
    train_set, train_kwargs = finetuning_loader(
        hparams, datasets["train"], text_dataset(hparams)
    )
    brain.plan_schedule(hparams, train_set, train_kwargs, run_opts)
    brain.init_optimizers()
    brain.train_sampler.set_epoch(1)
    loader = brain.make_dataloader(
        train_set, stage=sb.Stage.TRAIN, **train_kwargs
    )
    model = brain.model
    clock = PhaseClock()
    time_module(clock, model.encoder, "encoder forward")
    time_module(clock, model.decoder, "decoder forward")
    brain.modules.train()
    n_utterances = 0
    start = time.perf_counter()
    batches = iter(loader)
    for _ in range(len(loader)):
        with clock("data (audio read, collate)"):
            batch = next(batches).to(brain.device)
        outputs = {}
        with brain.training_ctx:
            if PAIRED in batch:
                sub = batch[PAIRED]
                n_utterances += len(sub.id)
                with clock("fbank + CMVN"):
                    feats, wav_lens = brain._features(sub, augment=True)
                outputs[PAIRED] = hparams["s2t_task"].forward(
                    model, feats, wav_lens, sub.tokens_bos.data
                )
            if TEXT in batch:
                phones, phone_lens = batch[TEXT].phones
                outputs[TEXT] = hparams["p2t_task"].forward(
                    model, phones, phone_lens, batch[TEXT].tokens_bos.data
                )
            with clock("losses"):
                loss = brain.compute_objectives(outputs, batch, sb.Stage.TRAIN)
        with clock("backward"):
            loss.backward()
        with clock("optimizer (clip, AdamW, schedule)"):
            brain.optimizers_step()
            brain.on_fit_batch_end(batch, outputs, loss, True)
    train_seconds = time.perf_counter() - start

    valid_kwargs = paired_loader_kwargs(hparams, datasets["valid"], train=False)
    valid_loader = brain.make_dataloader(
        datasets["valid"], stage=sb.Stage.VALID, **valid_kwargs
    )
    hparams["epoch_counter"].current = 1  # a validation without search
    brain.on_stage_start(sb.Stage.VALID, epoch=1)
    brain.modules.eval()
    with clock("validation (dev, teacher-forced)"):
        with torch.no_grad():
            for batch in valid_loader:
                brain.evaluate_batch(batch, sb.Stage.VALID)

    forward_total = sum(
        clock.seconds[phase] for phase in ("encoder forward", "decoder forward")
    )
    accounted = sum(
        seconds
        for phase, seconds in clock.seconds.items()
        if not phase.startswith("validation")
    )
    other = train_seconds - accounted
    print(
        f"precision {brain.precision}, threads {torch.get_num_threads()}, "
        f"{len(loader)} batches, {n_utterances} utterances"
    )
    print(f"{'phase':40s} {'seconds':>8s} {'share':>6s}")
    rows = list(clock.seconds.items()) + [("other (P2T masking, ...)", other)]
    for phase, seconds in rows:
        share = (
            ""
            if phase.startswith("validation")
            else (f"{100 * seconds / train_seconds:5.1f}%")
        )
        print(f"{phase:40s} {seconds:8.1f} {share:>6s}")
    print(f"{'forward (encoder + decoder)':40s} {forward_total:8.1f}")
    print(
        f"training epoch: {train_seconds:.1f} s, "
        f"{n_utterances / train_seconds:.1f} utterances/s; "
        f"loss of the last batch {loss.item():.3f}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
