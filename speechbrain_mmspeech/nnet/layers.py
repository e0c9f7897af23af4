"""Building blocks shared by the speech encoder and the text decoder.

``init_embedding`` is fairseq's embedding initialisation (used for the
decoder's token and position tables and the encoder's phone table),
``DropPath`` is stochastic depth on a residual branch, and
``ChannelLayerNorm`` normalises ``[batch, channels, time]`` frames over
their channels (the convolutional parts).

Authors
 * MMSpeech plugin contributors 2026
"""

import torch


def init_embedding(embedding):
    """fairseq's embedding initialisation: N(0, 1/d), zero padding row.

    With ``scale_embedding`` the scaled token vectors then have unit norm per
    dimension on average instead of ``sqrt(d)``.

    Arguments
    ---------
    embedding : torch.nn.Embedding
        The table to initialise in place.

    Example
    -------
    >>> table = torch.nn.Embedding(10, 64, padding_idx=1)
    >>> init_embedding(table)
    >>> weight = table.weight.detach()
    >>> float(weight[1].abs().sum()), float(weight.std()) < 0.2
    (0.0, True)
    """
    dim = embedding.weight.shape[1]
    torch.nn.init.normal_(embedding.weight, mean=0.0, std=dim**-0.5)
    if embedding.padding_idx is not None:
        with torch.no_grad():
            embedding.weight[embedding.padding_idx].zero_()


class DropPath(torch.nn.Module):
    """Stochastic depth: zeroes a whole residual branch per sample.

    Arguments
    ---------
    prob : float
        Probability of dropping the branch in training.

    Example
    -------
    >>> DropPath(0.5).eval()(torch.ones(2, 3)).sum().item()
    6.0
    """

    def __init__(self, prob=0.0):
        super().__init__()
        self.prob = prob

    def forward(self, x):
        """Drops ``x`` for a random subset of the batch (rescaling the rest).

        Arguments
        ---------
        x : torch.Tensor
            ``[batch, ...]``.

        Returns
        -------
        torch.Tensor
            Same shape.
        """
        if not self.training or self.prob == 0.0:
            return x
        keep = 1.0 - self.prob
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        mask = x.new_empty(shape).bernoulli_(keep)
        return x * mask / keep


class ChannelLayerNorm(torch.nn.Module):
    """LayerNorm without affine parameters over the channels of ``[B, C, T]``.

    Arguments
    ---------
    channels : int
        Number of channels.

    Example
    -------
    >>> ChannelLayerNorm(4)(torch.rand(2, 4, 7)).shape
    torch.Size([2, 4, 7])
    """

    def __init__(self, channels):
        super().__init__()
        self.norm = torch.nn.LayerNorm(channels, elementwise_affine=False)

    def forward(self, x):
        """Normalises each frame over its channels.

        Arguments
        ---------
        x : torch.Tensor
            ``[batch, channels, time]``.

        Returns
        -------
        torch.Tensor
            Same shape.
        """
        return self.norm(x.transpose(1, 2)).transpose(1, 2)
