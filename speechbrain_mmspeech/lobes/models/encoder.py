"""MMSpeech's speech encoder: fbank in, contextual states (and phones) out.

The encoder follows the official implementation (a data2vec-style
Transformer behind a convolutional subsampler):

1. ``Conv2dSubsampling``: two 3x3 stride-2 convolutions with ReLU (4x fewer
   frames), then ``Linear(channels * freq, d_model)``;
2. ``post_subsample_proj``: ``Linear(d_model, d_model)``;
3. optional time masking: masked frames become the learned ``mask_emb``;
4. ``ConvPositionalEmbedding``: a stack of grouped 1-D convolutions whose
   output is added to the frames (and is also handed to the decoder, whose
   cross-attention position bias is computed from it);
5. pre-LN Transformer layers (``SpeechTransformer``). At ``context_layer``
   the phone stream (pinyin phone embeddings with their own convolutional
   positions) is appended to the speech frames along time; for text-only
   input (phone-to-text), the layers below ``context_layer`` are skipped;
6. a final LayerNorm; the phone head scores states against the phone
   embedding rows (weights tied with the phone input table).

Module and parameter names mirror the ModelScope checkpoints
(``subsample.conv.0``, ``encoder.pos_conv.0.0``, ``encoder.layers.N.fc1`` ...).

Authors
 * MMSpeech plugin contributors 2026
"""

from dataclasses import dataclass

import torch

