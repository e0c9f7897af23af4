"""MMSpeech's text decoder: OFA's unified Transformer decoder for text.

What sets it apart from a plain Transformer decoder:

- learned absolute positions added to the (scaled) token embeddings, then
  ``layernorm_embedding``;
- attention position biases instead of (only) input positions: the
  self-attention gets ``q(P) k(P)^T`` from the absolute positions plus a
  per-layer table indexed by relative-position buckets
  (``token_rel_pos_table_list``); the cross-attention gets
  ``q(P) k(E)^T`` where ``E`` are the encoder's convolutional position
  features;
- NormFormer layers (``TextDecoderLayer``, in ``decoder_layer``) with
  attention scores scaled by ``1 / sqrt(2 * head_dim)``;
- stochastic depth (drop path) rising linearly over the layers;
- an output projection tied to the token embeddings.

Besides the full forward pass (training, or a whole prefix) the decoder runs
incrementally for search: ``init_cache`` computes the cross-attention keys
and values once per utterance, and each ``forward_step`` feeds one new token
per hypothesis, attends over the keys and values kept in a ``DecoderCache``
and adds them to it. All hypotheses of a search step are at the same
position, so the position biases of a step are one row of the full ones:
the absolute self-attention bias ``q(P_t) k(P_{<=t})^T``, the relative
buckets of row ``t`` and the cross-attention bias ``q(P_t) k(E)^T``; no
causal mask is needed, as every cached key precedes the new token. A step
therefore computes what the full forward pass computes at its last position
(up to floating-point rounding).

Names follow the ModelScope MMSpeech checkpoints.

Authors
 * MMSpeech plugin contributors 2026
"""

import math

import torch

from speechbrain_mmspeech.lobes.models.decoder_layer import (
    DECODER_ATTENTION_SCALE_FACTOR,
    TextDecoderLayer,
)
from speechbrain_mmspeech.lobes.models.sizes import (
    BASE_D_FFN,
    BASE_D_MODEL,
    BASE_NHEAD,
)
from speechbrain_mmspeech.nnet.attention import causal_bias, padding_to_bias
from speechbrain_mmspeech.nnet.layers import init_embedding
from speechbrain_mmspeech.tokenizers import PAD_INDEX

# The layer keeps its old import path (code written before it moved names it
# here).
__all__ = [
    "DECODER_ATTENTION_SCALE_FACTOR",
    "DecoderCache",
    "TextDecoder",
    "TextDecoderLayer",
    "relative_position_buckets",
]


def relative_position_buckets(bucket_size, max_positions):
    """OFA's token relative-position buckets.

    Offsets within ``+-bucket_size // 2`` keep their own bucket; larger
    offsets share logarithmically wider buckets up to ``max_positions``.

    Arguments
    ---------
    bucket_size : int
        Half the number of buckets (``2 * bucket_size - 1`` buckets in all).
    max_positions : int
        Largest sequence length the table covers.

    Returns
    -------
    torch.Tensor
        Long ``[max_positions, max_positions]`` bucket ids in
        ``[0, 2 * bucket_size - 1)``; entry ``(i, j)`` is for query ``i``
        attending to key ``j``.

    Example
    -------
    >>> buckets = relative_position_buckets(256, 1024)
    >>> int(buckets[5, 5]), int(buckets[5, 4]), int(buckets[1023, 0])
    (255, 256, 510)
    """
    query = torch.arange(max_positions)[:, None]
    key = torch.arange(max_positions)[None, :]
    offset = query - key
    half = bucket_size // 2
    distance = offset.abs()
    # Distances up to `half` are exact; beyond, log-spaced buckets reach
    # `half + (half - 1)` at `max_positions - 1`.
    # float64: in float32 the farthest offset can round into a bucket too far
    # (OFA computes in float32: for some bucket sizes, 74 among them, its
    # bucket of offset 1023 lies outside the table; all other entries agree).
    far = distance.clamp(min=half).double()
    log_span = math.log((max_positions - 1) / half)
    log_bucket = (
        half + torch.ceil(torch.log(far / half) / log_span * (half - 1)).long()
    )
    bucket = torch.where(distance <= half, offset, log_bucket * offset.sign())
    return bucket + bucket_size - 1


