"""Labeled speech mixed into P2T adaptation: S2T batches against forgetting.

When the original labeled data is given (``mmspeech-adapt --labeled
train.csv``), every P2T step also trains the decoder with S2T (speech to
text) on ``labeled_batch_size`` of its utterances, so that the decoder keeps
listening to the encoder while it learns the domain's text.

The encoder is frozen during adaptation (phone head included), so:

- each utterance is encoded once, before training, by the source folder's
  own front end and encoder (``encode_labeled``), and its packed memory is
  kept (at most ``labeled_max_utterances`` of them, a seeded sample);
- PP (phone prediction on the encoder) would train nothing and is left
  out: S2T is the part of "S2T + PP" that can move.

Authors
 * MMSpeech plugin contributors 2026
"""

import random
import tempfile

import torch
from tqdm import tqdm

from speechbrain_mmspeech.adaptation.domain_text import AdaptationError
from speechbrain_mmspeech.dataio.manifests import read_utterances
from speechbrain_mmspeech.inference.ASR import MMSpeechASR, encode_whole


def encode_labeled(source, manifest, max_utterances, seed, progress=True):
    """Encodes a seeded sample of a labeled manifest with a model folder.

    Arguments
    ---------
    source : str or pathlib.Path
        The source model folder (its front end and encoder).
    manifest : str or pathlib.Path
        A CSV with ``ID``, ``duration``, ``wav`` and ``transcript``.
    max_utterances : int
        At most this many utterances (a seeded sample; None: all).
    seed : int
        The sample's seed.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    list of (torch.Tensor, str)
        Each utterance's packed memory ``[time, 2 * d_model + 1]`` and its
        normalised transcript.

    Raises
    ------
    AdaptationError
        A manifest without rows or without transcripts.
    """
    utterances = read_utterances(manifest)
    if not utterances:
        raise AdaptationError(f"The labeled manifest {manifest} has no rows")
    missing = [u.id for u in utterances if not u.reference]
    if missing:
        raise AdaptationError(
            f"The labeled manifest {manifest} has no transcript for "
            f"{len(missing)} rows (first: {missing[0]})"
        )
    if max_utterances is not None and len(utterances) > max_utterances:
        utterances = random.Random(seed).sample(utterances, max_utterances)
    with tempfile.TemporaryDirectory() as savedir:
        asr = MMSpeechASR.from_hparams(
            source=str(source), savedir=savedir, run_opts={"device": "cpu"}
        )
        encoded = []
        for utterance in tqdm(
            utterances, desc="Encoding labeled speech", disable=not progress
        ):
            wav = asr.load_audio(utterance.wav)
            memory = encode_whole(asr, wav[None], torch.ones(1))[0]
            encoded.append((memory, utterance.reference))
    return encoded
