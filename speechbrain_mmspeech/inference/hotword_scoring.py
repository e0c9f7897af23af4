"""Scoring hotword decoding: recall, precision, B-CER and U-CER.

Definitions (a "listed" word is one of the hotword list):

- recall: of the listed words' occurrences in the references, the share
  also written in the hypothesis of the same utterance (an occurrence is
  recalled if the hypothesis holds the word at least as many times);
- precision: of the listed words' occurrences in the hypotheses, the share
  that the reference of the same utterance also holds; a listed word
  written where it was not spoken counts against it;
- B-CER and U-CER (WeNet's context-biasing definition): the reference's
  characters are split into biased ones (inside an occurrence of a listed
  word) and unbiased ones (all others); each character-level edit of the
  Levenshtein alignment is charged to one side: a substitution or deletion
  to the side of its reference character, an insertion to the biased side
  if the inserted character lies inside a listed word written in the
  hypothesis, else to the unbiased side. B-CER = biased errors / biased
  reference characters, U-CER likewise.

Authors
 * MMSpeech plugin contributors 2026
"""

from speechbrain.utils.edit_distance import wer_details_for_batch


def listed_spans(text, words):
    """The characters of ``text`` inside an occurrence of a listed word.

    Arguments
    ---------
    text : str
        Characters.
    words : iterable of str
        The list.

    Returns
    -------
    list of bool
        Per character.

    Example
    -------
    >>> listed_spans("张三去北京", ["北京", "张"])
    [True, False, False, True, True]
    """
    marks = [False] * len(text)
    for word in words:
        start = text.find(word)
        while start >= 0:
            marks[start : start + len(word)] = [True] * len(word)
            start = text.find(word, start + 1)
    return marks


def _alignment(reference, hypothesis):
    """Levenshtein alignment ops ``(op, ref_index, hyp_index)``."""
    details = wer_details_for_batch(
        ["u"], [list(reference)], [list(hypothesis)], compute_alignments=True
    )
    return details[0]["alignment"]


class HotwordStats:
    """Accumulates the hotword metrics over utterances.

    Arguments
    ---------
    hotwords : list of str
        The list the decoding was given (or would be: the baseline is
        scored against the same list).

    Example
    -------
    >>> stats = HotwordStats(["北京", "背景"])
    >>> stats.append("他去北京", "他去背景")
    >>> stats.append("在北京", "在北京")
    >>> s = stats.summarize()
    >>> s["recall"], s["precision"], s["B-CER"], s["U-CER"]
    (50.0, 50.0, 50.0, 0.0)
    """

    def __init__(self, hotwords):
        self.hotwords = sorted(set(hotwords), key=len, reverse=True)
        self.spoken = 0
        self.recalled = 0
        self.written = 0
        self.correct = 0
        self.chars = {"B": 0, "U": 0}
        self.errors = {"B": 0, "U": 0}
        self.per_word = {}

    def append(self, reference, hypothesis):
        """Scores one utterance (texts without spaces).

        Arguments
        ---------
        reference : str
            What was said.
        hypothesis : str
            What was written.
        """
        reference = "".join(reference.split())
        hypothesis = "".join(hypothesis.split())
        for word in self.hotwords:
            in_ref, in_hyp = reference.count(word), hypothesis.count(word)
            hits = min(in_ref, in_hyp)
            self.spoken += in_ref
            self.recalled += hits
            self.written += in_hyp
            self.correct += hits
            if in_ref:
                seen, found = self.per_word.get(word, (0, 0))
                self.per_word[word] = (seen + in_ref, found + hits)
        ref_marks = listed_spans(reference, self.hotwords)
        hyp_marks = listed_spans(hypothesis, self.hotwords)
        for mark in ref_marks:
            self.chars["B" if mark else "U"] += 1
        for op, ref_index, hyp_index in _alignment(reference, hypothesis):
            if op == "=":
                continue
            if op == "I":
                side = "B" if hyp_marks[hyp_index] else "U"
            else:
                side = "B" if ref_marks[ref_index] else "U"
            self.errors[side] += 1

    def word_recall(self):
        """Per spoken listed word: its recall in percent."""
        return {
            word: 100.0 * found / seen
            for word, (seen, found) in self.per_word.items()
        }

    def summarize(self):
        """Recall, precision, B-CER and U-CER in percent, and the counts.

        Returns
        -------
        dict
            ``recall``, ``precision``, ``B-CER``, ``U-CER``, ``spoken``,
            ``written``.
        """

        def rate(num, den, empty=0.0):
            return 100.0 * num / den if den else empty

        return {
            "recall": rate(self.recalled, self.spoken),
            "precision": rate(self.correct, self.written, 100.0),
            "B-CER": rate(self.errors["B"], self.chars["B"]),
            "U-CER": rate(self.errors["U"], self.chars["U"]),
            "spoken": self.spoken,
            "written": self.written,
        }
