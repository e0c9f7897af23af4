"""Decoding segmented audio in batches, and joining the text per file.

``SegmentTranscriber`` takes the segments of a ``SegmentedBatch``
(``speechbrain_mmspeech.inference.segmentation``), decodes them ``batch_size`` at a
time (longest first, so that little padding is decoded), and returns the
hypotheses of each file in order. Only one batch of segments is in memory at
a time: memory does not grow with the length of a file beyond the audio.

In a model folder's ``hyperparams.yaml`` it is the ``decoder`` module, so
that the stock ``EncoderDecoderASR.transcribe_batch`` (and hence
``transcribe_file``) works on audio of any length: its ``encoder`` module
(``SpeechSegmenter``) segments the batch, and this module returns, as a
searcher would, the token ids of each file (its segments' hypotheses joined)
for the stock code to turn into text. ``MMSpeechASR`` calls
``decode_segments`` directly, with N-best rescoring and per-character
details when asked.

Authors
 * MMSpeech plugin contributors 2026
"""

from dataclasses import dataclass
from typing import List, Optional

import torch

from speechbrain_mmspeech.decoders.scorers import rescore_nbest
from speechbrain_mmspeech.inference.results import TimedChar
from speechbrain_mmspeech.lobes.models.mmspeech import unpack_memory


@dataclass
class SegmentHypothesis:
    """The decoding of one segment.

    Arguments
    ---------
    start : int
        First sample of the segment.
    end : int
        End sample (exclusive).
    tokens : list of int
        The hypothesis.
    score : float
        Its beam score (None after N-best rescoring).
    chars : list of TimedChar
        Per-token details, when asked for.
    """

    start: int
    end: int
    tokens: List[int]
    score: Optional[float] = None
    chars: Optional[List[TimedChar]] = None


def pad_segments(pieces, device=None):
    """Stacks waveforms of different lengths into a zero-padded batch.

    Arguments
    ---------
    pieces : list of torch.Tensor
        ``[time]`` waveforms.
    device : torch.device
        Where to put the batch (default: where the pieces are).

    Returns
    -------
    wavs : torch.Tensor
        ``[batch, longest]``.
    wav_lens : torch.Tensor
        ``[batch]`` relative lengths.

    Example
    -------
    >>> wavs, lens = pad_segments([torch.ones(4), torch.ones(2)])
    >>> wavs.tolist(), lens.tolist()
    ([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]], [1.0, 0.5])
    """
    longest = max(piece.shape[0] for piece in pieces)
    wavs = torch.zeros(len(pieces), longest, device=device or pieces[0].device)
    for row, piece in enumerate(pieces):
        wavs[row, : piece.shape[0]] = piece
    lengths = torch.tensor([piece.shape[0] for piece in pieces])
    return wavs, (lengths / longest).to(wavs.device)


