#!/usr/bin/env python3
"""Decoding speed of MMSpeech at the official sizes and of a model folder.

Two kinds of model:

- ``--presets base large`` (names of the top-level ``hparams/`` presets or paths to preset
  YAMLs): the architecture with random weights, built from the inference
  template as a model folder would be. Random weights never choose
  ``</s>``, so the output length of each utterance is forced
  (``LengthForcedSearcher``, the package's searcher with a forced output
  length) to its reference length: the
  transcript's character count, or ``duration * --chars-per-second`` rows
  without a transcript. No CER.
- ``--model-folder``: a trained model folder (``from_hparams``), decoding
  freely; the CER is reported when the CSV has transcripts.

Each model is measured for every batch size (``--batch-sizes``), weight
type (``--quantize none int8`` and ``--precision fp32 bf16``; int8 is not
combined with bf16) and decoder cache setting (``--cache on off``), with
the official search (beam 5, no repeated 5-grams) unless a folder says
otherwise. Every configuration runs in a fresh process, so that
its peak memory (``ru_maxrss``) is its own. Printed per configuration:
real-time factor, utterances per second, encoder and decoder seconds (the
encoder includes the front end; audio reading is excluded), the decoder's
share, resident memory after loading and at peak, and CER.

The audio is a CSV with ``wav`` and ``duration`` columns (``transcript``
optional), e.g. mini-AISHELL's ``test.csv``, sorted longest first and cut
into batches; without ``--csv``, ``--generate`` noise utterances of
``--seconds`` each. The first batch is decoded once untimed (warm-up).

``--per-token 16 64 128`` measures instead, for the presets, the decoder
time per output token of one utterance (batch 1) forced to each of those
lengths: with the cache it should stay nearly flat as the output grows.
``--profile`` adds, per configuration, the operators that took the most
time (``torch.profiler``).

Commands (from ``recipes/AISHELL-1``, on an otherwise idle machine)::

    python benchmark_decoding.py --presets base large \\
        --csv results/mini_aishell/data/test.csv
    python benchmark_decoding.py --presets base large --per-token 16 64 128
    python benchmark_decoding.py --model-folder results/mini_aishell/model \\
        --csv results/mini_aishell/data/test.csv
    python benchmark_decoding.py --presets base --quantize none \\
        --precision bf16 --cache on --csv results/mini_aishell/data/test.csv

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import NamedTuple

import torch
import yaml
from hyperpyyaml import load_hyperpyyaml

from speechbrain_mmspeech.dataio import manifests
from speechbrain_mmspeech.dataio.audio import SAMPLE_RATE, load_audio
from speechbrain_mmspeech.decoders.seq2seq import MMSpeechBeamSearcher
from speechbrain_mmspeech.export.folders import (
    HPARAMS,
    INFERENCE_TEMPLATE,
    folder_keys,
    render_hparams,
)
from speechbrain_mmspeech.inference.ASR import MMSpeechASR
from speechbrain_mmspeech.inference.quantization import (
    PRECISION_FP32,
    PRECISION_MODES,
    QUANTIZE_MODES,
    QUANTIZE_NONE,
    lower_precision,
)
from speechbrain_mmspeech.inference.scoring import character_error_stats
from speechbrain_mmspeech.inference.segment_decoding import pad_segments

PRESET_DIR = Path(str(HPARAMS))
MIB = 1024  # ru_maxrss is in KiB on Linux
COLUMNS = (
    ("model", "{}"),
    ("batch", "{}"),
    ("weights", "{}"),
    ("cache", "{}"),
    ("RTF", "{:.4f}"),
    ("utt/s", "{:.2f}"),
    ("encoder s", "{:.2f}"),
    ("decoder s", "{:.2f}"),
    ("decoder %", "{:.0f}"),
    ("loaded MiB", "{:.0f}"),
    ("peak MiB", "{:.0f}"),
    ("CER %", "{}"),
)


class Utterance(NamedTuple):
    """One utterance to decode."""

    wav: torch.Tensor
    seconds: float
    reference: str  # None without a transcript
    length: int  # the output length forced with random weights


class LengthForcedSearcher(MMSpeechBeamSearcher):
    """``MMSpeechBeamSearcher`` whose outputs have given lengths.

    Random weights never choose ``</s>`` on their own; for speed
    measurements, utterance ``b`` of the next searches emits exactly
    ``forced_lengths[b]`` tokens and ``</s>`` (``</s>`` is banned before,
    everything else at that step), within the decoder positions.

    Arguments
    ---------
    *args, **kwargs
        Those of ``MMSpeechBeamSearcher``.

    Attributes
    ----------
    forced_lengths : torch.Tensor
        ``[batch]`` token counts for the next searches (None: free search).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.forced_lengths = None

    def change_max_decoding_length(self, min_decode_steps, max_decode_steps):
        """The forced tokens and ``</s>``, within the decoder positions."""
        if self.forced_lengths is None:
            return super().change_max_decoding_length(
                min_decode_steps, max_decode_steps
            )
        longest = int(self.forced_lengths.max()) + 1
        return 0, min(longest, self.model.decoder.max_positions - 1)

    def forward_step(self, inp_tokens, memory, enc_states, enc_lens):
        """The searcher's step, then ``</s>`` only where the length is due."""
        log_probs, memory, attn = super().forward_step(
            inp_tokens, memory, enc_states, enc_lens
        )
        if self.forced_lengths is not None:
            emitted = memory.tokens.shape[1] - 1  # after <s>
            lengths = self.forced_lengths.to(log_probs.device)
            due = emitted >= lengths.repeat_interleave(self.beam_size)
            log_probs[~due, self.eos_index] = self.minus_inf
            eos = log_probs[due, self.eos_index]
            log_probs[due] = self.minus_inf
            log_probs[due, self.eos_index] = eos
        return log_probs, memory, attn


