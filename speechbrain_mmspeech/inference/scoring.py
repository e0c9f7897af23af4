"""Scoring transcriptions against references: the character error rate.

Characters are compared one by one, whitespace left out, as the recipes'
``cer_computer`` does for AISHELL.

Authors
 * MMSpeech plugin contributors 2026
"""

from speechbrain.utils.metric_stats import ErrorRateStats


def character_error_stats(ids, hypotheses, references):
    """The CER details of transcriptions (``ErrorRateStats``).

    Arguments
    ---------
    ids : list of str
        Utterance ids.
    hypotheses : list of str
        The transcriptions.
    references : list of str
        The references, normalised.

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
    stats.append(
        list(ids),
        [list("".join(text.split())) for text in hypotheses],
        [list("".join(text.split())) for text in references],
    )
    return stats
