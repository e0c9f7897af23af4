#!/usr/bin/env python3
"""Chooses the language-model weight by CER: decodes a CSV with each weight.

For every LM mode and weight, the model folder is loaded with
``MMSpeechASR.from_hparams`` (``overrides`` set ``lm_mode`` and
``lm_weight``), every utterance of the CSV is transcribed, and the CER and
the decoding time per utterance are printed; then the best weight of each
mode (lowest CER, the smaller weight on ties). A folder without a language
model is decoded once, without one. Sweep on dev, then decode the test set
at the chosen weights with the same script:

    python sweep_lm_weight.py results/mini_aishell_lm/model \\
        results/mini_aishell/data/dev.csv --modes fusion rescoring \\
        --weights 0.1 0.2 0.3 0.5 0.7
    python sweep_lm_weight.py results/mini_aishell_lm/model \\
        results/mini_aishell/data/test.csv --modes fusion --weights 0.3

Times cover feature extraction, encoder and search (audio reading and
model loading excluded), after one untimed warm-up utterance.

Authors
 * MMSpeech plugin contributors 2026
"""

import argparse
import tempfile
import time

from speechbrain_mmspeech.dataio import manifests
from speechbrain_mmspeech.dataio.audio import load_audio
from speechbrain_mmspeech.decoders.scorers import (
    LM_MODE_FUSION,
    LM_MODE_NONE,
    LM_MODES,
)
from speechbrain_mmspeech.inference.ASR import MMSpeechASR
from speechbrain_mmspeech.inference.scoring import character_error_stats
from speechbrain_mmspeech.inference.segment_decoding import pad_segments

DEFAULT_WEIGHTS = (0.1, 0.2, 0.3, 0.5, 0.7)


