"""Transcribing with MMSpeech through SpeechBrain's inference interface.

A model folder written by the recipe (or the converter) loads with the stock
``speechbrain.inference.ASR.EncoderDecoderASR.from_hparams``: its
``hyperparams.yaml`` wires ``MMSpeechFbank``, ``MMSpeech`` and
``MMSpeechBeamSearcher`` into the ``encoder``/``transformer``/``decoder``
modules that class expects.

``MMSpeechASR`` is that same interface with stricter file handling: errors
name the file and the problem, and digital silence transcribes to an empty
string without running the model. It also offers N-best rescoring: with a
folder whose language model section says ``lm_mode: rescoring``, the
``rescoring_decoder`` (no LM) returns its top-k hypotheses and the
``rescorer`` re-ranks them (``speechbrain_mmspeech.lm.rescore_nbest``). The
stock ``EncoderDecoderASR`` has no rescoring hook: on a folder with a
language model it always decodes with shallow fusion (the ``decoder``).

Authors
 * MMSpeech plugin contributors 2026
"""

import logging
import os

import torch
from speechbrain.inference.ASR import EncoderDecoderASR
from speechbrain.utils.data_utils import split_path
from speechbrain.utils.fetching import fetch

from speechbrain_mmspeech.frontend import (
    ValidatingAudioNormalizer,
    is_silent,
    load_audio,
)
from speechbrain_mmspeech.lm import (
    LM_MODE_FUSION,
    LM_MODE_RESCORING,
    rescore_nbest,
)

logger = logging.getLogger(__name__)

URL_PREFIXES = ("http://", "https://")
# What a model folder with a language model may ask for (no "none": a
# folder without an LM has no lm_mode).
FOLDER_LM_MODES = (LM_MODE_FUSION, LM_MODE_RESCORING)


class MMSpeechASR(EncoderDecoderASR):
    """``EncoderDecoderASR`` with file checks, silence handling and rescoring.

    Use it exactly like its parent:
    ``MMSpeechASR.from_hparams(source=folder_or_repo, savedir=...)``. On a
    folder with a language model, ``overrides={"lm_mode": "rescoring"}``
    (or ``"fusion"``) and ``{"lm_weight": ...}`` choose how it is used.

    Arguments
    ---------
    *args : tuple
        ``EncoderDecoderASR`` arguments.
    **kwargs : dict
        ``EncoderDecoderASR`` keyword arguments.

    Example
    -------
    >>> asr = MMSpeechASR.from_hparams(source="model_folder")  # doctest: +SKIP
    >>> asr.transcribe_file("utterance.wav")  # doctest: +SKIP
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lm_mode = getattr(self.hparams, "lm_mode", None)
        if self.lm_mode is not None and self.lm_mode not in FOLDER_LM_MODES:
            raise ValueError(
                f"lm_mode is {self.lm_mode!r}; a model folder with a language "
                f"model decodes with one of {FOLDER_LM_MODES}"
            )

    def transcribe_batch(self, wavs, wav_lens):
        """Transcribes a batch, rescoring the N-best list if configured.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, time]`` 16 kHz waveforms.
        wav_lens : torch.Tensor
            ``[batch]`` relative lengths.

        Returns
        -------
        words : list of str
            The transcriptions.
        tokens : list of list of int
            Their token ids.
        """
        if self.lm_mode != LM_MODE_RESCORING:
            return super().transcribe_batch(wavs, wav_lens)
        with torch.no_grad():
            wav_lens = wav_lens.to(self.device)
            encoder_out = self.encode_batch(wavs, wav_lens)
            topk_hyps, topk_lengths, topk_scores, _ = (
                self.hparams.rescoring_decoder(encoder_out, wav_lens)
            )
            tokens, words = rescore_nbest(
                self.hparams.rescorer,
                self.tokenizer,
                topk_hyps,
                topk_lengths,
                topk_scores,
            )
        return words, tokens

    def load_audio(self, path, savedir=None):
        """Reads a (local, URL or hub) audio file as checked 16 kHz mono.

        Arguments
        ---------
        path : str
            The audio file.
        savedir : str
            Where to put it when it has to be fetched.

        Returns
        -------
        torch.Tensor
            ``[time]`` samples on the model's device.
        """
        path = str(path)
        source, filename = split_path(path)
        is_url = path.startswith(URL_PREFIXES)
        is_hub_path = not os.path.isabs(path) and not os.path.isdir(source)
        if is_url or is_hub_path:
            path = fetch(filename, source=source, savedir=savedir)
        normalizer = self.audio_normalizer
        if not isinstance(normalizer, ValidatingAudioNormalizer):
            normalizer = ValidatingAudioNormalizer(normalizer.sample_rate)
        signal = load_audio(path, normalizer=normalizer)
        return signal.to(self.device)

    def transcribe_file(self, path, **kwargs):
        """Transcribes one audio file; silence gives an empty string.

        Arguments
        ---------
        path : str
            The audio file (any sampling rate and channel count).
        **kwargs : dict
            Passed to ``load_audio``.

        Returns
        -------
        str
            The transcription.
        """
        waveform = self.load_audio(path, **kwargs)
        if is_silent(waveform):
            logger.warning("%s is digital silence: empty transcription", path)
            return ""
        words, _ = self.transcribe_batch(
            waveform.unsqueeze(0), torch.ones(1, device=self.device)
        )
        return words[0]
