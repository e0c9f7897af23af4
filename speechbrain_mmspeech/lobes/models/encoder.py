"""MMSpeech's speech encoder: fbank in, contextual states (and phones) out.

The encoder follows the official implementation (a data2vec-style
Transformer behind a convolutional subsampler):

1. ``Conv2dSubsampling`` (``subsampling``): two 3x3 stride-2 convolutions
   with ReLU (4x fewer frames), then ``Linear(channels * freq, d_model)``;
2. ``post_subsample_proj``: ``Linear(d_model, d_model)``;
3. optional time masking: masked frames become the learned ``mask_emb``;
4. ``ConvPositionalEmbedding`` (``speech_transformer``): a stack of grouped
   1-D convolutions whose output is added to the frames (and is also handed
   to the decoder, whose cross-attention position bias is computed from it);
5. pre-LN Transformer layers (``SpeechTransformer``). At ``context_layer``
   the phone stream (pinyin phone embeddings with their own convolutional
   positions) is appended to the speech frames along time; for text-only
   input (phone-to-text), the layers below ``context_layer`` are skipped;
6. a final LayerNorm; the phone head scores states against the phone
   embedding rows (weights tied with the phone input table).

This module holds ``SpeechEncoder``, which wires these steps and owns the
phone input table and head, and its ``EncoderOutput``; the building blocks
live in ``subsampling`` and ``speech_transformer`` and are re-exported here.
Module and parameter names mirror the ModelScope checkpoints
(``subsample.conv.0``, ``encoder.pos_conv.0.0``, ``encoder.layers.N.fc1`` ...).

Authors
 * MMSpeech plugin contributors 2026
"""

from dataclasses import dataclass

import torch

from speechbrain_mmspeech.lobes.models.sizes import (
    BASE_D_FFN,
    BASE_D_MODEL,
    BASE_NHEAD,
    N_MELS,
)
from speechbrain_mmspeech.lobes.models.speech_transformer import (
    ConvPositionalEmbedding,
    SpeechEncoderLayer,
    SpeechTransformer,
)
from speechbrain_mmspeech.lobes.models.subsampling import (
    CONV_KERNEL,
    CONV_STRIDE,
    N_SUBSAMPLING_CONVS,
    Conv2dSubsampling,
    conv_output_length,
)
from speechbrain_mmspeech.nnet.layers import init_embedding
from speechbrain_mmspeech.nnet.masking import (
    compute_span_mask,
    lengths_to_padding_mask,
)
from speechbrain_mmspeech.tokenizers import PAD_INDEX

# The building blocks keep their old import path (model folders and code
# written before they moved name them here).
__all__ = [
    "CONV_KERNEL",
    "CONV_STRIDE",
    "N_SUBSAMPLING_CONVS",
    "Conv2dSubsampling",
    "ConvPositionalEmbedding",
    "EncoderOutput",
    "SpeechEncoder",
    "SpeechEncoderLayer",
    "SpeechTransformer",
    "conv_output_length",
]


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
    d_model, nhead, num_layers, d_ffn, context_layer : int
        The Transformer stack, as in
        :class:`~speechbrain_mmspeech.lobes.models.speech_transformer.SpeechTransformer`.
    subsample_channels : int
        Channels of the two subsampling convolutions.
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
    dropout, attention_dropout, activation_dropout, layerdrop : float
        As in ``SpeechTransformer``.
    pos_conv_depth, pos_conv_kernel, pos_conv_groups : int
        As in ``SpeechTransformer``.

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
        n_mels=N_MELS,
        d_model=BASE_D_MODEL,
        nhead=BASE_NHEAD,
        num_layers=12,
        d_ffn=BASE_D_FFN,
        subsample_channels=BASE_D_MODEL,
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
            context_layer=context_layer,
            dropout=dropout,
            attention_dropout=attention_dropout,
            activation_dropout=activation_dropout,
            layerdrop=layerdrop,
            pos_conv_depth=pos_conv_depth,
            pos_conv_kernel=pos_conv_kernel,
            pos_conv_groups=pos_conv_groups,
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