from speechbrain_mmspeech.nnet.attention import MultiheadAttention
from speechbrain_mmspeech.nnet.layers import ChannelLayerNorm, init_embedding
from speechbrain_mmspeech.nnet.masking import (
    compute_span_mask,
    lengths_to_padding_mask,
)
from speechbrain_mmspeech.tokenizers import PAD_INDEX

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
        Output channels of both convolutions (768 in the official Base; a
        smaller value makes CPU training affordable).
    d_model : int
        Output size.

    Example
    -------
    >>> sub = Conv2dSubsampling(n_mels=80, channels=4, d_model=16)
    >>> sub(torch.rand(2, 100, 80)).shape
    torch.Size([2, 24, 16])
    """

    def __init__(self, n_mels=80, channels=768, d_model=768):
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

    Arguments
    ---------
    d_model : int
        Model size.
    nhead : int
        Attention heads.
    num_layers : int
        Number of layers.
    d_ffn : int
        Feed-forward size.
    context_layer : int
        Index of the layer before which phone states join the speech frames.
    dropout : float
        Dropout on the input and inside the layers.
    attention_dropout : float
        Dropout on attention weights.
    activation_dropout : float
        Dropout after the feed-forward activation.
    layerdrop : float
        Probability of skipping a layer in training.
    pos_conv_depth : int
        Blocks of the convolutional position embeddings.
    pos_conv_kernel : int
        Their kernel size.
    pos_conv_groups : int
        Their groups.

    Example
    -------
    >>> net = SpeechTransformer(
    ...     16,
    ...     2,
    ...     2,
    ...     32,
    ...     context_layer=1,
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
        context_layer=6,
        dropout=0.1,
        attention_dropout=0.0,
        activation_dropout=0.0,
        layerdrop=0.0,
        pos_conv_depth=5,
        pos_conv_kernel=19,
        pos_conv_groups=16,
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


@dataclass
class EncoderOutput:
    """What the speech encoder hands to the decoder and to the losses.

    Arguments
    ---------
    hidden : torch.Tensor
        ``[batch, time, d_model]`` final states (speech frames, then phones).
    positions : torch.Tensor
        ``[batch, time, d_model]`` convolutional position features, used by
        the decoder's cross-attention position bias.
    padding_mask : torch.Tensor
        Boolean ``[batch, time]``, True at padding.
    speech_lengths : torch.Tensor
        Number of real speech frames per utterance (phone CTC input lengths).
    time_mask : torch.Tensor
        Boolean ``[batch, speech_time]``: which frames were masked.
    layer_states : torch.Tensor
        ``[num_layers + 1, batch, speech_time, d_model]``: the states
        entering the first layer, then leaving each layer (the last entry
        after the final LayerNorm). Only when asked for
        (``output_all_hiddens``); otherwise None.
    """

    hidden: torch.Tensor
    positions: torch.Tensor
    padding_mask: torch.Tensor
    speech_lengths: torch.Tensor
    time_mask: torch.Tensor
    layer_states: torch.Tensor = None


class SpeechEncoder(torch.nn.Module):
    """The MMSpeech speech encoder with its phone input table and phone head.

    Arguments
    ---------
    n_mels : int
        Filterbank channels of the input features.
    d_model : int
        Model size.
    nhead : int
        Attention heads.
    num_layers : int
        Transformer layers.
    d_ffn : int
        Feed-forward size.
    subsample_channels : int
        Channels of the two subsampling convolutions.
    context_layer : int
        Layer index where phone states join the speech frames.
    phone_vocab_size : int
        Rows of the phone embedding table (141 for the official inventory).
    phone_padding_index : int
        Id of the phone padding symbol.
    phone_head_range : tuple
        ``(first, end)`` rows of the phone table used as phone-head classes:
        ``(3, 124)`` gives the official 121 CTC classes (class 0, the
        ``<unk>`` row, is the CTC blank).
    mask_span : int
        Frames per time-mask span.
    dropout : float
        Dropout.
    attention_dropout : float
        Dropout on attention weights.
    activation_dropout : float
        Dropout after the feed-forward activation.
    layerdrop : float
        Probability of skipping a layer in training.
    pos_conv_depth : int
        Blocks of the convolutional position embeddings.
    pos_conv_kernel : int
        Their kernel size.
    pos_conv_groups : int
        Their groups.

    Example
    -------
    >>> enc = SpeechEncoder(
    ...     n_mels=80,
    ...     d_model=16,
    ...     nhead=2,
    ...     num_layers=2,
    ...     d_ffn=32,
    ...     subsample_channels=4,
    ...     context_layer=1,
    ...     pos_conv_depth=1,
    ...     pos_conv_kernel=3,
    ...     pos_conv_groups=2,
    ... )
    >>> out = enc(torch.rand(2, 100, 80), torch.tensor([1.0, 0.5]))
    >>> out.hidden.shape, out.speech_lengths.tolist()
    (torch.Size([2, 24, 16]), [24, 11])
    >>> enc.phone_logits(out.hidden).shape
    torch.Size([2, 24, 121])
    >>> out = enc(
    ...     torch.rand(2, 100, 80), torch.ones(2), output_all_hiddens=True
    ... )
    >>> out.layer_states.shape  # the input of layer 1, then each layer's output
    torch.Size([3, 2, 24, 16])
    >>> torch.equal(out.layer_states[-1], out.hidden)
    True
    """

    def __init__(
        self,
        n_mels=80,
        d_model=768,
        nhead=12,
        num_layers=12,
        d_ffn=3072,
        subsample_channels=768,
        context_layer=6,
        phone_vocab_size=141,
        phone_padding_index=PAD_INDEX,
        phone_head_range=(3, 124),
        mask_span=10,
        dropout=0.1,
        attention_dropout=0.0,
        activation_dropout=0.0,
        layerdrop=0.0,
        pos_conv_depth=5,
        pos_conv_kernel=19,
        pos_conv_groups=16,
    ):
        super().__init__()
        self.d_model = d_model
        self.mask_span = mask_span
        self.phone_head_range = tuple(phone_head_range)
        self.subsample = Conv2dSubsampling(n_mels, subsample_channels, d_model)
        self.post_subsample_proj = torch.nn.Linear(d_model, d_model)
        self.mask_emb = torch.nn.Parameter(torch.empty(d_model).uniform_())
        self.phone_item_embedding = torch.nn.Embedding(
            phone_vocab_size, d_model, padding_idx=phone_padding_index
        )
        init_embedding(self.phone_item_embedding)
        self.encoder = SpeechTransformer(
            d_model,
            nhead,
            num_layers,
            d_ffn,
            context_layer,
            dropout,
            attention_dropout,
            activation_dropout,
            layerdrop,
            pos_conv_depth,
            pos_conv_kernel,
            pos_conv_groups,
        )

    @property
    def num_phone_classes(self):
        """Number of phone-head classes (121 for the official inventory)."""
        first, end = self.phone_head_range
        return end - first

    def embed_speech(self, feats, feat_lens):
        """Subsamples and projects features; returns frames and lengths.

        Arguments
        ---------
        feats : torch.Tensor
            ``[batch, frames, n_mels]``.
        feat_lens : torch.Tensor
            Relative lengths in [0, 1].

        Returns
        -------
        x : torch.Tensor
            ``[batch, time, d_model]``.
        lengths : torch.Tensor
            Absolute lengths after subsampling.
        """
        x = self.post_subsample_proj(self.subsample(feats))
        abs_frames = torch.round(feat_lens * feats.shape[1]).long()
        lengths = conv_output_length(abs_frames).clamp(min=0, max=x.shape[1])
        return x, lengths

    def forward(
        self,
        feats,
        feat_lens,
        phones=None,
        phone_lens=None,
        time_mask_prob=0.0,
        time_mask=None,
        final_norm=True,
        output_all_hiddens=False,
    ):
        """Encodes speech features, optionally joined by phones.

        Arguments
        ---------
        feats : torch.Tensor
            ``[batch, frames, n_mels]`` features, or None for phone-only input
            (the phone-to-text task).
        feat_lens : torch.Tensor
            Relative lengths of ``feats`` (ignored when ``feats`` is None).
        phones : torch.Tensor
            Optional phone ids ``[batch, n_phones]``.
        phone_lens : torch.Tensor
            Relative lengths of ``phones``.
        time_mask_prob : float
            Span-masking probability for the speech frames (0: no masking).
        time_mask : torch.Tensor
            A precomputed boolean mask ``[batch, time]`` (overrides
            ``time_mask_prob``).
        final_norm : bool
            Apply the final LayerNorm to the hidden states (False: the
            pre-normalisation states, as the official MSP teacher uses).
        output_all_hiddens : bool
            Also return every layer's states (``EncoderOutput.layer_states``).

        Returns
        -------
        EncoderOutput
            Hidden states, position features, padding, lengths and the mask
            (and every layer's states if asked for).
        """
        if feats is None:
            batch = phones.shape[0]
            x = torch.zeros(batch, 0, self.d_model, device=phones.device)
            lengths = torch.zeros(batch, dtype=torch.long, device=phones.device)
        else:
            x, lengths = self.embed_speech(feats, feat_lens)
        padding_mask = lengths_to_padding_mask(lengths, x.shape[1])
        if time_mask is None:
            time_mask = compute_span_mask(
                lengths, x.shape[1], time_mask_prob, self.mask_span
            )
        x = torch.where(time_mask.unsqueeze(-1), self.mask_emb.to(x.dtype), x)
        phone_x, phone_padding = None, None
        if phones is not None:
            phone_x = self.phone_item_embedding(phones)
            phone_lengths = torch.round(phone_lens * phones.shape[1]).long()
            phone_padding = lengths_to_padding_mask(
                phone_lengths, phones.shape[1]
            )
        hidden, positions, padding, *layer_states = self.encoder(
            x,
            padding_mask,
            phone_x,
            phone_padding,
            final_norm,
            output_all_hiddens=output_all_hiddens,
        )
        return EncoderOutput(
            hidden,
            positions,
            padding,
            lengths,
            time_mask,
            layer_states[0] if layer_states else None,
        )

    def phone_logits(self, hidden, detach_weights=False):
        """Phone-head scores: states times the tied phone embedding rows.

        Arguments
        ---------
        hidden : torch.Tensor
            ``[batch, time, d_model]`` encoder states.
        detach_weights : bool
            Stop gradients into the phone table (the MSP student does).

        Returns
        -------
        torch.Tensor
            ``[batch, time, num_phone_classes]`` logits; class 0 is the CTC
            blank.
        """
        first, end = self.phone_head_range
        weight = self.phone_item_embedding.weight[first:end]
        if detach_weights:
            weight = weight.detach()
        return torch.matmul(hidden, weight.t())
