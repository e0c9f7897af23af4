"""Span masks over time, as MMSpeech draws them for masked speech input.

S2T fine-tuning masks speech frames with probability 0.3 and the S2C/MSP
pre-training tasks with 0.7, always in spans of 10 frames (after the 4x
subsampling, so 400 ms). Masked frames are replaced by the encoder's learned
``mask_emb``. The draw follows wav2vec 2.0's ``compute_mask_indices`` with
static span lengths and overlapping spans: a row of length ``L`` gets
``int(mask_prob * L / span + u)`` span starts, ``u ~ U(0, 1)``, at least
``min_masks``. Rows keep their own number of masked frames (the official
code truncates every row to the batch minimum, which only matters for
contrastive losses that MMSpeech does not use).

Authors
 * MMSpeech plugin contributors 2026
"""

import torch


def lengths_to_padding_mask(lengths, max_length=None):
    """Boolean mask that is True at padded positions.

    Arguments
    ---------
    lengths : torch.Tensor
        Absolute lengths ``[batch]``.
    max_length : int
        Width of the mask (default: the largest length).

    Returns
    -------
    torch.Tensor
        ``[batch, max_length]``, True where ``t >= lengths[b]``.

    Example
    -------
    >>> lengths_to_padding_mask(torch.tensor([1, 3]))
    tensor([[False,  True,  True],
            [False, False, False]])
    """
    if max_length is None:
        max_length = int(lengths.max())
    positions = torch.arange(max_length, device=lengths.device)
    return positions[None, :] >= lengths[:, None]


def compute_span_mask(
    lengths, max_length, mask_prob, span_length, min_masks=1, generator=None
):
    """Draws spans of masked frames for a batch.

    Arguments
    ---------
    lengths : torch.Tensor
        Absolute lengths ``[batch]`` (frames after subsampling).
    max_length : int
        Width of the returned mask.
    mask_prob : float
        Expected fraction of frames that start a span times ``span_length``
        (0 disables masking).
    span_length : int
        Frames per span.
    min_masks : int
        Minimum number of spans per row (when the row is long enough).
    generator : torch.Generator
        Optional source of randomness (for reproducible draws).

    Returns
    -------
    torch.Tensor
        Boolean ``[batch, max_length]``, True at masked frames; padded frames
        are never masked.

    Example
    -------
    >>> g = torch.Generator().manual_seed(0)
    >>> mask = compute_span_mask(
    ...     torch.tensor([100, 40]), 100, 0.3, 10, generator=g
    ... )
    >>> mask.shape, bool(mask[1, 40:].any())
    (torch.Size([2, 100]), False)
    """
    mask = torch.zeros(len(lengths), max_length, dtype=torch.bool)
    if mask_prob <= 0:
        return mask.to(lengths.device)
    for row, length in enumerate(lengths.tolist()):
        n_starts_possible = length - span_length + 1
        if n_starts_possible <= 0:
            continue
        uniform = torch.rand(1, generator=generator).item()
        n_spans = int(mask_prob * length / span_length + uniform)
        n_spans = min(max(n_spans, min_masks), n_starts_possible)
        starts = torch.randperm(n_starts_possible, generator=generator)
        for start in starts[:n_spans].tolist():
            mask[row, start : start + span_length] = True
    return mask.to(lengths.device)
