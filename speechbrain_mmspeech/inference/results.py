"""What a detailed transcription holds, and how it is written out.

``MMSpeechASR.transcribe_file(path, return_details=True)`` returns a
``Transcription``: the text, and for each decoded segment its start and end,
its text and pinyin, and per character (one decoder token, in Mandarin one
syllable) its start and end, pinyin and confidence. ``to_dict`` gives the
JSON form the ``mmspeech-transcribe`` command writes as JSON lines, and
``to_srt`` gives SubRip subtitles, one cue per segment.

Times are in seconds from the start of the file.

Authors
 * MMSpeech plugin contributors 2026
"""

from dataclasses import dataclass, field
from typing import List, Optional

TIME_DECIMALS = 3
CONFIDENCE_DECIMALS = 4


@dataclass
class TimedChar:
    """One character of a transcription.

    Arguments
    ---------
    char : str
        The text of the decoder token (one Chinese character; a Latin word
        piece for vocabularies that have them).
    start : float
        Start time: the first frame of its first phone in the CTC forced
        alignment against the phone head.
    end : float
        End time: the end of the last frame of its last phone. A character
        without phones (``⁇``, digits) gets ``start == end`` at the end of
        the character before it.
    pinyin : str
        Its tone-numbered pinyin (``hao3``); Latin letters and digits stand
        for themselves; ``""`` when it has no reading.
    confidence : float
        The decoder's probability of this character given the audio and the
        characters before it (the language model, if any, is not included).
    """

    char: str
    start: float
    end: float
    pinyin: str
    confidence: Optional[float]

    def to_dict(self):
        """The JSON form (times rounded to milliseconds)."""
        return {
            "char": self.char,
            "start": round(self.start, TIME_DECIMALS),
            "end": round(self.end, TIME_DECIMALS),
            "pinyin": self.pinyin,
            "confidence": None
            if self.confidence is None
            else round(self.confidence, CONFIDENCE_DECIMALS),
        }


@dataclass
class TranscribedSegment:
    """One decoded segment of a file.

    Arguments
    ---------
    start : float
        Where the decoded audio starts.
    end : float
        Where it ends.
    text : str
        Its transcription.
    chars : list of TimedChar
        Its characters, in order (empty when details were not asked for).
    """

    start: float
    end: float
    text: str
    chars: List[TimedChar] = field(default_factory=list)

    @property
    def pinyin(self):
        """The pinyin of the segment, syllables separated by spaces."""
        return " ".join(char.pinyin for char in self.chars if char.pinyin)

    def to_dict(self):
        """The JSON form."""
        return {
            "start": round(self.start, TIME_DECIMALS),
            "end": round(self.end, TIME_DECIMALS),
            "text": self.text,
            "pinyin": self.pinyin,
            "chars": [char.to_dict() for char in self.chars],
        }


@dataclass
class Transcription:
    """The transcription of one file, segment by segment.

    Arguments
    ---------
    segments : list of TranscribedSegment
        The decoded segments, in order (none for audio without speech).
    duration : float
        Length of the audio in seconds.

    Example
    -------
    >>> chars = [
    ...     TimedChar("你", 0.52, 0.6, "ni3", 0.9),
    ...     TimedChar("好", 0.8, 0.88, "hao3", 0.75),
    ... ]
    >>> result = Transcription(
    ...     [TranscribedSegment(0.4, 1.2, "你好", chars)], 3.0
    ... )
    >>> result.text, result.pinyin
    ('你好', 'ni3 hao3')
    >>> print(to_srt(result))
    1
    00:00:00,400 --> 00:00:01,200
    你好
    <BLANKLINE>
    """

    segments: List[TranscribedSegment]
    duration: float

    @property
    def text(self):
        """The whole text, the segments' texts joined."""
        return "".join(segment.text for segment in self.segments)

    @property
    def pinyin(self):
        """The pinyin of the whole text."""
        return " ".join(s.pinyin for s in self.segments if s.pinyin)

    def to_dict(self):
        """The JSON form: text, pinyin, duration and segments."""
        return {
            "text": self.text,
            "pinyin": self.pinyin,
            "duration": round(self.duration, TIME_DECIMALS),
            "segments": [segment.to_dict() for segment in self.segments],
        }


def srt_time(seconds):
    """Formats seconds as a SubRip time stamp.

    Arguments
    ---------
    seconds : float
        Time from the start.

    Returns
    -------
    str
        ``HH:MM:SS,mmm``.

    Example
    -------
    >>> srt_time(3723.4567)
    '01:02:03,457'
    """
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def to_srt(transcription):
    """SubRip subtitles: one cue per segment with text.

    Arguments
    ---------
    transcription : Transcription
        A detailed transcription.

    Returns
    -------
    str
        The subtitles (empty when nothing was said).
    """
    cues = [s for s in transcription.segments if s.text]
    return "".join(
        f"{index}\n{srt_time(s.start)} --> {srt_time(s.end)}\n{s.text}\n\n"
        for index, s in enumerate(cues, start=1)
    )
