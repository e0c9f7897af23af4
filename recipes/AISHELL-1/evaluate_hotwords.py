#!/usr/bin/env python3
"""Hotword benchmark: a model folder on a hotword test, without and with lists.

The test comes from ``python -m speechbrain_mmspeech.mini_aishell.hotword_test``
(``test.csv`` and ``test_list_<N>.txt``; ``dev.*`` for choosing settings).
For each run (no hotwords, then each list) it prints CER, hotword recall and
precision, B-CER and U-CER (``speechbrain_mmspeech.inference.hotword_scoring``),
the same on the R1 subset (the utterances whose names the run without
hotwords recalls below 40%), and the decoding time (encoder and search, per
utterance, batch 1). A run with a list is scored against that list; the run
without hotwords against the largest list.

``--gate-rule`` prints the spotting scores of the spoken names (in their own
utterances) and of the list's other names (in every utterance), and the
threshold the documented rule gives: the largest multiple of 0.1 at which
at least 98% of the spoken names pass the gate; use it on dev::

    python evaluate_hotwords.py results/mini_aishell/model hotword_test/dev.csv \\
        --lists hotword_test/dev_list_1000.txt --gate-rule

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import tempfile
import time

import torch

from speechbrain_mmspeech.decoders.hotwords import (
    read_hotwords,
    spot_hotwords,
)
from speechbrain_mmspeech.inference.ASR import MMSpeechASR, encode_whole
from speechbrain_mmspeech.inference.hotword_scoring import HotwordStats
from speechbrain_mmspeech.inference.scoring import character_error_stats
from speechbrain_mmspeech.lobes.models.mmspeech import unpack_memory
from speechbrain_mmspeech.mini_aishell.hotword_test import (
    read_hotword_manifest,
)
from speechbrain_mmspeech.text import normalize_text

R1_RECALL = 40.0  # percent: names below it without hotwords form R1
GATE_RECALL = 0.98  # the gate rule: the share of spoken names that pass


def parse_args(argv=None):
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="model folder")
    parser.add_argument("manifest", help="hotword test CSV")
    parser.add_argument("--lists", nargs="+", required=True)
    parser.add_argument("--override", action="append", default=[])
    parser.add_argument("--gate-rule", action="store_true")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args(argv)


def decode(asr, rows, hotwords):
    """Hypotheses and decoding seconds (encoder + search) of the rows."""
    texts, seconds = [], 0.0
    with asr.using_hotwords(hotwords):
        for row in rows:
            wav = asr.load_audio(row["wav"])
            begin = time.perf_counter()
            with torch.no_grad():
                memory = encode_whole(asr, wav[None], torch.ones(1))
                hyp = asr.transcriber.searcher(memory, torch.ones(1))[0][0]
            seconds += time.perf_counter() - begin
            texts.append(asr.tokenizer.decode_ids(hyp))
    return texts, seconds


def score(rows, texts, listed, subset=None):
    """CER and hotword metrics of the rows (or of the subset's ids)."""
    keep = [
        i for i, row in enumerate(rows) if subset is None or row["ID"] in subset
    ]
    refs = [normalize_text(rows[i]["transcript"]) for i in keep]
    hyps = [texts[i] for i in keep]
    cer = character_error_stats([rows[i]["ID"] for i in keep], hyps, refs)
    stats = HotwordStats(listed)
    for ref, hyp in zip(refs, hyps):
        stats.append(ref, hyp)
    return cer.summarize("error_rate"), stats


def gate_rule(asr, rows, listed):
    """Spotting scores of spoken and unspoken listed names; the threshold."""
    scorer = asr.hotword_scorer()
    scorer.hotwords = listed
    table = scorer.table
    index = {word: k for k, word in enumerate(table.words)}
    spoken, unspoken, seconds = [], [], 0.0
    for row in rows:
        wav = asr.load_audio(row["wav"])
        with torch.no_grad():
            memory = encode_whole(asr, wav[None], torch.ones(1))
            hidden, _, padding = unpack_memory(memory)
            begin = time.perf_counter()
            log_probs = scorer.phone_logits(hidden).float().log_softmax(-1)
            scores = spot_hotwords(
                log_probs, (~padding).sum(1), table.phones, table.phone_lengths
            )[0]
            seconds += time.perf_counter() - begin
        names = {index[n] for n in row["names"] if n in index}
        for k in range(len(table)):
            (spoken if k in names else unspoken).append(float(scores[k]))
    scorer.hotwords = None
    spoken_t, unspoken_t = torch.tensor(spoken), torch.tensor(unspoken)
    threshold = None
    for step in range(0, -51, -1):
        value = step / 10
        if (spoken_t >= value).float().mean() >= GATE_RECALL:
            threshold = value
            break
    passed = (unspoken_t >= threshold).float().mean() * 100
    print(
        f"gate rule on {len(rows)} utterances, {len(table)} listed: "
        f"spoken names' scores median {spoken_t.median():.2f}, "
        f"unspoken median {unspoken_t.median():.2f}; threshold {threshold} "
        f"passes {100 * (spoken_t >= threshold).float().mean():.1f}% of "
        f"spoken and {passed:.2f}% of unspoken (name, utterance) pairs; "
        f"spotting {1000 * seconds / len(rows):.1f} ms per utterance"
    )


def main(argv=None):
    """Loads the folder, then decodes and scores each run."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = {}
    for pair in args.override:
        key, _, value = pair.partition("=")
        overrides[key] = float(value)
    rows = read_hotword_manifest(args.manifest)[: args.limit]
    lists = {path: read_hotwords(path) for path in args.lists}
    largest = max(lists.values(), key=len)
    with tempfile.TemporaryDirectory() as savedir:
        asr = MMSpeechASR.from_hparams(
            source=args.source, savedir=savedir, run_opts={"device": "cpu"}
        )
        scorer = asr.hotword_scorer()
        for key, value in overrides.items():
            if key == "hotword_weight":
                asr.transcriber.searcher.scorer.weights["hotword"] = value
            else:
                setattr(scorer, key.replace("hotword_", ""), value)
        if args.gate_rule:
            gate_rule(asr, rows, largest)
            return
        runs = ([] if args.no_baseline else [("none", None)]) + list(
            lists.items()
        )
        results = {}
        for name, words in runs:
            texts, seconds = decode(asr, rows, words)
            results[name] = (texts, seconds)
        r1 = None
        if "none" in results:
            _, base = score(rows, results["none"][0], largest)
            low = {w for w, r in base.word_recall().items() if r < R1_RECALL}
            r1 = {row["ID"] for row in rows if set(row["names"]) & low}
            print(f"R1: {len(low)} names, {len(r1)} utterances")
        settings = " ".join(args.override) or "folder settings"
        print(f"{args.manifest}, {len(rows)} utterances, {settings}")
        print(
            "| hotwords | CER | recall | precision | B-CER | U-CER | "
            "R1 recall | R1 B-CER | R1 U-CER | ms/utt |"
        )
        print("| --- " * 10 + "|")
        for name, (texts, seconds) in results.items():
            listed = largest if name == "none" else lists[name]
            cer, stats = score(rows, texts, listed)
            s = stats.summarize()
            cells = [
                name if name == "none" else f"{len(lists[name])}",
                f"{cer:.2f}",
                f"{s['recall']:.1f}",
                f"{s['precision']:.1f}",
                f"{s['B-CER']:.2f}",
                f"{s['U-CER']:.2f}",
            ]
            if r1:
                _, r1_stats = score(rows, texts, listed, r1)
                t = r1_stats.summarize()
                cells += [
                    f"{t['recall']:.1f}",
                    f"{t['B-CER']:.2f}",
                    f"{t['U-CER']:.2f}",
                ]
            else:
                cells += ["-"] * 3
            cells.append(f"{1000 * seconds / len(rows):.0f}")
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
