"""Transcribing with MMSpeech through SpeechBrain's inference interface.

A model folder written by the recipe (or the converter) loads with the stock
``speechbrain.inference.ASR.EncoderDecoderASR.from_hparams``: its
``hyperparams.yaml`` wires ``MMSpeechFbank``, ``MMSpeech`` and
``MMSpeechBeamSearcher`` into the ``encoder``/``transformer``/``decoder``
modules that class expects.

``MMSpeechASR`` is that same interface with stricter file handling: errors
name the file and the problem, and digital silence transcribes to an empty
string without running the model.

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

logger = logging.getLogger(__name__)

URL_PREFIXES = ("http://", "https://")


class MMSpeechASR(EncoderDecoderASR):
    """``EncoderDecoderASR`` with file checks and silence handling.

    Use it exactly like its parent:
    ``MMSpeechASR.from_hparams(source=folder_or_repo, savedir=...)``.

    Example
    -------
    >>> asr = MMSpeechASR.from_hparams(source="model_folder")  # doctest: +SKIP
    >>> asr.transcribe_file("utterance.wav")  # doctest: +SKIP
    """

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
