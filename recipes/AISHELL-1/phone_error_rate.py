#!/usr/bin/env python3
"""Phone error rate of a model folder's phone head (the PP task's CTC head).

MMSpeech's speech and text meet at the pinyin phones: the encoder's phone
head, tied to the phone input table, is trained with CTC (PP) and read by
MSP. How well it recognises phones tells whether the bridge holds. For every
utterance of a SpeechBrain CSV manifest (``ID, duration, wav, ...,
transcript``) this runs the model's encoder as ``EncoderDecoderASR`` does,
takes the greedy CTC path of the phone head and scores it against the
transcript's phones (``PinyinTokenizer``):

    python phone_error_rate.py results/mini_aishell/model \\
        results/mini_aishell/data/dev.csv

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import tempfile

import torch
from speechbrain.decoders.ctc import ctc_greedy_decode
from speechbrain.inference.ASR import EncoderDecoderASR
from speechbrain.utils.metric_stats import ErrorRateStats

from speechbrain_mmspeech.dataio.manifests import read_csv_rows
from speechbrain_mmspeech.inference.ASR import encode_whole
from speechbrain_mmspeech.lobes.models.mmspeech import unpack_memory
from speechbrain_mmspeech.text import normalize_text
from speechbrain_mmspeech.tokenizers import PinyinTokenizer
from speechbrain_mmspeech.training.tasks import CTC_BLANK_INDEX


def parse_args():
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="model folder or hub repository id")
    parser.add_argument("manifest", help="CSV with wav and transcript")
    parser.add_argument("--limit", type=int, default=None, help="first N rows")
    parser.add_argument("--device", default="cpu")
    return parser.parse_args()


def phone_hypothesis(asr, path):
    """Greedy CTC phone classes of one file, from the encoder's phone head.

    Arguments
    ---------
    asr : speechbrain.inference.ASR.EncoderDecoderASR
        A loaded MMSpeech model folder.
    path : str
        The audio file.

    Returns
    -------
    list of int
        CTC classes (1..120), blanks and repeats removed.
    """
    wavs, wav_lens = asr.load_audio(path).unsqueeze(0), torch.ones(1)
    with torch.no_grad():
        memory = encode_whole(asr, wavs, wav_lens)
        hidden, _, padding = unpack_memory(memory)
        logits = asr.mods.transformer.encoder.phone_logits(hidden)
        lengths = (~padding).sum(dim=1).float() / padding.shape[1]
        return ctc_greedy_decode(
            logits.log_softmax(dim=-1), lengths, blank_id=CTC_BLANK_INDEX
        )[0]


def score_phones(asr, rows):
    """Scores the phone head on manifest rows.

    Arguments
    ---------
    asr : speechbrain.inference.ASR.EncoderDecoderASR
        A loaded MMSpeech model folder.
    rows : list of dict
        Manifest rows (``ID``, ``wav``, ``transcript``).

    Returns
    -------
    speechbrain.utils.metric_stats.ErrorRateStats
        Edits between the greedy phone path and the transcript's phones,
        both as CTC classes.
    """
    pinyin = PinyinTokenizer()
    stats = ErrorRateStats()
    for row in rows:
        text = normalize_text(row["transcript"])
        target = pinyin.ids_to_ctc_targets(
            torch.tensor(pinyin.encode_as_ids(text))
        )
        hypothesis = phone_hypothesis(asr, row["wav"])
        stats.append([row["ID"]], [hypothesis], [target.tolist()])
    return stats


def main():
    """Loads the model, scores the manifest, prints the phone error rate."""
    args = parse_args()
    rows = read_csv_rows(args.manifest, args.limit)
    with tempfile.TemporaryDirectory() as savedir:
        asr = EncoderDecoderASR.from_hparams(
            source=args.source,
            savedir=savedir,
            run_opts={"device": args.device},
        )
        summary = score_phones(asr, rows).summarize()
    print(
        f"{args.source}: phone error rate {summary['error_rate']:.2f}% "
        f"[{summary['num_edits']}/{summary['num_scored_tokens']}, "
        f"{summary['insertions']} ins, {summary['deletions']} del, "
        f"{summary['substitutions']} sub] over {len(rows)} utterances"
    )


if __name__ == "__main__":
    main()
