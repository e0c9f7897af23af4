"""k-means in torch: the clustering of S2C pseudo-code units.

``KMeans`` clusters frame features (``training.codes`` turns each frame
into its cluster id, a unit): k-means++ initialisation and Lloyd
iterations, seeded, the distances computed in chunks of frames.

Authors
 * MMSpeech plugin contributors 2026
"""

import torch

KMEANS_ITERATIONS = 20
KMEANS_CHUNK = 65536  # frames per distance computation


class KMeans:
    """k-means with k-means++ initialisation and Lloyd iterations (torch).

    Arguments
    ---------
    n_clusters : int
        Number of clusters.
    n_iterations : int
        Lloyd iterations after the initialisation.
    seed : int
        Seed of the initialisation (the result is a function of the data and
        the seed).

    Example
    -------
    >>> data = torch.cat([torch.zeros(5, 2), torch.ones(5, 2)])
    >>> kmeans = KMeans(n_clusters=2, seed=0).fit(data)
    >>> kmeans.predict(torch.tensor([[0.1, 0.0], [0.9, 1.0]])).tolist() in (
    ...     [0, 1],
    ...     [1, 0],
    ... )
    True
    >>> kmeans.inertia(data)
    0.0
    """

    def __init__(self, n_clusters, n_iterations=KMEANS_ITERATIONS, seed=0):
        self.n_clusters = n_clusters
        self.n_iterations = n_iterations
        self.seed = seed
        self.centroids = None

    @staticmethod
    def _squared_distances(data, centroids):
        """``[n, k]`` squared Euclidean distances."""
        return torch.cdist(data, centroids).pow(2)

    def _nearest(self, data, centroids):
        """Index of and squared distance to the nearest centroid, chunked."""
        indices, distances = [], []
        for chunk in torch.split(data, KMEANS_CHUNK):
            d, i = self._squared_distances(chunk, centroids).min(dim=1)
            indices.append(i)
            distances.append(d)
        return torch.cat(indices), torch.cat(distances)

    def _initialise(self, data, generator):
        """k-means++: each new centroid drawn with probability ~ D^2."""
        first = torch.randint(len(data), (1,), generator=generator)
        centroids = [data[first[0]]]
        closest = self._squared_distances(data, centroids[0][None])[:, 0]
        for _ in range(1, self.n_clusters):
            weights = closest.clamp(min=0)
            if float(weights.sum()) <= 0:
                weights = torch.ones_like(weights)
            pick = torch.multinomial(weights, 1, generator=generator)[0]
            centroids.append(data[pick])
            new = self._squared_distances(data, data[pick][None])[:, 0]
            closest = torch.minimum(closest, new)
        return torch.stack(centroids)

    def fit(self, data):
        """Fits the centroids to ``[n, dim]`` data.

        Arguments
        ---------
        data : torch.Tensor
            Frames, one per row (at least ``n_clusters``).

        Returns
        -------
        KMeans
            Itself.
        """
        data = data.float()
        if len(data) < self.n_clusters:
            raise ValueError(
                f"k-means needs at least {self.n_clusters} frames, got "
                f"{len(data)}"
            )
        generator = torch.Generator().manual_seed(self.seed)
        centroids = self._initialise(data, generator)
        for _ in range(self.n_iterations):
            assignment, _ = self._nearest(data, centroids)
            sums = torch.zeros_like(centroids).index_add_(0, assignment, data)
            counts = torch.bincount(assignment, minlength=self.n_clusters)
            filled = counts > 0  # an empty cluster keeps its centroid
            centroids[filled] = sums[filled] / counts[filled, None].float()
        self.centroids = centroids
        return self

    def nearest(self, data):
        """Nearest fitted centroid of each row, and the distance to it.

        Arguments
        ---------
        data : torch.Tensor
            ``[n, dim]`` frames.

        Returns
        -------
        indices : torch.Tensor
            ``[n]`` cluster ids.
        distances : torch.Tensor
            ``[n]`` squared distances to those centroids.
        """
        return self._nearest(data.float(), self.centroids)

    def predict(self, data):
        """The cluster ids of ``nearest(data)``."""
        return self.nearest(data)[0]

    def inertia(self, data):
        """The mean squared distance of ``nearest(data)`` (a float)."""
        return float(self.nearest(data)[1].mean())
