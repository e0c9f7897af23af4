"""The Transformer stack of the speech encoder, where the phones join.

``SpeechTransformer`` adds the convolutional position features
(``ConvPositionalEmbedding``) to the speech frames, runs the pre-LN
``SpeechEncoderLayer`` stack and, at ``context_layer``, appends the phone
stream (with its own convolutional positions) to the frames along time.
``speechbrain_mmspeech.lobes.models.encoder.SpeechEncoder`` wires it behind
the subsampler and the phone table.

Authors
 * MMSpeech plugin contributors 2026
"""

import torch

from speechbrain_mmspeech.nnet.attention import MultiheadAttention
from speechbrain_mmspeech.nnet.layers import ChannelLayerNorm


class ConvPositionalEmbedding(torch.nn.ModuleList):
    """Relative position information from a stack of grouped convolutions.

    Each block is ``Conv1d(d, d, kernel, groups) -> LayerNorm -> GELU`` with
    "same" padding (data2vec's design, used by MMSpeech with depth 5, kernel
    19 and 16 groups). The caller adds the output to its input. Being a list
    of blocks, its parameters are named ``N.0.weight`` as in the official
    checkpoints.

    Arguments
    ---------
    d_model : int
        Number of channels.
    depth : int
        Number of convolution blocks.
    kernel_size : int
        Odd kernel size of each convolution.
    groups : int
        Convolution groups.

    Example
    -------
    >>> pos = ConvPositionalEmbedding(
    ...     d_model=16, depth=2, kernel_size=5, groups=4
    ... )
    >>> pos(torch.rand(2, 9, 16)).shape
    torch.Size([2, 9, 16])
    """

    def __init__(self, d_model, depth=5, kernel_size=19, groups=16):
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        super().__init__(
            torch.nn.Sequential(
                torch.nn.Conv1d(
                    d_model,
                    d_model,
                    kernel_size,
                    padding=kernel_size // 2,
                    groups=groups,
                ),
                ChannelLayerNorm(d_model),
                torch.nn.GELU(),
            )
            for _ in range(depth)
        )

    def forward(self, x, padding_mask=None):
        """Computes the positional features of ``[batch, time, d_model]``.

        Arguments
        ---------
        x : torch.Tensor
            Frames.
        padding_mask : torch.Tensor
            Optional boolean ``[batch, time]``, True at padding. Padded frames
            are zeroed before every block, so that padding never leaks into
            real frames (a batched utterance is encoded as it is alone).

        Returns
        -------
        torch.Tensor
            ``[batch, time, d_model]``.
        """
        if x.shape[1] == 0:
            return torch.zeros_like(x)
        keep = None
        if padding_mask is not None:
            keep = (~padding_mask).unsqueeze(1).to(x.dtype)
        x = x.transpose(1, 2)
        for block in self:
            if keep is not None:
                x = x * keep
            x = block(x)
        return x.transpose(1, 2)


class SpeechEncoderLayer(torch.nn.Module):
    """Pre-LN Transformer layer (wav2vec 2.0's ``layer_norm_first`` layer).

    Arguments
    ---------
    d_model : int
        Model size.
    nhead : int
        Attention heads.
    d_ffn : int
        Feed-forward size.
    dropout : float
        Dropout after attention and feed-forward.
    attention_dropout : float
        Dropout on attention weights.
    activation_dropout : float
        Dropout after the feed-forward activation.

    Example
    -------
    >>> layer = SpeechEncoderLayer(d_model=16, nhead=2, d_ffn=32)
    >>> layer(torch.rand(2, 5, 16)).shape
    torch.Size([2, 5, 16])
    """

    def __init__(
        self,
        d_model,
        nhead,
        d_ffn,
        dropout=0.1,
        attention_dropout=0.0,
        activation_dropout=0.0,
    ):
        super().__init__()
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=attention_dropout
        )
        self.self_attn_layer_norm = torch.nn.LayerNorm(d_model)
        self.fc1 = torch.nn.Linear(d_model, d_ffn)
        self.fc2 = torch.nn.Linear(d_ffn, d_model)
        self.final_layer_norm = torch.nn.LayerNorm(d_model)
        self.activation = torch.nn.GELU()
        self.dropout = torch.nn.Dropout(dropout)
        self.activation_dropout = torch.nn.Dropout(activation_dropout)

    def forward(self, x, padding_mask=None):
        """Applies self-attention and feed-forward with pre-normalisation.

        Arguments
        ---------
        x : torch.Tensor
            ``[batch, time, d_model]``.
        padding_mask : torch.Tensor
            Optional boolean ``[batch, time]``, True at padding.

        Returns
        -------
        torch.Tensor
            ``[batch, time, d_model]``.
        """
        h = self.self_attn_layer_norm(x)
        h = self.self_attn(h, h, h, key_padding_mask=padding_mask)
        x = x + self.dropout(h)
        h = self.final_layer_norm(x)
        h = self.activation_dropout(self.activation(self.fc1(h)))
        return x + self.dropout(self.fc2(h))


