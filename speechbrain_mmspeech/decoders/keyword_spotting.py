"""Keyword spotting on the phone head: where a word's pinyin phones are heard.

``spot_hotwords`` aligns each word's CTC label sequence against an
utterance's phone log-posteriors by Viterbi with a free start and end, for
all words and utterances at once; a word's score is its best segment's cost
per phone (0 when the head's greedy path holds it). The hotword gate of
``speechbrain_mmspeech.decoders.hotwords`` reads these scores.

Tones are where the phone head errs most: with a tone penalty, a final may
also be matched by the same final in another tone (``tone_groups``,
``tone_tolerant_costs``), at that cost per frame.

Authors
 * MMSpeech plugin contributors 2026
"""

import torch


def tone_groups(pinyin_tokenizer):
    """The toneless group of each CTC class: finals that differ only in
    their tone (``ue1`` ... ``ue5``) share a group, every other class is
    a group of its own.

    Arguments
    ---------
    pinyin_tokenizer : speechbrain_mmspeech.tokenizers.PinyinTokenizer
        The phone inventory of the phone head.

    Returns
    -------
    torch.Tensor
        ``[classes]`` group index of each CTC class.

    Example
    -------
    >>> from speechbrain_mmspeech.tokenizers import PinyinTokenizer
    >>> tokenizer = PinyinTokenizer()
    >>> groups = tone_groups(tokenizer)
    >>> xue1, xue2, n = tokenizer.ids_to_ctc_targets(
    ...     [tokenizer.token_to_id(p) for p in ["ue1", "ue2", "n"]]
    ... )
    >>> bool(groups[xue1] == groups[xue2]), bool(groups[xue1] == groups[n])
    (True, False)
    """
    keys = {}
    groups = []
    for target in range(pinyin_tokenizer.num_ctc_classes):
        if target == pinyin_tokenizer.ctc_blank_index:
            key = None
        else:
            token = pinyin_tokenizer.id_to_token(
                pinyin_tokenizer.ctc_targets_to_ids([target])[0]
            )
            key = token.rstrip("012345")
        groups.append(keys.setdefault(key, len(keys)))
    return torch.tensor(groups)


def tone_tolerant_costs(costs, groups, penalty):
    """Frame costs where a class may also take its best toneless sibling's
    cost, minus ``penalty``.

    Arguments
    ---------
    costs : torch.Tensor
        ``[batch, time, classes]`` frame costs (log-posteriors minus the
        frame's best).
    groups : torch.Tensor
        ``[classes]`` toneless groups (``tone_groups``).
    penalty : float
        The cost of a tone substitution, per frame.

    Returns
    -------
    torch.Tensor
        ``[batch, time, classes]`` the costs, each at least its group's
        best minus ``penalty``.

    Example
    -------
    >>> costs = torch.tensor([[[0.0, -9.0, -1.0]]])  # ue2, ue1, n
    >>> tone_tolerant_costs(costs, torch.tensor([0, 0, 1]), 2.0).tolist()
    [[[0.0, -2.0, -1.0]]]
    """
    index = groups.to(costs.device).expand_as(costs)
    best = torch.full(
        costs.shape[:-1] + (int(groups.max()) + 1,),
        float("-inf"),
        dtype=costs.dtype,
        device=costs.device,
    ).scatter_reduce(-1, index, costs, "amax")
    return torch.maximum(costs, best.gather(-1, index) - penalty)


