"""Transcribing with MMSpeech through SpeechBrain's inference interface.

A model folder written by the recipe (or the converter) loads with the stock
``speechbrain.inference.ASR.EncoderDecoderASR.from_hparams``. Its
``hyperparams.yaml`` wires two modules into the ``encoder`` and ``decoder``
slots that class calls: ``SpeechSegmenter`` finds the speech in each
waveform and cuts it into segments of at most ``max_segment_seconds``, and
``SegmentTranscriber`` decodes the segments in batches (``MMSpeechFbank``,
``MMSpeech``, ``MMSpeechBeamSearcher``) and joins their token ids per file.
So the stock ``transcribe_file`` and ``transcribe_batch`` take audio of any
length, and audio without speech gives ``""``.

``MMSpeechASR`` is that same interface with more:

- stricter file handling: errors name the file and the problem;
- ``transcribe_file(path, return_details=True)`` returns a
  ``speechbrain_mmspeech.inference.results.Transcription``: segments with their times,
  and per character its times (CTC forced alignment against the phone head,
  ``speechbrain_mmspeech.inference.alignment``), its pinyin and a confidence;
- ``transcribe_waveforms`` for several waveforms at once;
- N-best rescoring: with a folder whose language model section says
  ``lm_mode: rescoring``, the ``rescoring_decoder`` (no LM) returns its top-k
  hypotheses and the ``rescorer`` re-ranks them
  (``speechbrain_mmspeech.decoders.scorers.rescore_nbest``). The stock class has no
  rescoring hook: on a folder with a language model it always decodes with
  shallow fusion (the ``decoder``);
- folders written before long-audio support (their ``modules`` have no
  segmenter) are segmented too, with the default settings;
- hotwords: ``transcribe_file(path, hotwords=[...])`` (and
  ``transcribe_batch``, ``transcribe_waveforms``) boost the listed words
  whose pinyin the phone head hears
  (``speechbrain_mmspeech.decoders.hotwords``). A folder's default list,
  weight and gate are its ``hotwords``, ``hotword_weight`` and
  ``hotword_threshold`` keys (the stock class uses the default list);
  folders written before hotwords get the scorer when a list is given.

Authors
 * MMSpeech plugin contributors 2026
"""

import contextlib
import logging
import os

import torch
from speechbrain.inference.ASR import EncoderDecoderASR
from speechbrain.utils.data_utils import split_path
from speechbrain.utils.fetching import fetch

from speechbrain_mmspeech.dataio.audio import (
    SAMPLE_RATE,
    AudioError,
    ValidatingAudioNormalizer,
    is_silent,
    load_audio,
)
from speechbrain_mmspeech.decoders.hotwords import (
    DEFAULT_MAX_ACTIVE,
    DEFAULT_MAX_HOTWORDS,
    DEFAULT_SHORT_THRESHOLD,
    DEFAULT_SUPPRESS_OVERLAPS,
    DEFAULT_THRESHOLD,
    DEFAULT_TONE_PENALTY,
    DEFAULT_WEIGHT,
    HotwordError,
    HotwordScorer,
)
from speechbrain_mmspeech.decoders.scorers import (
    LM_MODE_FUSION,
    LM_MODE_RESCORING,
)
from speechbrain_mmspeech.inference.alignment import TokenAligner
from speechbrain_mmspeech.inference.results import (
    TranscribedSegment,
    Transcription,
)
from speechbrain_mmspeech.inference.segmentation import (
    SegmentedBatch,
    unpad,
)
from speechbrain_mmspeech.tokenizers import PinyinTokenizer

logger = logging.getLogger(__name__)

URL_PREFIXES = ("http://", "https://")
# What a model folder with a language model may ask for (no "none": a
# folder without an LM has no lm_mode).
FOLDER_LM_MODES = (LM_MODE_FUSION, LM_MODE_RESCORING)


def encode_whole(asr, wavs, wav_lens):
    """Encodes waveforms whole, without segmentation, with a loaded folder.

    A folder's ``encoder`` module segments audio, so the stock
    ``EncoderDecoderASR.encode_batch`` returns segments; this runs the front
    end and the model's encoder on the waveforms as they are, with either
    interface.

    Arguments
    ---------
    asr : speechbrain.inference.ASR.EncoderDecoderASR
        A loaded MMSpeech model folder (``MMSpeechASR`` included).
    wavs : torch.Tensor
        ``[batch, time]`` 16 kHz waveforms.
    wav_lens : torch.Tensor
        ``[batch]`` relative lengths.

    Returns
    -------
    torch.Tensor
        ``[batch, time, 2 * d_model + 1]`` (``model.pack_memory``).
    """
    wavs = wavs.float().to(asr.device)
    wav_lens = wav_lens.to(asr.device)
    with torch.no_grad():
        feats = asr.hparams.compute_features(wavs, wav_lens)
        feats = asr.hparams.normalize(feats, wav_lens)
        return asr.mods.transformer.encode(feats, wav_lens)


