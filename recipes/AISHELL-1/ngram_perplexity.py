#!/usr/bin/env python3
"""Perplexity, build time and size of the character n-gram LM on a text pool.

Holds out ``--heldout`` random sentences of a text file (one sentence per
line, e.g. mini-AISHELL's ``text_corpus.txt``), builds the character
vocabulary (``--vocab_size`` ids, as the recipe's ``text_vocab_size``) and an
``NgramLM`` of each ``--orders`` on the rest, and prints for each order the
build time (wall clock and CPU), the size of its tables, the peak memory of the process and the
perplexity per token (characters and ``</s>``) on the held-out sentences:

    python ngram_perplexity.py data/mini/text_corpus.txt --orders 1 2 3

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import random
import resource
import time
from pathlib import Path

from speechbrain_mmspeech.lm.ngram import NgramLM
from speechbrain_mmspeech.text import normalize_text
from speechbrain_mmspeech.tokenizers import CharTokenizer


def perplexity(lm, sequences):
    """Per-token perplexity (each sentence's ids and its ``</s>``)."""
    log_prob = sum(lm.sentence_log_prob(ids) for ids in sequences)
    tokens = sum(len(ids) + 1 for ids in sequences)
    return float(2.718281828459045 ** (-log_prob / tokens))


def main(argv=None):
    """Prints one line per order (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("text_file", type=Path)
    parser.add_argument("--orders", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--heldout", type=int, default=300)
    parser.add_argument("--vocab_size", type=int, default=4800)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    lines = args.text_file.read_text(encoding="utf-8").splitlines()
    sentences = [text for text in map(normalize_text, lines) if text]
    random.Random(args.seed).shuffle(sentences)
    heldout, train = sentences[: args.heldout], sentences[args.heldout :]
    tokenizer = CharTokenizer()
    tokenizer.build(train, args.vocab_size)
    train_ids = [tokenizer.encode_as_ids(text) for text in train]
    heldout_ids = [tokenizer.encode_as_ids(text) for text in heldout]
    n_chars = sum(map(len, train_ids))
    print(
        f"{len(train)} training sentences ({n_chars} characters), "
        f"{len(heldout)} held out, {args.vocab_size} ids"
    )
    for order in args.orders:
        start, cpu_start = time.perf_counter(), time.process_time()
        lm = NgramLM(args.vocab_size, order=order).fit(train_ids)
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        size = sum(
            t.numel() * t.element_size() for t in lm.state_dict().values()
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"order {order}: built in {seconds:.1f} s ({cpu_seconds:.1f} s "
            f"CPU), tables "
            f"{size / 2**20:.1f} MiB, peak RSS {peak:.0f} MiB, held-out "
            f"perplexity {perplexity(lm, heldout_ids):.1f}"
        )


if __name__ == "__main__":
    main()
