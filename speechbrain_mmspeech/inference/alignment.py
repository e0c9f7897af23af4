"""Character times and pinyin from the phone head (CTC forced alignment).

MMSpeech's encoder has a phone head (PP, phone CTC over the 120 pinyin
phones plus the blank). A transcription's characters are read as pinyin by
``PinyinTokenizer.pronounce`` (in phrase context, so polyphones follow the
hypothesis), each syllable is its initial and final phones, and the phone
sequence is force-aligned to the phone head's log-probabilities with
``torchaudio.functional.forced_align``. A character then lasts from the first
frame of its first phone to the end of the last frame of its last phone.
One encoder frame is 40 ms (10 ms fbank hop, subsampled 4 times).

When the phones cannot fit the frames (more phones than frames allow, which
a trained model does not produce on real speech), the characters are spread
evenly over the segment instead.

Authors
 * MMSpeech plugin contributors 2026
"""

import logging

import torch
from torchaudio.functional import forced_align, merge_tokens

from speechbrain_mmspeech.inference.results import TimedChar
from speechbrain_mmspeech.lobes.models.encoder import N_SUBSAMPLING_CONVS

logger = logging.getLogger(__name__)

FBANK_SHIFT_SECONDS = 0.01
ENCODER_FRAME_SECONDS = FBANK_SHIFT_SECONDS * 2**N_SUBSAMPLING_CONVS


def read_tokens(token_texts, phone_tokenizer):
    """Pinyin and phone CTC targets of a hypothesis, token by token.

    Arguments
    ---------
    token_texts : list of str
        The text of each decoder token.
    phone_tokenizer : speechbrain_mmspeech.tokenizers.PinyinTokenizer
        Reads the text and maps phones to CTC classes.

    Returns
    -------
    pinyin : list of str
        Each token's pinyin (Latin letters and digits stand for themselves,
        ``""`` when there is no reading).
    targets : list of int
        The CTC classes of all phones, in order.
    owners : list of int
        For each target, the index of its token.

    Example
    -------
    >>> from speechbrain_mmspeech.tokenizers import PinyinTokenizer
    >>> read_tokens(["你", "好", "⁇"], PinyinTokenizer())
    (['ni3', 'hao3', ''], [65, 38, 35, 13], [0, 0, 1, 1])
    """
    entries = phone_tokenizer.pronounce("".join(token_texts))
    first_phone = phone_tokenizer.phone_offset
    end_phone = first_phone + phone_tokenizer.num_phones
    pinyin, targets, owners, position = [], [], [], 0
    for index, text in enumerate(token_texts):
        syllables = []
        for char, syllable, phones in entries[position : position + len(text)]:
            if not syllable and char.isascii() and char.isalnum():
                syllable = char
            if syllable:
                syllables.append(syllable)
            for phone in phones or ():
                phone_id = phone_tokenizer.token_to_id(phone)
                if first_phone <= phone_id < end_phone:
                    targets.append(phone_id - phone_tokenizer.ctc_offset)
                    owners.append(index)
        position += len(text)
        pinyin.append(" ".join(syllables))
    return pinyin, targets, owners


def align_phones(log_probs, targets, blank=0):
    """Frame spans of CTC targets by forced alignment.

    Arguments
    ---------
    log_probs : torch.Tensor
        ``[frames, classes]`` phone-head log-probabilities of one segment.
    targets : list of int
        CTC classes to align, in order.
    blank : int
        The blank class.

    Returns
    -------
    list of tuple or None
        ``(first_frame, end_frame)`` per target (end exclusive), or None
        when the targets do not fit the frames.

    Example
    -------
    >>> log_probs = torch.full((6, 3), -10.0)
    >>> log_probs[[0, 3, 4, 5], 0] = 0.0  # blank
    >>> log_probs[1, 1] = log_probs[2, 2] = 0.0
    >>> align_phones(log_probs, [1, 2])
    [(1, 2), (2, 3)]
    >>> align_phones(log_probs[:1], [1, 2]) is None
    True
    """
    repeats = sum(a == b for a, b in zip(targets, targets[1:]))
    if not targets or log_probs.shape[0] < len(targets) + repeats:
        return None
    labels, scores = forced_align(
        log_probs.detach().float().cpu().unsqueeze(0),
        torch.tensor([targets], dtype=torch.int32),
        blank=blank,
    )
    spans = merge_tokens(labels[0], scores[0], blank=blank)
    return [(span.start, span.end) for span in spans]