class MMSpeechASR(EncoderDecoderASR):
    """``EncoderDecoderASR`` with file checks, details and rescoring.

    Use it exactly like its parent:
    ``MMSpeechASR.from_hparams(source=folder_or_repo, savedir=...)``. On a
    folder with a language model, ``overrides={"lm_mode": "rescoring"}``
    (or ``"fusion"``) and ``{"lm_weight": ...}`` choose how it is used.
    The long-audio settings can be changed after loading:
    ``asr.segmenter.max_segment_seconds``, ``asr.segmenter.detector``
    (``"silero"``, ``"energy"``) and ``asr.transcriber.batch_size``.

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
    '今天天气很好'
    >>> result = asr.transcribe_file(
    ...     "long.wav", return_details=True
    ... )  # doctest: +SKIP
    >>> result.segments[0].chars[0]  # doctest: +SKIP
    TimedChar(char='今', start=0.52, end=0.6, pinyin='jin1', confidence=0.93)
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lm_mode = getattr(self.hparams, "lm_mode", None)
        if self.lm_mode is not None and self.lm_mode not in FOLDER_LM_MODES:
            raise ValueError(
                f"lm_mode is {self.lm_mode!r}; a model folder with a language "
                f"model decodes with one of {FOLDER_LM_MODES}"
            )
        self.segmenter = self.hparams.speech_segmenter
        self.transcriber = self.hparams.segment_transcriber
        self.transcriber.to(self.device).eval()
        self.phone_tokenizer = PinyinTokenizer()

    def encode_batch(self, wavs, wav_lens):
        """Encodes a batch whole into the packed encoder memory.

        Unlike ``transcribe_batch``, this does not segment: use it on
        utterances no longer than the model was trained on.

        Arguments
        ---------
        wavs, wav_lens : torch.Tensor
            As in :func:`encode_whole`.

        Returns
        -------
        torch.Tensor
            The packed memory (:func:`encode_whole`).
        """
        return encode_whole(self, wavs, wav_lens)

    def transcribe_batch(self, wavs, wav_lens, hotwords=None):
        """Transcribes a padded batch of any lengths (segmented, see module).

        Arguments
        ---------
        wavs, wav_lens : torch.Tensor
            The padded batch, as in :func:`encode_whole`.
        hotwords : list of str
            Words to boost where their pinyin is heard (None: the folder's
            default list, if any).

        Returns
        -------
        words : list of str
            The transcriptions (``""`` without speech).
        tokens : list of list of int
            Their token ids.
        """
        hyps = self._decode(unpad(wavs, wav_lens), False, hotwords)
        tokens = [[t for hyp in file for t in hyp.tokens] for file in hyps]
        return [self.tokenizer.decode_ids(ids) for ids in tokens], tokens

    def transcribe_waveforms(
        self, waveforms, return_details=False, hotwords=None
    ):
        """Transcribes 16 kHz mono waveforms of any lengths, together.

        Their segments are decoded in batches of ``transcriber.batch_size``
        whatever file they come from.

        Arguments
        ---------
        waveforms : list of torch.Tensor
            ``[time]`` waveforms.
        return_details : bool
            Return ``Transcription`` objects instead of texts.
        hotwords : list of str
            Words to boost where their pinyin is heard (None: the folder's
            default list, if any).

        Returns
        -------
        list of str or list of Transcription
        """
        hyps = self._decode(list(waveforms), return_details, hotwords)
        if not return_details:
            return [
                self.tokenizer.decode_ids([t for h in file for t in h.tokens])
                for file in hyps
            ]
        return [
            Transcription(
                [
                    TranscribedSegment(
                        hyp.start / SAMPLE_RATE,
                        hyp.end / SAMPLE_RATE,
                        self.tokenizer.decode_ids(hyp.tokens),
                        hyp.chars,
                    )
                    for hyp in file
                ],
                waveform.shape[0] / SAMPLE_RATE,
            )
            for waveform, file in zip(waveforms, hyps)
        ]

    def _decode(self, waveforms, details, hotwords=None):
        """Segments and decodes; per waveform, its ``SegmentHypothesis`` list."""
        segmented = SegmentedBatch(
            waveforms, [self.segmenter.segment(w) for w in waveforms]
        )
        searcher, rescorer = None, None
        if self.lm_mode == LM_MODE_RESCORING:
            searcher = self.hparams.rescoring_decoder
            rescorer = self.hparams.rescorer
        with self.using_hotwords(
            hotwords, searcher or self.transcriber.searcher
        ):
            return self.transcriber.decode_segments(
                segmented,
                searcher=searcher,
                rescorer=rescorer,
                tokenizer=self.tokenizer,
                aligner=self.aligner() if details else None,
            )

    def hotword_scorer(self, searcher=None):
        """The ``HotwordScorer`` of a searcher (default: the decoder's).

        A folder written before hotwords has none: one is made with the
        folder's ``hotword_*`` keys or the defaults, and added to the
        searcher's ``ScorerBuilder`` (weight key ``hotword``).

        Arguments
        ---------
        searcher : MMSpeechBeamSearcher
            The searcher (default: the one ``transcribe_*`` uses).

        Returns
        -------
        HotwordScorer

        Raises
        ------
        HotwordError
            If the searcher has no scorers (a folder decoded without the
            phone head: hotwords need it).
        """
        searcher = searcher or self.transcriber.searcher
        builder = getattr(searcher, "scorer", None)
        if builder is None:
            raise HotwordError(
                "this model folder decodes without scorers; hotwords need "
                "phone-aware decoding (phone_ctc_weight above 0)"
            )
        scorer = builder.full_scorers.get("hotword")
        if scorer is None:
            scorer = getattr(self.hparams, "hotword_scorer", None)
        if scorer is None:
            scorer = HotwordScorer(
                self.mods.transformer,
                self.tokenizer,
                threshold=getattr(
                    self.hparams, "hotword_threshold", DEFAULT_THRESHOLD
                ),
                tone_penalty=getattr(
                    self.hparams, "hotword_tone_penalty", DEFAULT_TONE_PENALTY
                ),
                short_threshold=getattr(
                    self.hparams,
                    "hotword_short_threshold",
                    DEFAULT_SHORT_THRESHOLD,
                ),
                suppress_overlaps=getattr(
                    self.hparams,
                    "hotword_suppress_overlaps",
                    DEFAULT_SUPPRESS_OVERLAPS,
                ),
                max_active=getattr(
                    self.hparams, "hotword_max_active", DEFAULT_MAX_ACTIVE
                ),
                max_hotwords=getattr(
                    self.hparams, "hotword_max_list", DEFAULT_MAX_HOTWORDS
                ),
                vocab_size=searcher.vocab_size,
                eos_index=searcher.eos_index,
            )
        if "hotword" not in builder.full_scorers:
            builder.full_scorers["hotword"] = scorer
            builder.weights["hotword"] = getattr(
                self.hparams, "hotword_weight", DEFAULT_WEIGHT
            )
        return scorer

    @contextlib.contextmanager
    def using_hotwords(self, hotwords, searcher=None):
        """Decodes with ``hotwords`` inside the block (None: no change).

        Arguments
        ---------
        hotwords : list of str
            The list, checked against the model (``HotwordError`` names a
            bad entry, an empty list or a list past ``max_hotwords``).
        searcher : MMSpeechBeamSearcher
            The searcher (default: the decoder's).
        """
        if hotwords is None:
            yield
            return
        scorer = self.hotword_scorer(searcher)
        previous = scorer.hotwords
        try:
            scorer.hotwords = hotwords
            if scorer.table is None:
                raise HotwordError("the hotword list is empty")
            yield
        finally:
            scorer.hotwords = previous

    def aligner(self):
        """The ``TokenAligner`` for this model's phone head.

        Returns
        -------
        speechbrain_mmspeech.inference.alignment.TokenAligner

        Raises
        ------
        ValueError
            If the phone head and the phone inventory do not match.
        """
        classes = self.mods.transformer.encoder.num_phone_classes
        if classes != self.phone_tokenizer.num_ctc_classes:
            raise ValueError(
                f"The phone head has {classes} classes but the phone "
                f"inventory {self.phone_tokenizer.num_ctc_classes}: no "
                "character times"
            )
        return TokenAligner(self.tokenizer, self.phone_tokenizer)

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
            try:
                path = fetch(filename, source=source, savedir=savedir)
            except Exception as error:  # no such local file, nor remote one
                raise AudioError(
                    f"{path}: no such local file, and fetching it as a hub "
                    f"or URL path failed ({type(error).__name__})"
                ) from error
        normalizer = self.audio_normalizer
        if not isinstance(normalizer, ValidatingAudioNormalizer):
            normalizer = ValidatingAudioNormalizer(normalizer.sample_rate)
        signal = load_audio(path, normalizer=normalizer)
        return signal.to(self.device)

    def transcribe_file(
        self, path, return_details=False, hotwords=None, **kwargs
    ):
        """Transcribes one audio file of any length.

        Arguments
        ---------
        path : str
            The audio file (any sampling rate and channel count).
        return_details : bool
            Return a ``Transcription`` (segments, character times, pinyin,
            confidences) instead of the text.
        hotwords : list of str
            Words to boost where their pinyin is heard (None: the folder's
            default list, if any).
        **kwargs : dict
            Passed to ``load_audio``.

        Returns
        -------
        str or Transcription
            The transcription (``""`` or no segments without speech).
        """
        waveform = self.load_audio(path, **kwargs)
        if is_silent(waveform):
            logger.warning("%s is digital silence: empty transcription", path)
        return self.transcribe_waveforms([waveform], return_details, hotwords)[
            0
        ]