class SpeechTransformer(torch.nn.Module):
    """Positional convolutions, Transformer layers and the phone entry point.

    Built by ``speechbrain_mmspeech.lobes.models.encoder.SpeechEncoder``,
    which holds the official defaults; every option is a keyword here.

    Arguments
    ---------
    d_model, nhead, d_ffn : int
        Sizes of each ``SpeechEncoderLayer``.
    num_layers : int
        Number of layers.
    context_layer : int
        Index of the layer before which phone states join the speech frames.
    dropout : float
        Dropout on the input and inside the layers.
    attention_dropout, activation_dropout : float
        As in ``SpeechEncoderLayer``.
    layerdrop : float
        Probability of skipping a layer in training.
    pos_conv_depth, pos_conv_kernel, pos_conv_groups : int
        ``depth``, ``kernel_size`` and ``groups`` of the two
        ``ConvPositionalEmbedding`` stacks (speech frames and phones).

    Example
    -------
    >>> net = SpeechTransformer(
    ...     16,
    ...     2,
    ...     2,
    ...     32,
    ...     context_layer=1,
    ...     dropout=0.0,
    ...     attention_dropout=0.0,
    ...     activation_dropout=0.0,
    ...     layerdrop=0.0,
    ...     pos_conv_depth=1,
    ...     pos_conv_kernel=3,
    ...     pos_conv_groups=2,
    ... )
    >>> x, pad = torch.rand(2, 6, 16), torch.zeros(2, 6, dtype=torch.bool)
    >>> phones, phone_pad = (
    ...     torch.rand(2, 3, 16),
    ...     torch.zeros(2, 3, dtype=torch.bool),
    ... )
    >>> hidden, positions, padding = net(x, pad, phones, phone_pad)
    >>> hidden.shape, positions.shape, padding.shape
    (torch.Size([2, 9, 16]), torch.Size([2, 9, 16]), torch.Size([2, 9]))
    """

    def __init__(
        self,
        d_model,
        nhead,
        num_layers,
        d_ffn,
        *,
        context_layer,
        dropout,
        attention_dropout,
        activation_dropout,
        layerdrop,
        pos_conv_depth,
        pos_conv_kernel,
        pos_conv_groups,
    ):
        super().__init__()
        if not 0 <= context_layer < num_layers:
            raise ValueError(
                f"context_layer must be in [0, {num_layers}), got "
                f"{context_layer}"
            )
        self.context_layer = context_layer
        self.layerdrop = layerdrop
        self.pos_conv = ConvPositionalEmbedding(
            d_model, pos_conv_depth, pos_conv_kernel, pos_conv_groups
        )
        self.phone_pos_conv = ConvPositionalEmbedding(
            d_model, pos_conv_depth, pos_conv_kernel, pos_conv_groups
        )
        self.layers = torch.nn.ModuleList(
            SpeechEncoderLayer(
                d_model,
                nhead,
                d_ffn,
                dropout,
                attention_dropout,
                activation_dropout,
            )
            for _ in range(num_layers)
        )
        self.layer_norm = torch.nn.LayerNorm(d_model)
        self.dropout = torch.nn.Dropout(dropout)

    def forward(
        self,
        x,
        padding_mask,
        phones=None,
        phone_padding_mask=None,
        final_norm=True,
        output_all_hiddens=False,
    ):
        """Encodes speech frames, joined by phone states at the context layer.

        Arguments
        ---------
        x : torch.Tensor
            Speech frames ``[batch, time, d_model]`` (time may be 0).
        padding_mask : torch.Tensor
            Boolean ``[batch, time]``, True at padding.
        phones : torch.Tensor
            Optional phone embeddings ``[batch, n_phones, d_model]``.
        phone_padding_mask : torch.Tensor
            Boolean ``[batch, n_phones]``, True at padding.
        final_norm : bool
            Apply the final LayerNorm (False gives the states the official
            masked-speech-prediction teacher scores).
        output_all_hiddens : bool
            Also return the states of every layer (see ``layer_states``).

        Returns
        -------
        hidden : torch.Tensor
            ``[batch, time + n_phones, d_model]``, after the final LayerNorm
            if ``final_norm``.
        positions : torch.Tensor
            The convolutional position features of the same frames.
        padding_mask : torch.Tensor
            Boolean ``[batch, time + n_phones]``.
        layer_states : torch.Tensor
            Only with ``output_all_hiddens``: ``[num_layers + 1, batch, time,
            d_model]``, the speech frames' states entering the first layer,
            then leaving each layer; the last entry is ``hidden``'s speech
            frames (after the final LayerNorm if ``final_norm``). A layer
            skipped by layerdrop repeats its input, so the count is fixed.
        """
        x = x.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        positions = self.pos_conv(x, padding_mask)
        x = self.dropout(x + positions)
        speech_is_empty = bool(padding_mask.all())
        n_speech = x.shape[1]
        layer_states = [x] if output_all_hiddens else None
        if phones is not None:
            phones = phones.masked_fill(phone_padding_mask.unsqueeze(-1), 0.0)
            phone_positions = self.phone_pos_conv(phones, phone_padding_mask)
            phones = phones + phone_positions
        for index, layer in enumerate(self.layers):
            if index == self.context_layer and phones is not None:
                x = torch.cat([x, phones], dim=1)
                positions = torch.cat([positions, phone_positions], dim=1)
                padding_mask = torch.cat(
                    [padding_mask, phone_padding_mask], dim=1
                )
            skipped = index < self.context_layer and speech_is_empty
            if not skipped and not (
                self.training and torch.rand(1).item() < self.layerdrop
            ):
                x = layer(x, padding_mask)
            if layer_states is not None and index < len(self.layers) - 1:
                layer_states.append(x[:, :n_speech])
        if final_norm:
            x = self.layer_norm(x)
        if layer_states is None:
            return x, positions, padding_mask
        layer_states.append(x[:, :n_speech])
        return x, positions, padding_mask, torch.stack(layer_states)
