"""Scoring transcriptions against references: characters, phones, syllables.

Characters are compared one by one, whitespace left out, as the recipes'
``cer_computer`` does for AISHELL. Three numbers tell where an error comes
from:

- the character error rate (CER) of the decoded text;
- the phone error rate (PER) of the phone head's greedy CTC path against
  the reference's phones: what the encoder heard;
- the syllable error rate (SER) of the decoded text: the tonal pinyin of
  the hypothesis against the reference's, both from the conversion that
  made the phone head's targets (``PinyinTokenizer.pronounce``). A SER
  close to the PER means the search wrote what was heard; a SER far above
  it, that the decoder wrote its own prior (fluent text with other
  syllables). Homophone choices count as CER errors but not SER errors.

``DecodingErrorStats`` collects the three over a test set, as SpeechBrain's
``ErrorRateStats`` does for one; ``evaluate_manifest`` decodes a manifest
with a loaded model folder and scores it, with the decoding time.

Authors
 * MMSpeech plugin contributors 2026
"""

import time

import torch
from speechbrain.decoders.ctc import ctc_greedy_decode
from speechbrain.utils.data_utils import batch_pad_right
from speechbrain.utils.metric_stats import ErrorRateStats
from tqdm import tqdm

from speechbrain_mmspeech.inference.ASR import encode_whole
from speechbrain_mmspeech.lobes.models.mmspeech import unpack_memory
from speechbrain_mmspeech.text import normalize_text, split_clauses
from speechbrain_mmspeech.tokenizers import CTC_BLANK_INDEX, PinyinTokenizer


def character_error_stats(ids, hypotheses, references):
    """The CER details of transcriptions (``ErrorRateStats``).

    Arguments
    ---------
    ids, hypotheses, references : list of str
        As for ``append_characters``.

    Returns
    -------
    speechbrain.utils.metric_stats.ErrorRateStats
        ``summarize("error_rate")`` is the CER in percent.

    Example
    -------
    >>> stats = character_error_stats(["u1"], ["你 好"], ["你们好"])
    >>> stats.summarize("error_rate")
    33.33...
    """
    stats = ErrorRateStats()
    append_characters(stats, ids, hypotheses, references)
    return stats


def append_characters(stats, ids, hypotheses, references):
    """Adds transcriptions to CER statistics, character by character.

    Spaces are not characters (a tokenizer may join words with them).

    Arguments
    ---------
    stats : speechbrain.utils.metric_stats.ErrorRateStats
        The statistics to extend.
    ids : list of str
        Utterance ids.
    hypotheses : list of str
        The transcriptions.
    references : list of str
        The references, normalised.

    Example
    -------
    >>> stats = ErrorRateStats()
    >>> append_characters(stats, ["u1"], ["你 好"], ["你好"])
    >>> stats.scores[0]["hyp_tokens"]
    ['你', '好']
    """
    stats.append(
        list(ids),
        [list("".join(text.split())) for text in hypotheses],
        [list("".join(text.split())) for text in references],
    )


def text_syllables(text, pinyin_tokenizer):
    """The tonal pinyin syllables of a text, one per pronounced character.

    Characters are read as for the phone head's targets (normalised text,
    clause by clause, in phrase context); a Latin letter counts as the
    string of its phones, a character without a reading is skipped.

    Arguments
    ---------
    text : str
        Any text.
    pinyin_tokenizer : speechbrain_mmspeech.tokenizers.PinyinTokenizer
        The phone inventory and reading.

    Returns
    -------
    list of str
        The syllables.

    Example
    -------
    >>> text_syllables("银行，A", PinyinTokenizer())
    ['yin2', 'hang2', 'ei1']
    """
    syllables = []
    for clause in split_clauses(normalize_text(text)):
        for _, syllable, phones in pinyin_tokenizer.pronounce(clause):
            if syllable:
                syllables.append(syllable)
            elif phones:
                syllables.append("".join(phones))
    return syllables


def greedy_phone_classes(phone_logits, relative_lengths):
    """The phone head's greedy CTC paths (blanks and repeats removed).

    Arguments
    ---------
    phone_logits : torch.Tensor
        ``[batch, frames, classes]`` phone logits or log-probabilities.
    relative_lengths : torch.Tensor
        ``[batch]`` valid frames over ``frames``.

    Returns
    -------
    list of list of int
        CTC classes per utterance.

    Example
    -------
    >>> logits = torch.zeros(1, 4, 5)
    >>> logits[0, [0, 1, 2, 3], [3, 3, 0, 4]] = 9.0
    >>> greedy_phone_classes(logits, torch.ones(1))
    [[3, 4]]
    """
    log_probs = phone_logits.float().log_softmax(dim=-1)
    return ctc_greedy_decode(
        log_probs, relative_lengths, blank_id=CTC_BLANK_INDEX
    )


