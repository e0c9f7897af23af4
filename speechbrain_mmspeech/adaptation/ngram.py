"""The n-gram way: the folder's n-gram interpolated with a domain n-gram.

The background LM is the folder's own n-gram (resized to the grown
vocabulary), or, when the original text pool is given, one refitted on it
with the folder's order. A second ``NgramLM`` of the same order is fitted
on the domain text; the two are mixed linearly (``NgramLM.interpolate``).
The weight is the smallest candidate whose perplexity on the held-out
domain text is within ``tolerance`` (relative) of the lowest: the domain
gains nearly all it can while the original text keeps most of its
probability. (On the held-out sport topic, the lowest-perplexity weight,
0.5, raised the perplexity of the original dev transcripts by 16% and the
original test CER by 1.3 points; 0.2 is within 8% of the best domain
perplexity and raises the original one by 2.6%.) The domain LM is then
refitted on all of the domain text, held-out part included.

Authors
 * MMSpeech plugin contributors 2026
"""

import math

import torch

CHUNK = 2048  # histories scored at a time


@torch.no_grad()
def target_probs(lm, sequences):
    """The LM's probability of every id (and ``</s>``) of the sentences.

    Arguments
    ---------
    lm : speechbrain_mmspeech.lm.ngram.NgramLM
    sequences : list of list of int

    Returns
    -------
    torch.Tensor
        One probability per predicted id, ``</s>`` included.

    Example
    -------
    >>> from speechbrain_mmspeech.lm.ngram import NgramLM
    >>> target_probs(NgramLM(vocab_size=6, order=2), [[4]]).tolist()
    [0.3333333432674408, 0.3333333432674408]
    """
    pairs = [lm.histories(sequence) for sequence in sequences]
    if not pairs:
        return torch.zeros(0)
    histories = torch.cat([h for h, _ in pairs])
    targets = torch.cat([t for _, t in pairs])
    probs = []
    for start in range(0, len(targets), CHUNK):
        rows = lm.probs(histories[start : start + CHUNK])
        chunk = targets[start : start + CHUNK, None].to(rows.device)
        probs.append(rows.gather(1, chunk)[:, 0].cpu())
    return torch.cat(probs)


def perplexity(probs):
    """Perplexity from per-token probabilities.

    Arguments
    ---------
    probs : torch.Tensor

    Returns
    -------
    float

    Example
    -------
    >>> perplexity(torch.tensor([0.5, 0.5]))
    2.0
    """
    return math.exp(-probs.double().log().mean().item())


def choose_weight(background, domain, heldout, weights, tolerance=0.0):
    """The smallest domain weight within ``tolerance`` of the lowest
    held-out perplexity, and every perplexity.

    Arguments
    ---------
    background : speechbrain_mmspeech.lm.ngram.NgramLM
    domain : speechbrain_mmspeech.lm.ngram.NgramLM
        Same ids and order.
    heldout : list of list of int
        Held-out domain sentences.
    weights : list of float
        Candidate weights of ``domain``, in [0, 1].
    tolerance : float
        Relative excess perplexity accepted for a smaller weight.

    Returns
    -------
    best : float
    perplexities : dict
        Weight -> perplexity.

    Example
    -------
    >>> from speechbrain_mmspeech.lm.ngram import NgramLM
    >>> a = NgramLM(vocab_size=7, order=2).fit([[4, 5]] * 5)
    >>> b = NgramLM(vocab_size=7, order=2).fit([[4, 6]] * 5)
    >>> best, ppl = choose_weight(a, b, [[4, 6], [4, 5]], [0.1, 0.5, 0.9])
    >>> best
    0.5
    >>> choose_weight(a, b, [[4, 6], [4, 5]], [0.1, 0.5, 0.9], 0.5)[0]
    0.1
    """
    background_probs = target_probs(background, heldout)
    domain_probs = target_probs(domain, heldout)
    perplexities = {
        weight: perplexity(
            (1 - weight) * background_probs + weight * domain_probs
        )
        for weight in weights
    }
    lowest = min(perplexities.values())
    best = min(
        weight
        for weight, value in perplexities.items()
        if value <= lowest * (1 + tolerance)
    )
    return best, perplexities


def adapt_ngram(
    background, domain_train, domain_heldout, weights, tolerance=0.0
):
    """The interpolated LM of the module docstring.

    Arguments
    ---------
    background : speechbrain_mmspeech.lm.ngram.NgramLM
        Over the grown vocabulary, without a mixture.
    domain_train : list of list of int
        Domain sentences (ids) the domain LM is fitted on.
    domain_heldout : list of list of int
        Held-out domain sentences that choose the weight.
    weights : list of float
        Candidate weights.
    tolerance : float
        See ``choose_weight``.

    Returns
    -------
    lm : speechbrain_mmspeech.lm.ngram.NgramLM
        ``background`` with the domain LM mixed in.
    report : dict
        ``weight``, ``perplexities`` (weight -> held-out perplexity),
        ``background_perplexity``.
    """
    domain = background.same_kind().fit(domain_train)
    best, perplexities = choose_weight(
        background, domain, domain_heldout, weights, tolerance
    )
    background_ppl = perplexity(target_probs(background, domain_heldout))
    domain = background.same_kind().fit(domain_train + domain_heldout)
    return background.interpolate(domain, best), {
        "weight": best,
        "perplexities": perplexities,
        "background_perplexity": background_ppl,
    }