def time_chars(
    token_texts,
    pinyin,
    spans,
    owners,
    confidences,
    *,
    start,
    end,
    frame_seconds=ENCODER_FRAME_SECONDS,
):
    """Gives each token its times from the spans of its phones.

    Arguments
    ---------
    token_texts : list of str
        The tokens' texts.
    pinyin : list of str
        Their pinyin (``read_tokens``).
    spans : list of tuple or None
        Frame spans of the phones (``align_phones``); None spreads the
        tokens evenly over the segment.
    owners : list of int
        The token of each phone.
    confidences : list of float
        One per token (or None).
    start : float
        Segment start in seconds.
    end : float
        Segment end in seconds.
    frame_seconds : float
        Duration of one phone-head frame.

    Returns
    -------
    list of TimedChar
        Times are non-decreasing and inside ``[start, end]``.

    Example
    -------
    >>> chars = time_chars(
    ...     ["你", "⁇", "好"],
    ...     ["ni3", "", "hao3"],
    ...     [(2, 3), (3, 5), (8, 9)],
    ...     [0, 0, 2],
    ...     [0.9, 0.1, 0.8],
    ...     start=10.0,
    ...     end=11.0,
    ... )
    >>> [(c.char, round(c.start, 2), round(c.end, 2)) for c in chars]
    [('你', 10.08, 10.2), ('⁇', 10.2, 10.2), ('好', 10.32, 10.36)]
    """
    if confidences is None:
        confidences = [None] * len(token_texts)
    n_tokens = len(token_texts)
    if spans is None:
        step = (end - start) / max(n_tokens, 1)
        bounds = [
            (start + index * step, start + (index + 1) * step)
            for index in range(n_tokens)
        ]
    else:
        frames = [None] * n_tokens
        for (first, last), owner in zip(spans, owners):
            if frames[owner] is None:
                frames[owner] = (first, last)
            else:
                frames[owner] = (frames[owner][0], last)
        bounds, previous_end = [], start
        for token_frames in frames:
            if token_frames is None:
                bounds.append((previous_end, previous_end))
                continue
            first = min(start + token_frames[0] * frame_seconds, end)
            last = min(start + token_frames[1] * frame_seconds, end)
            bounds.append((first, last))
            previous_end = last
    return [
        TimedChar(text, first, last, syllables, confidence)
        for text, (first, last), syllables, confidence in zip(
            token_texts, bounds, pinyin, confidences
        )
    ]


class TokenAligner:
    """Times, pinyin and confidences of the tokens of decoded segments.

    Arguments
    ---------
    tokenizer : speechbrain_mmspeech.tokenizers.CharTokenizer
        The decoder's tokenizer (token ids to texts).
    phone_tokenizer : speechbrain_mmspeech.tokenizers.PinyinTokenizer
        The phone inventory of the model's phone head.
    frame_seconds : float
        Duration of one phone-head frame.
    """

    def __init__(
        self, tokenizer, phone_tokenizer, frame_seconds=ENCODER_FRAME_SECONDS
    ):
        self.tokenizer = tokenizer
        self.phone_tokenizer = phone_tokenizer
        self.frame_seconds = frame_seconds

    def __call__(self, phone_log_probs, token_ids, confidences, start, end):
        """Details of one segment.

        Arguments
        ---------
        phone_log_probs : torch.Tensor
            ``[frames, classes]`` phone-head log-probabilities (no padding).
        token_ids : list of int
            The segment's hypothesis (ids that decode to no text, such as
            ``<unused_k>``, are left out of the details).
        confidences : list of float
            One per token id.
        start : float
            Segment start in seconds.
        end : float
            Segment end in seconds.

        Returns
        -------
        list of TimedChar
        """
        texts = [self.tokenizer.decode_ids([index]) for index in token_ids]
        # Ids without text (<unused_k>, <mask> ...) are not characters.
        kept = [row for row, text in enumerate(texts) if text]
        texts = [texts[row] for row in kept]
        if confidences is not None:
            confidences = [confidences[row] for row in kept]
        pinyin, targets, owners = read_tokens(texts, self.phone_tokenizer)
        spans = align_phones(
            phone_log_probs, targets, self.phone_tokenizer.ctc_blank_index
        )
        if spans is None and targets:
            logger.warning(
                "%d phones do not fit %d frames (%.2f-%.2f s): characters "
                "spread evenly",
                len(targets),
                phone_log_probs.shape[0],
                start,
                end,
            )
        elif not targets:
            spans = []
        return time_chars(
            texts,
            pinyin,
            spans,
            owners,
            confidences,
            start=start,
            end=end,
            frame_seconds=self.frame_seconds,
        )
