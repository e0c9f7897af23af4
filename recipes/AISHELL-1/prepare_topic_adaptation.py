#!/usr/bin/env python3
"""Domain text and a dev set for adapting to mini-AISHELL's held-out topic.

Writes, from a mini-AISHELL folder (its ``extra_tests/topic.csv`` is the
test, never read for anything but excluding its sentences)::

    <output>/domain_text.txt      adaptation text (one sentence a line)
    <output>/dev/dev.csv, wav/    dev speech of the topic, new voices

See ``speechbrain_mmspeech.mini_aishell.domain`` for the rules::

    python prepare_topic_adaptation.py results/mini_aishell/corpus \\
        results/topic_adaptation

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import json
import time
from pathlib import Path

from speechbrain_mmspeech.dataio.manifests import read_csv_column
from speechbrain_mmspeech.mini_aishell.domain import (
    pool_characters,
    synthesize_dev,
    topic_adaptation_sets,
)


def main(argv=None):
    """Writes the domain text files and synthesises the dev set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="a mini-AISHELL folder")
    parser.add_argument("output", type=Path)
    parser.add_argument("--dev-size", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    info = json.loads((args.corpus / "mini_aishell.json").read_text())
    config = info["config"]
    test = read_csv_column(args.corpus / "extra_tests/topic.csv", "transcript")
    sets = topic_adaptation_sets(
        test,
        pool_characters(args.corpus / "text_corpus.txt"),
        topic=config["held_out_topic"],
        dev_size=args.dev_size,
        seed=args.seed,
        min_chars=config["min_chars"],
        max_chars=config["max_chars"],
        max_vocab=config["max_vocab"],
    )
    args.output.mkdir(parents=True, exist_ok=True)
    text = "".join(line + "\n" for line in sets.text)
    (args.output / "domain_text.txt").write_text(text, encoding="utf-8")
    synthesize_dev(
        sets.dev,
        args.output / "dev",
        seed=args.seed,
        snr_range_db=tuple(config["snr_range_db"]),
        gain_range_db=tuple(config["gain_range_db"]),
    )
    print(
        f"{len(sets.text)} domain sentences, "
        f"{len(sets.dev)} dev utterances in "
        f"{time.perf_counter() - start:.1f} s -> {args.output}"
    )


if __name__ == "__main__":
    main()