class DecoderCache:
    """What incremental decoding keeps between steps.

    Per utterance, computed once by ``TextDecoder.init_cache`` and never
    reordered: the cross-attention keys and values of every layer, the
    encoder position keys of the cross-attention bias and the padding bias
    of the encoder frames. Per hypothesis, one position longer after each
    ``TextDecoder.forward_step`` and reordered with the beams by
    ``reorder``: the self-attention keys and values of every layer. Shared
    by all hypotheses: the position keys of the absolute self-attention
    bias (they depend on positions only).

    Hypothesis ``i`` reads utterance ``i // group``: a beam search keeps the
    ``group = beam_size`` hypotheses of an utterance next to each other.

    Arguments
    ---------
    cross_keys_values : list of tuple
        Per layer, ``(keys, values)``, each ``[batch, heads, time, head_dim]``.
    cross_position_keys : torch.Tensor
        ``[batch, heads, time, head_dim]`` keys of the cross-attention
        position bias.
    memory_bias : torch.Tensor
        ``[batch, 1, 1, time]`` additive bias hiding padded frames (or None).
    group : int
        Hypotheses per utterance.

    Example
    -------
    >>> keys = torch.zeros(1, 2, 3, 4)
    >>> cache = DecoderCache([(keys, keys)], keys, None, group=2)
    >>> cache.length, cache.self_keys_values
    (0, [None])
    """

    def __init__(
        self, cross_keys_values, cross_position_keys, memory_bias, group
    ):
        self.cross_keys_values = cross_keys_values
        self.cross_position_keys = cross_position_keys
        self.memory_bias = memory_bias
        self.group = group
        self.self_keys_values = [None] * len(cross_keys_values)
        self.position_keys = None
        self.length = 0

    def reorder(self, index):
        """Makes hypothesis ``i`` continue hypothesis ``index[i]``.

        ``index`` must keep each hypothesis within its utterance (beam
        search predecessors do).

        Arguments
        ---------
        index : torch.Tensor
            ``[hyps]`` long indices.

        Returns
        -------
        DecoderCache
            This cache, reordered in place.
        """
        if self.length == 0:
            return self
        identity = torch.arange(index.shape[0], device=index.device)
        if torch.equal(index, identity):
            return self
        self.self_keys_values = [
            (keys.index_select(0, index), values.index_select(0, index))
            for keys, values in self.self_keys_values
        ]
        return self