class DecodingErrorStats:
    """CER, phone error rate and decoded-syllable error rate of a test set.

    Arguments
    ---------
    pinyin_tokenizer : speechbrain_mmspeech.tokenizers.PinyinTokenizer
        The phone inventory (default: the official one).

    Example
    -------
    >>> stats = DecodingErrorStats()
    >>> pinyin = stats.pinyin_tokenizer
    >>> phones = pinyin.ids_to_ctc_targets(pinyin.encode_as_ids("他"))
    >>> stats.append(["u1"], ["它们"], ["他们"], [phones], [phones])
    >>> {key: round(value, 1) for key, value in stats.summarize().items()}
    {'CER': 50.0, 'PER': 0.0, 'SER': 0.0}
    """

    def __init__(self, pinyin_tokenizer=None):
        if pinyin_tokenizer is None:
            pinyin_tokenizer = PinyinTokenizer()
        self.pinyin_tokenizer = pinyin_tokenizer
        self.cer = ErrorRateStats()
        self.per = ErrorRateStats()
        self.ser = ErrorRateStats()

    @property
    def metrics(self):
        """The three ``ErrorRateStats`` by name (``CER``, ``PER``, ``SER``)."""
        return {"CER": self.cer, "PER": self.per, "SER": self.ser}

    def append(self, ids, hypotheses, references, phones=None, targets=None):
        """Scores a batch.

        Arguments
        ---------
        ids : list of str
            Utterance ids.
        hypotheses : list of str
            Decoded texts (None: no CER nor SER).
        references : list of str
            Reference texts.
        phones : list of list of int
            The phone head's greedy CTC classes (None: no PER).
        targets : list of list of int
            The references' CTC classes.
        """
        if hypotheses is not None:
            append_characters(self.cer, ids, hypotheses, references)
            pinyin = self.pinyin_tokenizer
            self.ser.append(
                ids,
                [text_syllables(t, pinyin) for t in hypotheses],
                [text_syllables(t, pinyin) for t in references],
            )
        if phones is not None:
            self.per.append(ids, phones, targets)

    def summarize(self):
        """The error rates in percent (PER only if phones were given).

        Returns
        -------
        dict
            ``CER``, ``PER`` and ``SER``.
        """
        return {
            name: metric.summarize("error_rate")
            for name, metric in self.metrics.items()
            if metric.scores
        }


def evaluate_manifest(asr, rows, batch_size=1, progress=True, search=True):
    """Decodes manifest rows with a loaded model folder and scores them.

    Each batch is encoded whole (no segmentation: mini-AISHELL utterances
    are short) and searched with the folder's ``decoder``, as
    ``transcribe_batch`` does; the phone head's greedy path of the same
    encoding gives the PER.

    Arguments
    ---------
    asr : speechbrain.inference.ASR.EncoderDecoderASR
        A loaded MMSpeech model folder.
    rows : list of dict
        Manifest rows (``ID``, ``wav``, ``transcript``).
    batch_size : int
        Utterances decoded at a time.
    progress : bool
        Show a progress bar.
    search : bool
        Run the beam search (False: the phone head only, PER alone).

    Returns
    -------
    stats : DecodingErrorStats
        The error rates.
    seconds : dict
        ``audio`` (total duration) and ``decoding`` (front end, encoder,
        search and phone head, audio reading excluded).
    """
    stats = DecodingErrorStats()
    pinyin = stats.pinyin_tokenizer
    seconds = {"audio": 0.0, "decoding": 0.0}
    starts = range(0, len(rows), batch_size)
    for start in tqdm(starts, disable=not progress):
        batch = rows[start : start + batch_size]
        audio = [asr.load_audio(row["wav"]) for row in batch]
        wavs, wav_lens = batch_pad_right(audio)
        seconds["audio"] += (
            sum(len(a) for a in audio) / asr.audio_normalizer.sample_rate
        )
        begin = time.perf_counter()
        with torch.no_grad():
            memory = encode_whole(asr, wavs, wav_lens)
            if search:
                lens = wav_lens.to(memory.device)
                hyps = asr.hparams.decoder(memory, lens)[0]
            hidden, _, padding = unpack_memory(memory)
            logits = asr.mods.transformer.encoder.phone_logits(hidden)
            lengths = (~padding).sum(dim=1).float() / padding.shape[1]
            phones = greedy_phone_classes(logits, lengths)
        seconds["decoding"] += time.perf_counter() - begin
        texts = None
        if search:
            texts = [asr.tokenizer.decode_ids(hyp) for hyp in hyps]
        references = [normalize_text(row["transcript"]) for row in batch]
        targets = [
            pinyin.ids_to_ctc_targets(pinyin.encode_as_ids(text))
            for text in references
        ]
        ids = [row["ID"] for row in batch]
        stats.append(ids, texts, references, phones, targets)
    return stats, seconds
