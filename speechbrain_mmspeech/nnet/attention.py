"""Multi-head attention as MMSpeech uses it in its encoder and decoder.

One class serves both sides: the speech encoder uses plain scaled dot-product
attention (wav2vec 2.0 style), the text decoder adds the OFA extras: a larger
softmax temperature (``scale_factor``), an additive position bias per head and
a learned per-head output gain (NormFormer's ``c_attn``). Parameter names
(``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``, ``c_attn``) follow the
ModelScope MMSpeech checkpoints so that official weights load one to one.

Authors
 * MMSpeech plugin contributors 2026
"""

import torch
import torch.nn.functional as F


def padding_to_bias(key_padding_mask, dtype):
    """Turns a key padding mask into an additive attention bias.

    Arguments
    ---------
    key_padding_mask : torch.Tensor
        Boolean tensor ``[batch, keys]``, True where the key is padding.
    dtype : torch.dtype
        The dtype of the attention scores.

    Returns
    -------
    torch.Tensor
        ``[batch, 1, 1, keys]``: zero for real keys and the most negative
        finite value for padding (finite, so a fully padded row gives a
        uniform average instead of NaN).

    Example
    -------
    >>> mask = torch.tensor([[False, True]])
    >>> padding_to_bias(mask, torch.float32)[0, 0, 0, 1] < -1e30
    tensor(True)
    """
    bias = torch.zeros(key_padding_mask.shape, dtype=dtype)
    bias = bias.to(key_padding_mask.device)
    bias = bias.masked_fill(key_padding_mask, torch.finfo(dtype).min)
    return bias[:, None, None, :]


def causal_bias(length, dtype, device=None):
    """Additive bias that stops each position from attending to later ones.

    Arguments
    ---------
    length : int
        Number of query (and key) positions.
    dtype : torch.dtype
        The dtype of the attention scores.
    device : torch.device
        Where to build the bias.

    Returns
    -------
    torch.Tensor
        ``[length, length]`` with zeros on and below the diagonal.

    Example
    -------
    >>> causal_bias(3, torch.float32)[0, 1] < 0
    tensor(True)
    """
    future = torch.ones(length, length, dtype=torch.bool, device=device)
    future = torch.triu(future, diagonal=1)
    bias = torch.zeros(length, length, dtype=dtype, device=device)
    return bias.masked_fill(future, torch.finfo(dtype).min)


class MultiheadAttention(torch.nn.Module):
    """Multi-head attention with separate q/k/v projections.

    Arguments
    ---------
    d_model : int
        Size of the queries and of the output.
    nhead : int
        Number of heads.
    dropout : float
        Dropout on the attention weights.
    kdim : int
        Size of the keys (default ``d_model``).
    vdim : int
        Size of the values (default ``d_model``).
    scale_factor : float
        The scores are divided by ``sqrt(head_dim * scale_factor)``; MMSpeech's
        decoder uses 2, its encoder 1.
    head_gain : bool
        If True, each head's output is multiplied by a learned gain
        (``c_attn``, initialised to one) before the output projection.

    Example
    -------
    >>> attn = MultiheadAttention(d_model=8, nhead=2)
    >>> x = torch.rand(3, 5, 8)
    >>> attn(x, x, x).shape
    torch.Size([3, 5, 8])
    """

    def __init__(
        self,
        d_model,
        nhead,
        dropout=0.0,
        kdim=None,
        vdim=None,
        scale_factor=1.0,
        head_gain=False,
    ):
        super().__init__()
        if d_model % nhead != 0:
            raise ValueError(
                f"d_model ({d_model}) must be divisible by nhead ({nhead})"
            )
        self.nhead = nhead
        self.head_dim = d_model // nhead
        self.scaling = (self.head_dim * scale_factor) ** -0.5
        self.dropout = dropout
        self.q_proj = torch.nn.Linear(d_model, d_model)
        self.k_proj = torch.nn.Linear(kdim or d_model, d_model)
        self.v_proj = torch.nn.Linear(vdim or d_model, d_model)
        self.out_proj = torch.nn.Linear(d_model, d_model)
        self.c_attn = (
            torch.nn.Parameter(torch.ones(nhead)) if head_gain else None
        )

    def _split_heads(self, x):
        """[batch, time, d_model] -> [batch, heads, time, head_dim]."""
        batch, time, _ = x.shape
        x = x.view(batch, time, self.nhead, self.head_dim)
        return x.transpose(1, 2)

    def project_queries(self, query):
        """Projects queries and splits them into heads.

        Arguments
        ---------
        query : torch.Tensor
            ``[batch, time_q, d_model]``.

        Returns
        -------
        torch.Tensor
            ``[batch, heads, time_q, head_dim]``.
        """
        return self._split_heads(self.q_proj(query))

    def project_keys_values(self, key, value):
        """Projects keys and values and splits them into heads.

        Incremental decoding calls this once per new position (self-attention)
        or once per utterance (cross-attention) and keeps the results.

        Arguments
        ---------
        key : torch.Tensor
            ``[batch, time_k, kdim]``.
        value : torch.Tensor
            ``[batch, time_k, vdim]``.

        Returns
        -------
        keys : torch.Tensor
            ``[batch, heads, time_k, head_dim]``.
        values : torch.Tensor
            ``[batch, heads, time_k, head_dim]``.
        """
        keys = self._split_heads(self.k_proj(key))
        return keys, self._split_heads(self.v_proj(value))

    def attend(self, queries, keys, values, bias=None):
        """Attention of projected queries over projected keys and values.

        Arguments
        ---------
        queries : torch.Tensor
            ``[batch, heads, time_q, head_dim]`` from ``project_queries``.
        keys : torch.Tensor
            ``[batch, heads, time_k, head_dim]`` from ``project_keys_values``.
        values : torch.Tensor
            ``[batch, heads, time_k, head_dim]``.
        bias : torch.Tensor
            Optional additive bias broadcastable to
            ``[batch, heads, time_q, time_k]`` (positions, causality,
            padding).

        Returns
        -------
        torch.Tensor
            ``[batch, time_q, d_model]``, after the output projection.
        """
        if bias is not None:
            # Two masks on one score would sum to -inf: keep it finite.
            dtype = queries.dtype
            bias = bias.to(dtype).clamp(min=torch.finfo(dtype).min)
        out = F.scaled_dot_product_attention(
            queries,
            keys,
            values,
            attn_mask=bias,
            dropout_p=self.dropout if self.training else 0.0,
            scale=self.scaling,
        )
        if self.c_attn is not None:
            out = out * self.c_attn[None, :, None, None]
        batch, _, time, _ = out.shape
        out = out.transpose(1, 2).reshape(batch, time, -1)
        return self.out_proj(out)

    def forward(self, query, key, value, key_padding_mask=None, bias=None):
        """Attends from ``query`` to ``key``/``value``.

        Arguments
        ---------
        query : torch.Tensor
            ``[batch, time_q, d_model]``.
        key, value : torch.Tensor
            As in ``project_keys_values``.
        key_padding_mask : torch.Tensor
            Optional boolean ``[batch, time_k]``, True at padded keys.
        bias : torch.Tensor
            Optional additive bias broadcastable to
            ``[batch, heads, time_q, time_k]`` (position biases, causality).

        Returns
        -------
        torch.Tensor
            ``[batch, time_q, d_model]``.
        """
        queries = self.project_queries(query)
        keys, values = self.project_keys_values(key, value)
        if key_padding_mask is not None:
            pad = padding_to_bias(key_padding_mask, queries.dtype)
            bias = pad if bias is None else bias + pad
        return self.attend(queries, keys, values, bias)
