"""One layer of MMSpeech's text decoder (OFA's unified decoder layer).

``TextDecoderLayer`` is a pre-LN Transformer decoder layer with the
NormFormer extras of the official checkpoints: LayerNorms after self- and
cross-attention (``*_mid_layer_norm``), a LayerNorm inside the feed-forward
(``ffn_layer_norm``) and a learned gain per head; its attention scores are
scaled by ``1 / sqrt(DECODER_ATTENTION_SCALE_FACTOR * head_dim)`` and each
sublayer's output passes through stochastic depth (drop path). It runs on a
whole sequence (``forward``) or on one new position over cached keys and
values (``forward_step``); ``speechbrain_mmspeech.lobes.models.decoder``
stacks the layers and computes their position biases.

Authors
 * MMSpeech plugin contributors 2026
"""

import torch

from speechbrain_mmspeech.nnet.attention import MultiheadAttention
from speechbrain_mmspeech.nnet.layers import DropPath

DECODER_ATTENTION_SCALE_FACTOR = 2.0


class TextDecoderLayer(torch.nn.Module):
    """Pre-LN decoder layer with NormFormer LayerNorms and head gains.

    Arguments
    ---------
    d_model, nhead, d_ffn : int
        Model size, attention heads and feed-forward size, as in the
        encoder's
        :class:`~speechbrain_mmspeech.lobes.models.speech_transformer.SpeechEncoderLayer`.
    d_memory : int
        Size of the encoder states (default ``d_model``).
    dropout : float
        Dropout on sublayer outputs.
    attention_dropout, activation_dropout : float
        As in ``SpeechEncoderLayer``.
    drop_path : float
        Stochastic-depth probability of this layer.

    Example
    -------
    >>> layer = TextDecoderLayer(d_model=16, nhead=2, d_ffn=32)
    >>> layer(torch.rand(2, 4, 16), torch.rand(2, 7, 16)).shape
    torch.Size([2, 4, 16])
    """

    def __init__(
        self,
        d_model,
        nhead,
        d_ffn,
        d_memory=None,
        *,
        dropout=0.1,
        attention_dropout=0.0,
        activation_dropout=0.0,
        drop_path=0.0,
    ):
        super().__init__()
        d_memory = d_memory or d_model
        self.self_attn = MultiheadAttention(
            d_model,
            nhead,
            attention_dropout,
            scale_factor=DECODER_ATTENTION_SCALE_FACTOR,
            head_gain=True,
        )
        self.self_attn_layer_norm = torch.nn.LayerNorm(d_model)
        self.self_attn_mid_layer_norm = torch.nn.LayerNorm(d_model)
        self.cross_attn = MultiheadAttention(
            d_model,
            nhead,
            attention_dropout,
            kdim=d_memory,
            vdim=d_memory,
            scale_factor=DECODER_ATTENTION_SCALE_FACTOR,
            head_gain=True,
        )
        self.cross_attn_layer_norm = torch.nn.LayerNorm(d_model)
        self.cross_attn_mid_layer_norm = torch.nn.LayerNorm(d_model)
        self.fc1 = torch.nn.Linear(d_model, d_ffn)
        self.ffn_layer_norm = torch.nn.LayerNorm(d_ffn)
        self.fc2 = torch.nn.Linear(d_ffn, d_model)
        self.final_layer_norm = torch.nn.LayerNorm(d_model)
        self.activation = torch.nn.GELU()
        self.dropout = torch.nn.Dropout(dropout)
        self.activation_dropout = torch.nn.Dropout(activation_dropout)
        self.drop_path = DropPath(drop_path)

    def forward(
        self,
        x,
        memory,
        self_attn_bias=None,
        cross_attn_bias=None,
        memory_padding_mask=None,
    ):
        """Self-attention, cross-attention and feed-forward.

        Arguments
        ---------
        x : torch.Tensor
            ``[batch, length, d_model]`` token states.
        memory : torch.Tensor
            ``[batch, time, d_memory]`` encoder states.
        self_attn_bias : torch.Tensor
            Additive bias (positions and causality) for self-attention.
        cross_attn_bias : torch.Tensor
            Additive position bias for cross-attention.
        memory_padding_mask : torch.Tensor
            Boolean ``[batch, time]``, True at padded encoder frames.

        Returns
        -------
        torch.Tensor
            ``[batch, length, d_model]``.
        """
        h = self.self_attn_layer_norm(x)
        h = self.self_attn(h, h, h, bias=self_attn_bias)
        h = self.dropout(self.self_attn_mid_layer_norm(h))
        x = x + self.drop_path(h)
        h = self.cross_attn_layer_norm(x)
        h = self.cross_attn(
            h,
            memory,
            memory,
            key_padding_mask=memory_padding_mask,
            bias=cross_attn_bias,
        )
        h = self.dropout(self.cross_attn_mid_layer_norm(h))
        x = x + self.drop_path(h)
        h = self.final_layer_norm(x)
        h = self.activation_dropout(self.activation(self.fc1(h)))
        h = self.dropout(self.fc2(self.ffn_layer_norm(h)))
        return x + self.drop_path(h)

    def forward_step(
        self, x, past, cross, self_attn_bias, cross_attn_bias, group=1
    ):
        """One new position per hypothesis, attending over cached keys.

        Arguments
        ---------
        x : torch.Tensor
            ``[hyps, 1, d_model]`` states of the new position.
        past : tuple
            ``(keys, values)`` of the earlier positions, each
            ``[hyps, heads, length, head_dim]``, or None at the first step.
        cross : tuple
            ``(keys, values)`` of the encoder states, each
            ``[batch, heads, time, head_dim]`` (``hyps = batch * group``).
        self_attn_bias : torch.Tensor
            Position bias of the new position over all positions,
            broadcastable to ``[hyps, heads, 1, length + 1]``.
        cross_attn_bias : torch.Tensor
            Position and padding bias over the encoder frames,
            ``[batch, heads, 1, time]``.
        group : int
            Hypotheses per utterance.

        Returns
        -------
        x : torch.Tensor
            ``[hyps, 1, d_model]``.
        past : tuple
            ``(keys, values)`` including the new position.
        """
        h = self.self_attn_layer_norm(x)
        queries = self.self_attn.project_queries(h)
        keys, values = self.self_attn.project_keys_values(h, h)
        if past is not None:
            keys = torch.cat([past[0], keys], dim=2)
            values = torch.cat([past[1], values], dim=2)
        h = self.self_attn.attend(queries, keys, values, self_attn_bias)
        h = self.dropout(self.self_attn_mid_layer_norm(h))
        x = x + self.drop_path(h)
        h = self.cross_attn_layer_norm(x)
        # The hypotheses of an utterance share its encoder states and are at
        # the same position: attend as one sequence of `group` queries.
        hyps, _, d_model = h.shape
        grouped = h.reshape(hyps // group, group, d_model)
        queries = self.cross_attn.project_queries(grouped)
        h = self.cross_attn.attend(queries, *cross, cross_attn_bias)
        h = self.dropout(self.cross_attn_mid_layer_norm(h.reshape(hyps, 1, -1)))
        x = x + self.drop_path(h)
        h = self.final_layer_norm(x)
        h = self.activation_dropout(self.activation(self.fc1(h)))
        h = self.dropout(self.fc2(self.ffn_layer_norm(h)))
        return x + self.drop_path(h), (keys, values)
