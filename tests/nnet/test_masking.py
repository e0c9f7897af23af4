"""Tests for speechbrain_mmspeech.nnet.masking: padding masks and span masks."""

import math

import torch

from speechbrain_mmspeech.nnet.masking import (
    compute_span_mask,
    lengths_to_padding_mask,
)


def expected_coverage(length, n_spans, span):
    """Expected masked fraction: n_spans distinct starts, uniformly drawn."""
    n_starts = length - span + 1
    total = math.comb(n_starts, n_spans)
    covered = 0.0
    for frame in range(length):
        eligible = min(frame, n_starts - 1) - max(0, frame - span + 1) + 1
        covered += 1 - math.comb(n_starts - eligible, n_spans) / total
    return covered / length


def test_lengths_to_padding_mask():
    mask = lengths_to_padding_mask(torch.tensor([2, 0, 3]), max_length=4)
    assert mask.tolist() == [
        [False, False, True, True],
        [True, True, True, True],
        [False, False, False, True],
    ]


def test_span_mask_never_touches_padding():
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor([100, 37, 12, 64])
    for _ in range(20):
        mask = compute_span_mask(lengths, 100, 0.7, 10, generator=g)
        assert not (mask & lengths_to_padding_mask(lengths, 100)).any()
        assert mask.any(dim=1).all()


def test_masked_fraction_matches_expectation():
    # p=0.3, span 10, length 1000: int(30 + u) = 30 distinct span starts,
    # possibly overlapping, so at most 30% and on average a bit less.
    g = torch.Generator().manual_seed(0)
    lengths = torch.full((200,), 1000)
    mask = compute_span_mask(lengths, 1000, 0.3, 10, generator=g)
    fractions = mask.float().mean(dim=1)
    assert fractions.max() <= 0.3
    assert fractions.min() >= 0.039  # 30 distinct starts cover >= 39 frames
    expected = expected_coverage(1000, 30, 10)
    assert 0.25 < expected < 0.27
    assert abs(fractions.mean().item() - expected) < 0.005


def test_seeded_generator_is_deterministic():
    lengths = torch.tensor([80, 50])
    first = compute_span_mask(
        lengths, 80, 0.3, 10, generator=torch.Generator().manual_seed(3)
    )
    second = compute_span_mask(
        lengths, 80, 0.3, 10, generator=torch.Generator().manual_seed(3)
    )
    other = compute_span_mask(
        lengths, 80, 0.3, 10, generator=torch.Generator().manual_seed(4)
    )
    assert torch.equal(first, second)
    assert not torch.equal(first, other)


def test_zero_probability_masks_nothing():
    mask = compute_span_mask(torch.tensor([100, 50]), 100, 0.0, 10)
    assert mask.shape == (2, 100) and not mask.any()


def test_rows_shorter_than_the_span_get_no_mask():
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor([9, 0, 10, 30])
    mask = compute_span_mask(lengths, 30, 0.9, 10, generator=g)
    assert not mask[0].any() and not mask[1].any()
    # A row exactly one span long gets the single possible span.
    assert mask[2].tolist() == [True] * 10 + [False] * 20


def test_min_masks_applies_to_short_rows():
    g = torch.Generator().manual_seed(0)
    # 0.01 * 20 / 5 + u < 1: zero spans drawn, but min_masks=2 gives two.
    mask = compute_span_mask(
        torch.tensor([20]), 20, 0.01, 5, min_masks=2, generator=g
    )
    assert 6 <= mask.sum() <= 10