class SegmentTranscriber(torch.nn.Module):
    """Decodes the segments of a ``SegmentedBatch`` in batches.

    Arguments
    ---------
    compute_features : torch.nn.Module
        Waveforms to features (``MMSpeechFbank``).
    normalize : torch.nn.Module
        Feature normalisation (``FeatureNormalization``).
    model : speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
        The model.
    searcher : speechbrain_mmspeech.decoders.seq2seq.MMSpeechBeamSearcher
        The beam search.
    batch_size : int
        Segments decoded together.

    Example
    -------
    >>> from speechbrain_mmspeech.inference.segmentation import SegmentedBatch
    >>> calls = []
    >>> def search(memory, lens):
    ...     calls.append(memory.shape[0])
    ...     return [[5]] * memory.shape[0], None, torch.zeros(len(lens)), None
    >>> class Model(torch.nn.Module):
    ...     def encode(self, feats, lens):
    ...         return feats
    >>> transcriber = SegmentTranscriber(
    ...     lambda w, l: w.unsqueeze(-1), lambda f, l: f, Model(), search, 2
    ... )
    >>> batch = SegmentedBatch(
    ...     [torch.ones(100), torch.ones(50)], [[(0, 40), (60, 100)], [(0, 50)]]
    ... )
    >>> tokens, _, _, _ = transcriber(batch)
    >>> tokens, calls
    ([[5, 5], [5]], [2, 1])
    """

    def __init__(
        self, compute_features, normalize, model, searcher, batch_size=8
    ):
        super().__init__()
        self.compute_features = compute_features
        self.normalize = normalize
        self.model = model
        self.searcher = searcher
        self.batch_size = batch_size

    @property
    def device(self):
        """Where the model runs."""
        parameter = next(self.model.parameters(), None)
        return (
            parameter.device if parameter is not None else torch.device("cpu")
        )

    @torch.no_grad()
    def forward(self, segmented, wav_lens=None):
        """Decodes a segmented batch with the searcher's calling convention.

        Arguments
        ---------
        segmented : speechbrain_mmspeech.inference.segmentation.SegmentedBatch
            What ``SpeechSegmenter`` returned.
        wav_lens : torch.Tensor
            Ignored (the segments carry the lengths); accepted because
            ``EncoderDecoderASR`` passes it.

        Returns
        -------
        tokens : list of list of int
            Per file, the hypotheses of its segments, joined.
        lengths : torch.Tensor
            ``[batch]`` number of tokens per file.
        scores : torch.Tensor
            ``[batch]`` sums of the segments' beam scores.
        segments : list of list of SegmentHypothesis
            Per file, the segment hypotheses.
        """
        del wav_lens  # the segments carry the lengths
        segments = self.decode_segments(segmented)
        tokens = [[t for hyp in file for t in hyp.tokens] for file in segments]
        lengths = torch.tensor([len(file_tokens) for file_tokens in tokens])
        scores = torch.tensor(
            [sum(hyp.score or 0.0 for hyp in file) for file in segments]
        )
        return tokens, lengths, scores, segments

    @torch.no_grad()
    def decode_segments(
        self,
        segmented,
        searcher=None,
        rescorer=None,
        tokenizer=None,
        aligner=None,
    ):
        """Decodes every segment, ``batch_size`` at a time.

        Arguments
        ---------
        segmented : speechbrain_mmspeech.inference.segmentation.SegmentedBatch
            The files and their segments.
        searcher : callable
            Replaces ``self.searcher`` (with ``rescorer``: a searcher that
            returns its top-k hypotheses).
        rescorer : speechbrain.decoders.scorer.RescorerBuilder
            Re-ranks the top-k hypotheses (``lm.rescore_nbest``).
        tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
            Gives the rescorer the hypotheses' texts (needed with
            ``rescorer``).
        aligner : speechbrain_mmspeech.inference.alignment.TokenAligner
            Adds per-token times, pinyin and confidences.

        Returns
        -------
        list of list of SegmentHypothesis
            Per file, its segments in order.
        """
        searcher = searcher or self.searcher
        if rescorer is not None and tokenizer is None:
            raise ValueError("N-best rescoring needs the tokenizer")
        search = BatchSearch(searcher, rescorer, tokenizer)
        work = [
            (file, index, start, end)
            for file, bounds in enumerate(segmented.segments)
            for index, (start, end) in enumerate(bounds)
        ]
        # Longest first; ties in file order, so the order is reproducible.
        work.sort(key=lambda item: item[2] - item[3])
        results = [[None] * len(bounds) for bounds in segmented.segments]
        for first in range(0, len(work), self.batch_size):
            batch = work[first : first + self.batch_size]
            pieces = [
                segmented.signals[file][start:end]
                for file, _, start, end in batch
            ]
            hyps = self._decode_batch(
                pieces, segmented.sample_rate, search, aligner
            )
            for (file, index, start, end), (tokens, score, chars) in zip(
                batch, hyps
            ):
                if chars is not None:
                    offset = start / segmented.sample_rate
                    for char in chars:
                        char.start += offset
                        char.end += offset
                results[file][index] = SegmentHypothesis(
                    start, end, tokens, score, chars
                )
        return results

    def _decode_batch(self, pieces, sample_rate, search, aligner):
        """(tokens, score, chars) for each waveform of one batch."""
        wavs, wav_lens = pad_segments(pieces, self.device)
        feats = self.compute_features(wavs, wav_lens)
        feats = self.normalize(feats, wav_lens)
        memory = self.model.encode(feats, wav_lens)
        hyps, scores = search(memory, wav_lens)
        if aligner is None:
            return [(hyp, score, None) for hyp, score in zip(hyps, scores)]
        details = self._details(
            memory, hyps, pieces, sample_rate, search.searcher, aligner
        )
        return list(zip(hyps, scores, details))

    def _details(self, memory, hyps, pieces, sample_rate, searcher, aligner):
        """Per-token details of each hypothesis (times relative to its segment)."""
        confidences = token_confidences(self.model, memory, hyps, searcher)
        hidden, _, padding = unpack_memory(memory)
        phone_log_probs = self.model.encoder.phone_logits(hidden).log_softmax(
            -1
        )
        details = []
        for row, hyp in enumerate(hyps):
            n_frames = int((~padding[row]).sum())
            duration = pieces[row].shape[0] / sample_rate
            details.append(
                aligner(
                    phone_log_probs[row, :n_frames],
                    hyp,
                    confidences[row],
                    0.0,
                    duration,
                )
            )
        return details


