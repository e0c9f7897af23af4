"""The speech encoder's front: a 4x convolutional subsampler.

``Conv2dSubsampling`` turns ``[batch, frames, n_mels]`` filterbanks into
``[batch, frames / 4, d_model]`` encoder frames (two unpadded 3x3 stride-2
convolutions with ReLU, then a linear projection), and ``conv_output_length``
says how many frames it leaves, for the encoder's padding and for the frame
times of alignment.

Authors
 * MMSpeech plugin contributors 2026
"""

import torch

from speechbrain_mmspeech.lobes.models.sizes import BASE_D_MODEL, N_MELS

CONV_KERNEL = 3
CONV_STRIDE = 2
N_SUBSAMPLING_CONVS = 2


def conv_output_length(length, n_convs=N_SUBSAMPLING_CONVS):
    """Frames left after the unpadded stride-2 convolutions of the subsampler.

    Arguments
    ---------
    length : torch.Tensor or int
        Number of input frames (or frequency bins).
    n_convs : int
        How many 3x3 stride-2 convolutions are applied.

    Returns
    -------
    torch.Tensor or int
        ``floor((length - 3) / 2) + 1`` applied ``n_convs`` times.

    Example
    -------
    >>> conv_output_length(80)
    19
    """
    for _ in range(n_convs):
        length = (length - CONV_KERNEL) // CONV_STRIDE + 1
    return length


class Conv2dSubsampling(torch.nn.Module):
    """Two 3x3 stride-2 convolutions with ReLU, then a linear projection.

    Arguments
    ---------
    n_mels : int
        Number of filterbank channels of the input.
    channels : int
        Output channels of both convolutions (``d_model`` in the official
        Base; a smaller value makes CPU training affordable).
    d_model : int
        Output size.

    Example
    -------
    >>> sub = Conv2dSubsampling(n_mels=80, channels=4, d_model=16)
    >>> sub(torch.rand(2, 100, 80)).shape
    torch.Size([2, 24, 16])
    """

    def __init__(
        self, n_mels=N_MELS, channels=BASE_D_MODEL, d_model=BASE_D_MODEL
    ):
        super().__init__()
        self.conv = torch.nn.Sequential(
            torch.nn.Conv2d(1, channels, CONV_KERNEL, CONV_STRIDE),
            torch.nn.ReLU(),
            torch.nn.Conv2d(channels, channels, CONV_KERNEL, CONV_STRIDE),
            torch.nn.ReLU(),
        )
        freq_out = conv_output_length(n_mels)
        self.out = torch.nn.Sequential(
            torch.nn.Linear(channels * freq_out, d_model)
        )

    def forward(self, feats):
        """Subsamples ``[batch, time, n_mels]`` to ``[batch, time/4, d_model]``.

        Arguments
        ---------
        feats : torch.Tensor
            Filterbank features.

        Returns
        -------
        torch.Tensor
            Subsampled frames.
        """
        x = self.conv(feats.unsqueeze(1))
        batch, channels, time, freq = x.shape
        x = x.transpose(1, 2).reshape(batch, time, channels * freq)
        return self.out(x)