def spot_hotwords(
    log_probs,
    lengths,
    phones,
    phone_lengths,
    blank_index=0,
    tone_groups=None,
    tone_penalty=None,
    return_segments=False,
):
    """Keyword spotting: each hotword's best segment in each utterance.

    Viterbi over each hotword's CTC label sequence ``p1 _ p2 _ ... pL``
    (blanks optional between different phones), starting at any frame on
    ``p1`` and ending at any frame on ``pL``. A frame on label ``k`` costs
    ``log p_t(k) - max_j log p_t(j)``; frames outside the segment cost 0.

    Arguments
    ---------
    log_probs : torch.Tensor
        ``[batch, time, classes]`` phone log-posteriors.
    lengths : torch.Tensor
        ``[batch]`` valid frames.
    phones : torch.Tensor
        ``[hotwords, max_phones]`` CTC classes (padding is ignored).
    phone_lengths : torch.Tensor
        ``[hotwords]`` number of phones.
    blank_index : int
        The blank class.
    tone_groups : torch.Tensor
        ``[classes]`` toneless groups, with ``tone_penalty``.
    tone_penalty : float
        None: a label's own cost; else ``tone_tolerant_costs``.
    return_segments : bool
        Also return where each best segment starts and ends.

    Returns
    -------
    scores : torch.Tensor
        ``[batch, hotwords]`` best segment cost per phone (0 at best,
        ``-inf`` if the phones do not fit in the frames).
    segments : torch.Tensor
        With ``return_segments``: ``[batch, hotwords, 2]`` the first and
        last frame of each best segment.

    Example
    -------
    >>> log_probs = torch.full((1, 5, 4), -8.0)
    >>> log_probs[0, [0, 1, 2, 3, 4], [0, 1, 0, 2, 0]] = 0.0  # _ a _ b _
    >>> phones = torch.tensor([[1, 2], [2, 1], [3, 3]])
    >>> spot_hotwords(
    ...     log_probs, torch.tensor([5]), phones, torch.tensor([2, 2, 2])
    ... ).round().tolist()
    [[0.0, -4.0, -8.0]]
    >>> _, segments = spot_hotwords(
    ...     log_probs,
    ...     torch.tensor([5]),
    ...     phones,
    ...     torch.tensor([2, 2, 2]),
    ...     return_segments=True,
    ... )
    >>> segments[0, 0].tolist()  # a _ b: frames 1 to 3
    [1, 3]
    """
    batch, n_frames, _ = log_probs.shape
    n_words, max_phones = phones.shape
    costs = log_probs - log_probs.amax(dim=-1, keepdim=True)
    if tone_penalty is not None:
        costs = tone_tolerant_costs(costs, tone_groups, tone_penalty)
    # The label sequence p1 _ p2 _ ... pL, padded to 2 * max_phones - 1.
    n_states = 2 * max_phones - 1
    labels = torch.full((n_words, n_states), blank_index, dtype=torch.long)
    labels[:, 0::2] = phones
    # A phone may skip the blank before it unless it repeats the last phone.
    no_skip = torch.full((n_words, n_states - 2), float("-inf"))
    no_skip[:, 0::2] = torch.where(phones[:, 1:] != phones[:, :-1], 0.0, -1e30)
    no_skip = no_skip.to(costs.dtype)
    final = (2 * phone_lengths - 2).unsqueeze(0).expand(batch, -1)
    frame_costs = costs[:, :, labels.view(-1)].view(
        batch, n_frames, n_words, n_states
    )
    alpha = torch.full((batch, n_words, n_states), -1e30, dtype=costs.dtype)
    best = torch.full((batch, n_words), -1e30, dtype=costs.dtype)
    # With segments: each state's start frame, and the best segments'.
    start = torch.zeros(alpha.shape, dtype=torch.long)
    segments = torch.zeros(batch, n_words, 2, dtype=torch.long)
    lengths = lengths.tolist()
    for t in range(max(lengths)):
        if return_segments:
            prev, prev_start = _viterbi_step(alpha, start, no_skip, t)
        else:  # the same values, in place, without tracking the choices
            prev = alpha.clone()
            torch.maximum(prev[..., 1:], alpha[..., :-1], out=prev[..., 1:])
            torch.maximum(
                prev[..., 2:], alpha[..., :-2] + no_skip, out=prev[..., 2:]
            )
            prev[..., 0].clamp_(min=0.0)  # a fresh start
        prev += frame_costs[:, t]
        ends = prev.gather(2, final.unsqueeze(-1)).squeeze(-1)
        live = None
        if batch > 1 and min(lengths) <= t:
            live = torch.tensor([t < n for n in lengths])
            prev = torch.where(live[:, None, None], prev, alpha)
            ends = torch.where(live[:, None], ends, best)
        if return_segments:
            if live is not None:
                prev_start = torch.where(live[:, None, None], prev_start, start)
            start = prev_start
            improved = ends > best
            ends_start = start.gather(2, final.unsqueeze(-1)).squeeze(-1)
            segments[..., 0] = torch.where(
                improved, ends_start, segments[..., 0]
            )
            segments[..., 1] = torch.where(improved, t, segments[..., 1])
        alpha = prev
        torch.maximum(best, ends, out=best)
    best = best.masked_fill(best < -1e29, float("-inf"))
    scores = best / phone_lengths.to(costs.dtype)
    if return_segments:
        return scores, segments
    return scores


def _viterbi_step(alpha, start, no_skip, t):
    """The best predecessor of every state (stay, advance by one, skip a
    blank, or a fresh start at frame ``t`` on the first label), and the
    start frame it carries; ties go to the earlier option in that order."""
    from_one = torch.full_like(alpha, -1e30)
    from_one[..., 1:] = alpha[..., :-1]
    from_two = torch.full_like(alpha, -1e30)
    from_two[..., 2:] = alpha[..., :-2] + no_skip
    fresh = torch.full_like(alpha, -1e30)
    fresh[..., 0] = 0.0
    options = torch.stack([alpha, from_one, from_two, fresh], dim=-1)
    value, choice = options.max(dim=-1)
    pad = torch.nn.functional.pad
    starts = torch.stack(
        [
            start,
            pad(start[..., :-1], (1, 0)),
            pad(start[..., :-2], (2, 0)),
            torch.full_like(start, t),
        ],
        dim=-1,
    )
    return value, starts.gather(-1, choice.unsqueeze(-1)).squeeze(-1)