class TextDecoder(torch.nn.Module):
    """The MMSpeech text decoder (OFA unified decoder, text only).

    Arguments
    ---------
    vocab_size : int
        Output vocabulary (text tokens, plus audio codes when pre-training
        with speech-to-code; 51134 in the official models).
    d_model, nhead, d_ffn : int
        As in
        :class:`~speechbrain_mmspeech.lobes.models.decoder_layer.TextDecoderLayer`.
    num_layers : int
        Decoder layers.
    max_positions : int
        Longest token sequence (1024 officially).
    rel_pos_bucket_size : int
        Relative-position bucket size (256 officially: 511 buckets).
    rel_pos_max_positions : int, optional
        Positions the relative-position bucket table is built for: its
        log-spaced buckets end at the largest offset below it. None: the
        table spans ``max_positions``. The official code always builds it
        for 1024, whatever ``max_positions`` is; the decoder then handles
        at most the smaller of the two lengths.
    dropout, attention_dropout, activation_dropout : float
        As in ``TextDecoderLayer`` (``dropout`` also after the embeddings).
    drop_path : float
        Stochastic depth of the last layer (rising linearly from 0).
    scale_embedding : bool
        Multiply token embeddings by ``sqrt(d_model)`` (official fairseq
        behaviour).
    entangle_position_embedding : bool
        Add absolute position embeddings to the token embeddings (official
        fairseq behaviour).
    padding_index : int
        Id of the padding token.
    d_memory : int
        Size of the encoder states, as in ``TextDecoderLayer``.

    Example
    -------
    A two-layer decoder over 20 ids, on 7 encoder frames:

    >>> dec = TextDecoder(
    ...     vocab_size=20,
    ...     d_model=16,
    ...     nhead=2,
    ...     num_layers=2,
    ...     d_ffn=32,
    ...     max_positions=64,
    ...     rel_pos_bucket_size=8,
    ... )
    >>> tokens = torch.randint(0, 20, (2, 5))
    >>> memory, positions = torch.rand(2, 7, 16), torch.rand(2, 7, 16)
    >>> hidden = dec(tokens, memory, positions)
    >>> dec.output_projection(hidden).shape
    torch.Size([2, 5, 20])
    """

    def __init__(
        self,
        vocab_size,
        d_model=BASE_D_MODEL,
        nhead=BASE_NHEAD,
        num_layers=6,
        d_ffn=BASE_D_FFN,
        max_positions=1024,
        rel_pos_bucket_size=256,
        rel_pos_max_positions=None,
        dropout=0.1,
        attention_dropout=0.0,
        activation_dropout=0.0,
        drop_path=0.1,
        scale_embedding=True,
        entangle_position_embedding=True,
        padding_index=PAD_INDEX,
        d_memory=None,
    ):
        super().__init__()
        self.nhead = nhead
        if rel_pos_max_positions is None:
            rel_pos_max_positions = max_positions
        # The longest sequence both the learned positions and the relative
        # buckets cover.
        self.max_positions = min(max_positions, rel_pos_max_positions)
        self.embed_scale = math.sqrt(d_model) if scale_embedding else 1.0
        self.entangle_position_embedding = entangle_position_embedding
        self.position_scaling = (
            d_model // nhead * DECODER_ATTENTION_SCALE_FACTOR
        ) ** -0.5
        self.embed_tokens = torch.nn.Embedding(
            vocab_size, d_model, padding_idx=padding_index
        )
        self.layernorm_embedding = torch.nn.LayerNorm(d_model)
        # Two rows more than positions, as in the official checkpoints.
        self.embed_positions = torch.nn.Embedding(max_positions + 2, d_model)
        self.pos_ln = torch.nn.LayerNorm(d_model)
        self.self_pos_q_linear = torch.nn.Linear(d_model, d_model)
        self.self_pos_k_linear = torch.nn.Linear(d_model, d_model)
        self.cross_pos_q_linear = torch.nn.Linear(d_model, d_model)
        self.cross_pos_k_linear = torch.nn.Linear(d_memory or d_model, d_model)
        init_embedding(self.embed_tokens)
        init_embedding(self.embed_positions)
        n_buckets = 2 * rel_pos_bucket_size - 1
        self.token_rel_pos_table_list = torch.nn.ModuleList(
            torch.nn.Embedding(n_buckets, nhead) for _ in range(num_layers)
        )
        for table in self.token_rel_pos_table_list:
            torch.nn.init.zeros_(table.weight)
        self.register_buffer(
            "token_rp_bucket",
            relative_position_buckets(
                rel_pos_bucket_size, rel_pos_max_positions
            ),
            persistent=False,
        )
        steps = max(num_layers - 1, 1)
        drop_paths = [drop_path * i / steps for i in range(num_layers)]
        self.layers = torch.nn.ModuleList(
            TextDecoderLayer(
                d_model,
                nhead,
                d_ffn,
                d_memory,
                dropout=dropout,
                attention_dropout=attention_dropout,
                activation_dropout=activation_dropout,
                drop_path=layer_drop_path,
            )
            for layer_drop_path in drop_paths
        )
        self.layer_norm = torch.nn.LayerNorm(d_model)
        self.dropout = torch.nn.Dropout(dropout)
        self.output_projection = torch.nn.Linear(
            d_model, vocab_size, bias=False
        )
        self.output_projection.weight = self.embed_tokens.weight

    def _split_heads(self, x):
        """[..., time, d_model] -> [..., heads, time, head_dim]."""
        x = x.view(*x.shape[:-1], self.nhead, -1)
        return x.transpose(-3, -2)

    def _position_biases(self, length, memory_positions):
        """Absolute self-attention and cross-attention position biases."""
        positions = torch.arange(length, device=memory_positions.device)
        normed = self.pos_ln(self.embed_positions(positions))
        self_q = self._split_heads(self.self_pos_q_linear(normed))
        self_k = self._split_heads(self.self_pos_k_linear(normed))
        self_bias = self.position_scaling * self_q @ self_k.transpose(-1, -2)
        cross_q = self._split_heads(self.cross_pos_q_linear(normed))
        cross_k = self._split_heads(self.cross_pos_k_linear(memory_positions))
        cross_bias = self.position_scaling * cross_q @ cross_k.transpose(-1, -2)
        return self_bias, cross_bias

    def embed(self, tokens):
        """Token embeddings with positions, normalised.

        Arguments
        ---------
        tokens : torch.Tensor
            ``[batch, length]`` token ids.

        Returns
        -------
        torch.Tensor
            ``[batch, length, d_model]``.
        """
        x = self.embed_scale * self.embed_tokens(tokens)
        if self.entangle_position_embedding:
            positions = torch.arange(tokens.shape[1], device=tokens.device)
            x = x + self.embed_positions(positions)
        return self.dropout(self.layernorm_embedding(x))

    def forward(
        self, tokens, memory, memory_positions, memory_padding_mask=None
    ):
        """Decodes tokens (teacher forcing or a beam prefix).

        Arguments
        ---------
        tokens : torch.Tensor
            ``[batch, length]`` input ids (starting with ``<s>``).
        memory : torch.Tensor
            ``[batch, time, d_memory]`` encoder states.
        memory_positions : torch.Tensor
            ``[batch, time, d_memory]`` encoder position features.
        memory_padding_mask : torch.Tensor
            Boolean ``[batch, time]``, True at padded encoder frames.

        Returns
        -------
        torch.Tensor
            ``[batch, length, d_model]`` final states; apply
            ``output_projection`` for logits.
        """
        length = tokens.shape[1]
        if length > self.max_positions:
            raise ValueError(
                f"The decoder handles at most {self.max_positions} tokens, "
                f"got {length}"
            )
        x = self.embed(tokens)
        abs_bias, cross_bias = self._position_biases(length, memory_positions)
        causal = causal_bias(length, x.dtype, x.device)
        buckets = self.token_rp_bucket[:length, :length]
        for layer, table in zip(self.layers, self.token_rel_pos_table_list):
            rel_bias = table(buckets).permute(2, 0, 1)
            x = layer(
                x,
                memory,
                self_attn_bias=abs_bias + rel_bias + causal,
                cross_attn_bias=cross_bias,
                memory_padding_mask=memory_padding_mask,
            )
        return self.layer_norm(x)

    def project(self, hidden, num_ids=None):
        """Logits of the first ``num_ids`` ids only (the ones search emits).

        The output projection is tied to the token embeddings, so the text
        ids come first; scoring only them skips the audio codes' rows
        (slicing the weight, no copy). A quantized projection
        (``speechbrain_mmspeech.inference.quantization``) already holds only the rows
        it was built with.

        Arguments
        ---------
        hidden : torch.Tensor
            ``[..., d_model]`` final decoder states.
        num_ids : int
            How many ids to score (None: all the projection has).

        Returns
        -------
        torch.Tensor
            ``[..., num_ids]`` logits, equal to
            ``output_projection(hidden)[..., :num_ids]``.

        Example
        -------
        >>> dec = TextDecoder(vocab_size=20, d_model=16, nhead=2, num_layers=1)
        >>> hidden = torch.rand(3, 16)
        >>> logits = dec.project(hidden, 12)
        >>> (
        ...     logits.shape,
        ...     torch.allclose(logits, dec.output_projection(hidden)[:, :12]),
        ... )
        (torch.Size([3, 12]), True)
        """
        projection = self.output_projection
        if not isinstance(projection, torch.nn.Linear):
            logits = projection(hidden)
            if num_ids is not None and logits.shape[-1] < num_ids:
                raise ValueError(
                    f"The output projection scores {logits.shape[-1]} ids, "
                    f"fewer than the {num_ids} asked for"
                )
            return logits if num_ids is None else logits[..., :num_ids]
        weight, bias = projection.weight, projection.bias
        if num_ids is not None:
            weight = weight[:num_ids]
            bias = None if bias is None else bias[:num_ids]
        return torch.nn.functional.linear(hidden, weight, bias)

    def init_cache(
        self, memory, memory_positions, memory_padding_mask=None, group=1
    ):
        """Starts incremental decoding: the per-utterance part of the cache.

        Arguments
        ---------
        memory, memory_positions, memory_padding_mask : torch.Tensor
            As in ``forward``.
        group : int
            Hypotheses per utterance (the beam size): ``forward_step`` then
            takes ``batch * group`` tokens, those of utterance ``b`` at rows
            ``b * group`` to ``(b + 1) * group - 1``.

        Returns
        -------
        DecoderCache
            Empty of tokens; pass it to ``forward_step``.

        Example
        -------
        >>> dec = TextDecoder(vocab_size=20, d_model=16, nhead=2, num_layers=2)
        >>> dec = dec.eval()
        >>> memory, positions = torch.rand(2, 7, 16), torch.rand(2, 7, 16)
        >>> tokens = torch.tensor([[0, 5, 6], [0, 7, 8]])
        >>> cache = dec.init_cache(memory, positions)
        >>> steps = [dec.forward_step(tokens[:, i], cache) for i in range(3)]
        >>> full = dec(tokens, memory, positions)
        >>> torch.allclose(torch.stack(steps, dim=1), full, atol=1e-5)
        True
        """
        cross = [
            layer.cross_attn.project_keys_values(memory, memory)
            for layer in self.layers
        ]
        position_keys = self._split_heads(
            self.cross_pos_k_linear(memory_positions)
        )
        memory_bias = None
        if memory_padding_mask is not None:
            memory_bias = padding_to_bias(memory_padding_mask, memory.dtype)
        return DecoderCache(cross, position_keys, memory_bias, group)

    def forward_step(self, tokens, cache):
        """Decodes one new token per hypothesis, using and extending a cache.

        Arguments
        ---------
        tokens : torch.Tensor
            ``[hyps]`` the newest token of each hypothesis (``<s>`` first).
        cache : DecoderCache
            From ``init_cache``, reordered with the hypotheses since.

        Returns
        -------
        torch.Tensor
            ``[hyps, d_model]`` final states of the new position, equal to
            the last position of ``forward`` on the whole prefix.
        """
        step = cache.length
        if step >= self.max_positions:
            raise ValueError(
                f"The decoder handles at most {self.max_positions} tokens, "
                f"got {step + 1}"
            )
        position = torch.full((1,), step, device=tokens.device)
        x = self.embed_scale * self.embed_tokens(tokens[:, None])
        if self.entangle_position_embedding:
            x = x + self.embed_positions(position)
        x = self.dropout(self.layernorm_embedding(x))
        # Row `step` of the position biases of `_position_biases`.
        normed = self.pos_ln(self.embed_positions(position))
        self_q = self._split_heads(self.self_pos_q_linear(normed))
        self_k = self._split_heads(self.self_pos_k_linear(normed))
        if cache.position_keys is not None:
            self_k = torch.cat([cache.position_keys, self_k], dim=1)
        cache.position_keys = self_k
        abs_bias = self.position_scaling * self_q @ self_k.transpose(-1, -2)
        cross_q = self._split_heads(self.cross_pos_q_linear(normed))
        cross_k = cache.cross_position_keys
        cross_bias = self.position_scaling * cross_q @ cross_k.transpose(-1, -2)
        if cache.memory_bias is not None:
            cross_bias = cross_bias + cache.memory_bias
        buckets = self.token_rp_bucket[step, : step + 1]
        layers = zip(self.layers, self.token_rel_pos_table_list)
        for index, (layer, table) in enumerate(layers):
            rel_bias = table(buckets).transpose(0, 1)[:, None, :]
            x, cache.self_keys_values[index] = layer.forward_step(
                x,
                cache.self_keys_values[index],
                cache.cross_keys_values[index],
                self_attn_bias=abs_bias + rel_bias,
                cross_attn_bias=cross_bias,
                group=cache.group,
            )
        cache.length += 1
        return self.layer_norm(x)[:, 0]
