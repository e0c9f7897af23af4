"""The Transformer language model over the MMSpeech character vocabulary.

SpeechBrain's ``TransformerLM``, with one fix: it masks ``<pad>`` (id 1) as
padding, where upstream masks id 0, which in the MMSpeech (fairseq)
dictionary is ``<s>``, the first input of every sequence. It keeps the
upstream name because SpeechBrain's ``ScorerBuilder`` and
``RescorerBuilder`` key scorers by class name (``transformerlm``). How it
joins the beam search (shallow fusion, N-best rescoring) is in
``decoders.scorers``.

Authors
 * MMSpeech plugin contributors 2026
"""

import torch
from speechbrain.lobes.models.transformer import TransformerLM as sb_lm

from speechbrain_mmspeech.tokenizers import PAD_INDEX

# What fixes the language model's shapes: the keys of an ``lm_architecture``.
LM_ARCHITECTURE_KEYS = ("d_model", "nhead", "num_layers", "d_ffn")


class TransformerLM(sb_lm.TransformerLM):
    """SpeechBrain's ``TransformerLM`` with a configurable padding id.

    Upstream, every id 0 in the input is treated as padding and hidden from
    attention. In the MMSpeech dictionary id 0 is ``<s>``, which starts every
    sequence, so this class masks ``pad_index`` (``<pad>``, id 1) instead.
    Everything else is the upstream model.

    Arguments
    ---------
    vocab : int
        Vocabulary size (the decoder's text ids).
    pad_index : int
        The id that marks padding.
    **kwargs : dict
        ``speechbrain.lobes.models.transformer.TransformerLM.TransformerLM``
        arguments (``d_model``, ``nhead``, ``num_encoder_layers``, ...).

    Example
    -------
    >>> lm = TransformerLM(
    ...     vocab=10, d_model=16, nhead=2, num_encoder_layers=1, d_ffn=32
    ... ).eval()
    >>> tokens = torch.tensor([[0, 5, 6, 1, 1], [0, 7, 8, 9, 4]])
    >>> lm(tokens).shape
    torch.Size([2, 5, 10])
    >>> _, padding = lm.make_masks(tokens)  # <s> (0) is not padding
    >>> padding.int().tolist()
    [[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]]
    """

    def __init__(self, vocab, pad_index=PAD_INDEX, **kwargs):
        super().__init__(vocab=vocab, **kwargs)
        self.pad_index = pad_index

    @classmethod
    def from_architecture(cls, lm_architecture, vocab, dropout=0.0):
        """The causal LM of an ``lm_architecture`` mapping.

        The recipe's LM training, its fine-tuning YAML (to decode with an
        ``lm_file``) and the model folders all build the LM this way, so
        that its sizes are written once.

        Arguments
        ---------
        lm_architecture : dict
            Exactly ``LM_ARCHITECTURE_KEYS``: ``d_model``, ``nhead``,
            ``num_layers`` and ``d_ffn``.
        vocab : int
            Vocabulary size (the decoder's text ids).
        dropout : float
            Dropout (training only).

        Returns
        -------
        TransformerLM

        Example
        -------
        >>> sizes = {"d_model": 16, "nhead": 2, "num_layers": 1, "d_ffn": 32}
        >>> lm = TransformerLM.from_architecture(sizes, vocab=10)
        >>> lm(torch.tensor([[0, 5, 6]])).shape
        torch.Size([1, 3, 10])
        >>> TransformerLM.from_architecture({"d_model": 16}, vocab=10)
        Traceback (most recent call last):
        ...
        ValueError: The LM architecture must have exactly the keys d_model, nhead, num_layers, d_ffn; got d_model
        """
        if sorted(lm_architecture) != sorted(LM_ARCHITECTURE_KEYS):
            raise ValueError(
                "The LM architecture must have exactly the keys "
                + ", ".join(LM_ARCHITECTURE_KEYS)
                + "; got "
                + ", ".join(lm_architecture)
            )
        return cls(
            vocab=vocab,
            d_model=lm_architecture["d_model"],
            nhead=lm_architecture["nhead"],
            num_encoder_layers=lm_architecture["num_layers"],
            num_decoder_layers=0,
            d_ffn=lm_architecture["d_ffn"],
            dropout=dropout,
            activation=torch.nn.GELU,
            normalize_before=True,
        )

    def make_masks(
        self, src, pad_idx=None, look_ahead_mask=True, padding_mask=True
    ):
        """Causal and padding masks, padding being ``pad_index``.

        Arguments
        ---------
        src : torch.Tensor
            ``[batch, length]`` token ids.
        pad_idx : int
            The padding id (default: ``pad_index``).
        look_ahead_mask : bool
            Whether to build the causal mask.
        padding_mask : bool
            Whether to build the key padding mask.

        Returns
        -------
        src_mask : torch.Tensor
            The causal mask, True where attention is not allowed (or None).
        src_key_padding_mask : torch.Tensor
            True at padding (or None).
        """
        if pad_idx is None:
            pad_idx = self.pad_index
        src_mask, src_key_padding_mask = super().make_masks(
            src,
            pad_idx=pad_idx,
            look_ahead_mask=look_ahead_mask,
            padding_mask=padding_mask,
        )
        if src_mask is not None:
            # Boolean like the padding mask (torch warns about mixed types).
            src_mask = torch.isneginf(src_mask)
        return src_mask, src_key_padding_mask