def parse_args(argv=None):
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="*", default=[])
    parser.add_argument("--model-folder", default=None)
    parser.add_argument("--csv", default=None, help="wav,duration[,transcript]")
    parser.add_argument("--limit", type=int, default=None, help="first N rows")
    parser.add_argument("--generate", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--chars-per-second", type=float, default=3.0)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--quantize",
        nargs="+",
        default=list(QUANTIZE_MODES),
        choices=QUANTIZE_MODES,
    )
    parser.add_argument(
        "--precision",
        nargs="+",
        default=[PRECISION_FP32],
        choices=PRECISION_MODES,
        help="bf16 is measured with --quantize none only",
    )
    parser.add_argument(
        "--cache", nargs="+", default=["on", "off"], choices=["on", "off"]
    )
    parser.add_argument("--per-token", type=int, nargs="*", default=None)
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--no-repeat-ngram-size", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print where the time goes (torch.profiler, by operator; "
        "the times then include the profiler's overhead)",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run every configuration in this process (peak memory is then "
        "the largest so far)",
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.presets and not args.model_folder and not args.worker:
        parser.error("give --presets and/or --model-folder")
    if args.per_token is not None and args.model_folder:
        parser.error("--per-token forces lengths: give --presets only")
    if (
        QUANTIZE_NONE not in args.quantize
        and PRECISION_FP32 not in args.precision
    ):
        parser.error(
            f"int8 is not combined with bf16: add --quantize {QUANTIZE_NONE} "
            f"or --precision {PRECISION_FP32}"
        )
    return args


def preset_path(name):
    """A preset name (``base``) or a path to a preset YAML."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        return path
    return PRESET_DIR / f"{name}.yaml"


def read_utterances(config):
    """The CSV rows, or generated noise, as ``Utterance`` (longest first)."""
    cps = config["chars_per_second"]
    utterances = []
    if config["csv"]:
        for row in manifests.read_utterances(config["csv"], config["limit"]):
            wav = load_audio(row.wav)
            seconds = wav.shape[0] / SAMPLE_RATE
            reference = row.reference
            if reference is not None:
                length = len(reference)
            else:
                length = round(row.duration * cps)
            utterances.append(Utterance(wav, seconds, reference, length))
    else:
        generator = torch.Generator().manual_seed(0)
        samples = round(config["seconds"] * SAMPLE_RATE)
        for _ in range(config["generate"]):
            wav = 0.1 * torch.randn(samples, generator=generator)
            length = round(config["seconds"] * cps)
            utterances.append(Utterance(wav, config["seconds"], None, length))
    return sorted(utterances, key=lambda u: -u.seconds)


def batches_of(utterances, size):
    """Consecutive batches of ``size`` utterances."""
    return [utterances[i : i + size] for i in range(0, len(utterances), size)]


def resident_mib():
    """Current resident memory of this process."""
    with open("/proc/self/statm", encoding="utf-8") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024**2


def build_from_preset(config):
    """Random-weight model of a preset, wired as a model folder would be."""
    with open(config["preset"], encoding="utf-8") as f:
        values = {"architecture": yaml.safe_load(f)}
    values.update(
        beam_size=config["beam_size"],
        no_repeat_ngram_size=config["no_repeat_ngram_size"],
        use_cache=config["cache"] == "on",
    )
    template = INFERENCE_TEMPLATE.read_text(encoding="utf-8")
    rendered = render_hparams(template, values)
    # The folder's searcher, with lengths forced (this module's subclass).
    searcher = f"!new:{MMSpeechBeamSearcher.__module__}.MMSpeechBeamSearcher"
    assert searcher in rendered, searcher
    rendered = rendered.replace(
        searcher, f"!new:{__name__}.LengthForcedSearcher"
    )
    torch.manual_seed(0)
    hparams = load_hyperpyyaml(rendered)
    model = hparams["model"].eval()
    text_vocab_size = hparams["architecture"]["text_vocab_size"]
    lower_precision(
        model, config["quantize"], config["precision"], text_vocab_size
    )
    return MMSpeechASR(
        modules=hparams["modules"],
        hparams=hparams,
        run_opts={"device": "cpu"},
    )


def build_from_folder(config):
    """A model folder through ``from_hparams``, with the config's options."""
    folder = Path(config["folder"]).resolve()
    overrides = {
        "use_cache": config["cache"] == "on",
        "quantize": config["quantize"],
        "precision": config["precision"],
    }
    if "precision" not in folder_keys(folder):
        if config["precision"] != PRECISION_FP32:
            raise ValueError(
                f"{folder} has no precision key (written before it existed): "
                "write it again with this version (train.py run again on the "
                "finished output folder only tests and exports)"
            )
        del overrides["precision"]  # an fp32 folder
    return MMSpeechASR.from_hparams(
        source=str(folder),
        savedir=tempfile.mkdtemp(prefix="mmspeech_bench_"),
        run_opts={"device": "cpu"},
        overrides=overrides,
    )


def decode(asr, batch, force):
    """Decodes one batch; returns hypotheses, encoder and decoder seconds.

    Each utterance is decoded whole, without segmentation:
    ``MMSpeechASR.encode_batch`` encodes the waveforms as they are and the
    searcher (``hparams.decoder``) runs on that memory.
    """
    wavs, wav_lens = pad_segments([u.wav for u in batch])
    searcher = asr.hparams.decoder
    if force:
        searcher.forced_lengths = torch.tensor([u.length for u in batch])
    with torch.no_grad():
        start = time.perf_counter()
        memory = asr.encode_batch(wavs, wav_lens)
        encoded = time.perf_counter()
        hyps, _, _, _ = searcher(memory, wav_lens)
        decoded = time.perf_counter()
    return hyps, encoded - start, decoded - encoded


def run_config(config):
    """Measures one configuration in this process; returns its numbers."""
    torch.set_num_threads(config["threads"])
    force = "preset" in config
    asr = build_from_preset(config) if force else build_from_folder(config)
    loaded_mib = resident_mib()
    utterances = read_utterances(config)
    if config["per_token"]:
        return run_per_token(config, asr, utterances[0], loaded_mib)
    batches = batches_of(utterances, config["batch_size"])
    decode(asr, batches[0], force)  # warm-up
    scored = []  # (id, hypothesis, reference)
    encoder_s = decoder_s = 0.0
    profiler = nullcontext()
    if config["profile"]:
        annotate_modules(asr.mods.transformer)
        profiler = torch.profiler.profile(acc_events=True)
    with profiler:
        results = [decode(asr, batch, force) for batch in batches]
    for index, (batch, (hyps, enc, dec)) in enumerate(zip(batches, results)):
        encoder_s, decoder_s = encoder_s + enc, decoder_s + dec
        for row, (utterance, hyp) in enumerate(zip(batch, hyps)):
            if utterance.reference is not None and not force:
                text = asr.tokenizer.decode_ids([int(t) for t in hyp])
                scored.append((f"{index}-{row}", text, utterance.reference))
    cer = character_error_stats(*zip(*scored)) if scored else None
    audio_s = sum(u.seconds for u in utterances)
    total_s = encoder_s + decoder_s
    return {
        **describe(config),
        "utterances": len(utterances),
        "audio_s": audio_s,
        "RTF": total_s / audio_s,
        "utt/s": len(utterances) / total_s,
        "encoder s": encoder_s,
        "decoder s": decoder_s,
        "decoder %": 100 * decoder_s / total_s,
        "loaded MiB": loaded_mib,
        "peak MiB": peak_mib(),
        "CER %": f"{cer.summarize('error_rate'):.2f}" if cer else "-",
        "profile": profile_table(profiler) if config["profile"] else None,
    }


def run_per_token(config, asr, utterance, loaded_mib):
    """Decoder seconds per output token at each forced length (batch 1)."""
    searcher = asr.hparams.decoder
    times = {}
    for length in [config["per_token"][0], *config["per_token"]]:
        forced = utterance._replace(length=length)
        _, _, seconds = decode(asr, [forced], force=True)
        times[length] = seconds  # the first length runs twice: warm-up
    searcher.forced_lengths = None
    return {
        **describe(config),
        "seconds": utterance.seconds,
        "ms/token": {n: 1000 * s / n for n, s in times.items()},
        "loaded MiB": loaded_mib,
        "peak MiB": peak_mib(),
    }


# The steps of decoding, by object and method, marked for the profiler.
PROFILED_METHODS = {
    "MMSpeech": ["encode", "decode", "start_decoding", "decode_step"],
    "TextDecoder": ["embed", "init_cache", "forward_step", "project"],
    "TextDecoderLayer": ["forward_step"],
    "SpeechTransformer": ["forward"],
    "Conv2dSubsampling": ["forward"],
    "ConvPositionalEmbedding": ["forward"],
}


def annotate_modules(model):
    """Marks the steps of encoding and decoding for the profiler.

    Each method of ``PROFILED_METHODS`` of the model's parts runs inside a
    ``torch.profiler.record_function("module::<class>.<method>")`` range, so
    the profile also sums the time by part of the model (a range includes
    the ranges it calls).

    Arguments
    ---------
    model : torch.nn.Module
        The ``MMSpeech`` model (possibly quantized or in bf16).
    """
    for module in model.modules():
        kind = type(module).__name__
        for method in PROFILED_METHODS.get(kind, []):
            function = getattr(module, method)
            label = f"module::{kind}.{method}"

            def marked(*args, _function=function, _label=label, **kwargs):
                with torch.profiler.record_function(_label):
                    return _function(*args, **kwargs)

            setattr(module, method, marked)


def profile_table(profiler, rows=15):
    """The modules and the operators that took the most time.

    Arguments
    ---------
    profiler : torch.profiler.profile
        A finished profile.
    rows : int
        Operators shown.

    Returns
    -------
    str
        Module ranges (``annotate_modules``) by total time, then
        torch.profiler's operator table.
    """
    averages = profiler.key_averages()
    total = sum(event.self_cpu_time_total for event in averages) or 1
    modules = sorted(
        (e for e in averages if e.key.startswith("module::")),
        key=lambda event: -event.cpu_time_total,
    )
    lines = ["part (time including what it calls) | % of all | calls"]
    for event in modules:
        share = 100 * event.cpu_time_total / total
        lines.append(f"{event.key[8:]} | {share:.1f} | {event.count}")
    return (
        "\n".join(lines)
        + "\n\n"
        + averages.table(sort_by="self_cpu_time_total", row_limit=rows)
    )


def peak_mib():
    """Peak resident memory of this process."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MIB


def describe(config):
    """The configuration columns of a result."""
    if "preset" in config:
        model = Path(config["preset"]).stem + " (random)"
    else:
        model = f"folder {Path(config['folder']).resolve().name}"
    return {
        "model": model,
        "batch": config["batch_size"],
        "weights": (
            config["precision"]
            if config["quantize"] == QUANTIZE_NONE
            else config["quantize"]
        ),
        "cache": config["cache"],
    }


def describe_result(result):
    """One line naming a result's configuration."""
    return ", ".join(
        f"{key} {result[key]}" for key in ("model", "batch", "weights", "cache")
    )


def configurations(args):
    """Every configuration the arguments ask for."""
    common = {
        "csv": args.csv,
        "limit": args.limit,
        "generate": args.generate,
        "seconds": args.seconds,
        "chars_per_second": args.chars_per_second,
        "beam_size": args.beam_size,
        "no_repeat_ngram_size": args.no_repeat_ngram_size,
        "threads": args.threads,
        "per_token": args.per_token,
        "profile": args.profile,
    }
    models = [{"preset": str(preset_path(p))} for p in args.presets]
    if args.model_folder:
        models.append({"folder": args.model_folder})
    batch_sizes = [1] if args.per_token else args.batch_sizes
    # int8 replaces the fp32 weights: it is not combined with bf16.
    weights = [
        (quantize, precision)
        for quantize in args.quantize
        for precision in args.precision
        if quantize == QUANTIZE_NONE or precision == PRECISION_FP32
    ]
    for model in models:
        for batch_size in batch_sizes:
            for quantize, precision in weights:
                for cache in args.cache:
                    yield {
                        **common,
                        **model,
                        "batch_size": batch_size,
                        "quantize": quantize,
                        "precision": precision,
                        "cache": cache,
                    }


def run_isolated(config):
    """Runs one configuration in a fresh Python process."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(config["threads"])
    command = [sys.executable, __file__, "--worker", json.dumps(config)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{describe(config)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(results, per_token):
    """Prints the results as a Markdown table."""
    if per_token:
        lengths = list(results[0]["ms/token"])
        head = ["model", "weights", "cache"] + [
            f"ms/token @{n}" for n in lengths
        ]
        print("| " + " | ".join(head) + " |")
        print("|" + " --- |" * len(head))
        for result in results:
            cells = [result["model"], result["weights"], result["cache"]]
            cells += [f"{result['ms/token'][n]:.1f}" for n in lengths]
            print("| " + " | ".join(cells) + " |")
        return
    print("| " + " | ".join(name for name, _ in COLUMNS) + " |")
    print("|" + " --- |" * len(COLUMNS))
    for result in results:
        cells = [form.format(result[name]) for name, form in COLUMNS]
        print("| " + " | ".join(cells) + " |")


def main(argv=None):
    """Runs every configuration and prints the table."""
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_config(json.loads(args.worker))))
        return
    results = []
    for config in configurations(args):
        result = run_config(config) if args.in_process else run_isolated(config)
        if args.per_token:
            # JSON turns the lengths into strings.
            result["ms/token"] = {
                int(n): t for n, t in result["ms/token"].items()
            }
        results.append(result)
        summary = {k: v for k, v in result.items() if k != "profile"}
        print(json.dumps(summary), file=sys.stderr, flush=True)
    audio = "generated noise" if not args.csv else args.csv
    print(
        f"\n{torch.get_num_threads() if args.in_process else args.threads} "
        f"threads, beam {args.beam_size}, audio: {audio}\n"
    )
    print_table(results, args.per_token)
    for result in results:
        if result.get("profile"):
            print(f"\n{describe_result(result)}\n{result['profile']}")


if __name__ == "__main__":
    main()