def parse_args(argv=None):
    """Command-line arguments.

    Arguments
    ---------
    argv : list of str
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
        The parsed arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_folder", help="model folder (with lm.ckpt)")
    parser.add_argument("csv", help="SpeechBrain CSV (ID, wav, transcript)")
    parser.add_argument(
        "--modes",
        nargs="+",
        default=[LM_MODE_FUSION],
        choices=[mode for mode in LM_MODES if mode != LM_MODE_NONE],
    )
    parser.add_argument(
        "--weights", nargs="+", type=float, default=list(DEFAULT_WEIGHTS)
    )
    parser.add_argument("--batch_size", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    return parser.parse_args(argv)


def load_utterances(csv_path):
    """Reads the ids, audio and normalised references of a CSV.

    Arguments
    ---------
    csv_path : str
        A CSV written by ``speechbrain_mmspeech.dataio.aishell_prepare``.

    Returns
    -------
    list of tuple
        ``(id, waveform, reference)``, longest first.
    """
    utterances = [
        (utt.id, load_audio(utt.wav), utt.reference)
        for utt in manifests.read_utterances(csv_path)
    ]
    return sorted(utterances, key=lambda utt: -len(utt[1]))


def batches(utterances, batch_size):
    """Pads the waveforms of consecutive utterances into batches.

    Arguments
    ---------
    utterances : list of tuple
        ``(id, waveform, reference)``.
    batch_size : int
        Utterances per batch.

    Yields
    ------
    ids : list of str
        The batch's ids.
    wavs : torch.Tensor
        ``[batch, time]`` zero-padded waveforms.
    wav_lens : torch.Tensor
        ``[batch]`` relative lengths.
    """
    for start in range(0, len(utterances), batch_size):
        chunk = utterances[start : start + batch_size]
        wavs, wav_lens = pad_segments([signal for _, signal, _ in chunk])
        yield [utt_id for utt_id, _, _ in chunk], wavs, wav_lens


def decode(asr, utterances, batch_size):
    """Transcribes the utterances; returns the CER and seconds per utterance.

    Arguments
    ---------
    asr : speechbrain_mmspeech.inference.ASR.MMSpeechASR
        The loaded model.
    utterances : list of tuple
        ``(id, waveform, reference)``.
    batch_size : int
        Utterances per batch.

    Returns
    -------
    cer : float
        Character error rate (%).
    seconds_per_utterance : float
        Decoding time divided by the number of utterances.
    """
    _, warmup, warmup_lens = next(batches(utterances[-1:], 1))
    asr.transcribe_batch(warmup, warmup_lens)
    hypotheses = {}
    elapsed = 0.0
    for ids, wavs, wav_lens in batches(utterances, batch_size):
        start = time.perf_counter()
        words, _ = asr.transcribe_batch(wavs, wav_lens)
        elapsed += time.perf_counter() - start
        hypotheses.update(zip(ids, words))
    metric = character_error_stats(
        [utt_id for utt_id, _, _ in utterances],
        [hypotheses[utt_id] for utt_id, _, _ in utterances],
        [reference for _, _, reference in utterances],
    )
    return metric.summarize("error_rate"), elapsed / len(utterances)


def settings(has_lm, modes, weights):
    """The (mode, weight) pairs to decode with.

    Arguments
    ---------
    has_lm : bool
        Whether the model folder has a language model.
    modes : list of str
        LM modes to sweep.
    weights : list of float
        LM weights to sweep.

    Returns
    -------
    list of tuple
        ``(mode, weight)``; ``[("none", None)]`` without a language model.

    Example
    -------
    >>> settings(True, ["fusion"], [0.1, 0.2])
    [('fusion', 0.1), ('fusion', 0.2)]
    >>> settings(False, ["fusion"], [0.1, 0.2])
    [('none', None)]
    """
    if not has_lm:
        return [(LM_MODE_NONE, None)]
    return [(mode, weight) for mode in modes for weight in weights]


def best_weights(results):
    """The weight with the lowest CER per mode (the smaller on ties).

    Arguments
    ---------
    results : list of tuple
        ``(mode, weight, cer, seconds_per_utterance)``.

    Returns
    -------
    dict
        ``{mode: (weight, cer)}``.

    Example
    -------
    >>> best_weights([("fusion", 0.1, 5.0, 0.2), ("fusion", 0.3, 4.0, 0.2)])
    {'fusion': (0.3, 4.0)}
    """
    best = {}
    for mode, weight, cer, _ in sorted(results, key=lambda r: (r[2], r[1])):
        best.setdefault(mode, (weight, cer))
    return best


def main(argv=None):
    """Decodes with every setting, prints the table and the best weights.

    Arguments
    ---------
    argv : list of str
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    list of tuple
        ``(mode, weight, cer, seconds_per_utterance)`` per setting.
    """
    args = parse_args(argv)
    utterances = load_utterances(args.csv)
    results = []
    with tempfile.TemporaryDirectory(prefix="mmspeech_sweep_") as savedir:
        run_opts = {"device": args.device}
        asr = MMSpeechASR.from_hparams(
            source=args.model_folder, savedir=savedir, run_opts=run_opts
        )
        has_lm = asr.lm_mode is not None
        print(f"{args.csv}: {len(utterances)} utterances")
        print("mode       weight   CER (%)   s/utt")
        for mode, weight in settings(has_lm, args.modes, args.weights):
            if has_lm:
                asr = MMSpeechASR.from_hparams(
                    source=args.model_folder,
                    savedir=savedir,
                    run_opts=run_opts,
                    overrides={"lm_mode": mode, "lm_weight": weight},
                )
            cer, seconds = decode(asr, utterances, args.batch_size)
            results.append((mode, weight, cer, seconds))
            shown = "-" if weight is None else f"{weight:g}"
            print(f"{mode:<10} {shown:>6}   {cer:7.2f}   {seconds:.3f}")
    for mode, (weight, cer) in best_weights(results).items():
        if weight is not None:
            print(f"Best {mode} weight: {weight:g} (CER {cer:.2f}%)")
    return results


if __name__ == "__main__":
    main()