class BatchSearch:
    """A searcher, optionally followed by N-best rescoring.

    Arguments
    ---------
    searcher : callable
        ``searcher(memory, wav_lens)`` as SpeechBrain's searchers; with a
        rescorer it must return its top-k hypotheses.
    rescorer : speechbrain.decoders.scorer.RescorerBuilder
        Re-ranks them (None: the searcher's best hypothesis is kept).
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        Gives the rescorer the texts.
    """

    def __init__(self, searcher, rescorer=None, tokenizer=None):
        self.searcher = searcher
        self.rescorer = rescorer
        self.tokenizer = tokenizer

    def __call__(self, memory, wav_lens):
        """Best hypothesis per row, and its beam score (None if rescored).

        Arguments
        ---------
        memory : torch.Tensor
            Packed encoder memory.
        wav_lens : torch.Tensor
            Relative lengths.

        Returns
        -------
        hyps : list of list of int
        scores : list of float
        """
        if self.rescorer is None:
            hyps, _, scores, _ = self.searcher(memory, wav_lens)
            scores = [float(score) for score in scores]
        else:
            topk, lengths, topk_scores, _ = self.searcher(memory, wav_lens)
            hyps, _ = rescore_nbest(
                self.rescorer, self.tokenizer, topk, lengths, topk_scores
            )
            scores = [None] * len(hyps)
        return [[int(t) for t in hyp] for hyp in hyps], scores


def token_confidences(model, memory, hyps, searcher):
    """The decoder's probability of each token of each hypothesis.

    The hypothesis is fed back to the decoder (teacher forcing) and each
    token's probability is read from the softmax over the ids the searcher
    may emit (the text ids, without ``<s>`` and ``<pad>``).

    Arguments
    ---------
    model : speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech
        The model.
    memory : torch.Tensor
        ``[batch, time, channels]`` packed encoder memory.
    hyps : list of list of int
        One hypothesis per row of ``memory``.
    searcher : speechbrain_mmspeech.decoders.seq2seq.MMSpeechBeamSearcher
        Gives ``bos_index``, ``text_vocab_size`` and ``banned_indices``.

    Returns
    -------
    list of list of float
    """
    longest = max((len(hyp) for hyp in hyps), default=0)
    if longest == 0:
        return [[] for _ in hyps]
    bos = searcher.bos_index
    inputs = torch.full(
        (len(hyps), longest + 1), bos, dtype=torch.long, device=memory.device
    )
    for row, hyp in enumerate(hyps):
        inputs[row, 1 : len(hyp) + 1] = torch.tensor(hyp)
    states, _ = model.decode(inputs[:, :-1], memory)
    logits = model.output_projection(states).float()
    vocab = getattr(searcher, "text_vocab_size", None) or logits.shape[-1]
    logits = logits[..., :vocab].clone()
    banned = [i for i in getattr(searcher, "banned_indices", []) if i < vocab]
    logits[..., banned] = float("-inf")
    probs = logits.softmax(dim=-1)
    chosen = probs.gather(-1, inputs[:, 1:].clamp(max=vocab - 1).unsqueeze(-1))
    return [chosen[row, : len(hyp), 0].tolist() for row, hyp in enumerate(hyps)]
