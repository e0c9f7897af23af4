"""Tests of speechbrain_mmspeech/training/kmeans.py."""

import pytest
import torch

from speechbrain_mmspeech.training.kmeans import KMeans


def blobs(n_per_blob=50, n_blobs=4, dim=3, seed=0):
    """Well separated Gaussian blobs and their true labels."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.arange(n_blobs).float()[:, None] * 10 * torch.ones(dim)
    data = torch.cat(
        [
            centre + torch.randn(n_per_blob, dim, generator=generator)
            for centre in centres
        ]
    )
    return data, torch.arange(n_blobs).repeat_interleave(n_per_blob)


def test_kmeans_iterations_reduce_inertia():
    data = torch.randn(600, 5, generator=torch.Generator().manual_seed(1))
    inertias = [
        KMeans(10, n_iterations=n, seed=3).fit(data).inertia(data)
        for n in (0, 1, 5, 20)
    ]
    assert all(a >= b for a, b in zip(inertias, inertias[1:])), inertias
    assert inertias[-1] < inertias[0]


def test_kmeans_is_deterministic_given_the_seed():
    data, _ = blobs()
    first = KMeans(4, seed=7).fit(data)
    second = KMeans(4, seed=7).fit(data)
    assert torch.equal(first.centroids, second.centroids)
    assert torch.equal(first.predict(data), second.predict(data))


def test_kmeans_finds_separated_clusters():
    data, labels = blobs()
    predicted = KMeans(4, seed=0).fit(data).predict(data)
    # One cluster per blob (up to a permutation of the ids).
    for blob in range(4):
        assert len(set(predicted[labels == blob].tolist())) == 1
    assert len(set(predicted.tolist())) == 4


def test_kmeans_needs_enough_frames():
    with pytest.raises(ValueError, match="at least"):
        KMeans(10).fit(torch.randn(5, 2))
