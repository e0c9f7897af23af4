"""Any SpeechBrain speech encoder, dressed as an MMSpeech speech encoder.

``ForeignEncoder`` wraps a SpeechBrain encoder (``TransformerASR``'s
``EncoderWrapper``, a ``ConformerEncoder`` stack...) so that MMSpeech's
``TextDecoder`` (and its beam searcher) runs on top of it.

Authors
 * MMSpeech plugin contributors 2026
"""

import torch
from speechbrain.lobes.models.transformer.Transformer import PositionalEncoding

from speechbrain_mmspeech.lobes.models.encoder import EncoderOutput
from speechbrain_mmspeech.nnet.masking import lengths_to_padding_mask


class ForeignEncoder(torch.nn.Module):
    """Any SpeechBrain speech encoder, as an MMSpeech speech encoder.

    MMSpeech's ``TextDecoder`` reads, besides the encoder states, position
    features of the encoder frames (the keys of its cross-attention position
    bias) and the exact padding. This module runs ``encoder(feats,
    wav_lens)`` (e.g. ``TransformerASR``'s ``EncoderWrapper``, or a
    ``LengthsCapableSequential`` of a CNN front end and one), takes fixed
    sinusoidal positions (``speechbrain.lobes.models.transformer.Transformer.PositionalEncoding``)
    as position features, and returns an ``EncoderOutput``. Put it in an
    ``MMSpeech`` with a ``TextDecoder`` and the model trains (``forward`` of
    ``TextDecoder`` on its states) and decodes with ``MMSpeechBeamSearcher``
    as an MMSpeech does. It has no phone head.

    Arguments
    ---------
    encoder : torch.nn.Module
        Maps features and relative lengths to ``[batch, time, d_model]``.
    d_model : int
        Its output size (the decoder's).
    max_positions : int
        Longest output (in frames) the positions cover.

    Example
    -------
    Train MMSpeech's text decoder on a SpeechBrain Transformer encoder for
    one step, then decode with MMSpeech's beam searcher:

    >>> from speechbrain.lobes.models.transformer.TransformerASR import (
    ...     EncoderWrapper,
    ...     TransformerASR,
    ... )
    >>> from speechbrain_mmspeech.lobes.models.decoder import TextDecoder
    >>> from speechbrain_mmspeech.decoders.seq2seq import MMSpeechBeamSearcher
    >>> from speechbrain_mmspeech.lobes.models.mmspeech import MMSpeech
    >>> _ = torch.manual_seed(0)
    >>> transformer = TransformerASR(
    ...     tgt_vocab=1,
    ...     input_size=80,
    ...     d_model=16,
    ...     nhead=2,
    ...     num_encoder_layers=2,
    ...     num_decoder_layers=0,
    ...     d_ffn=32,
    ...     causal=False,
    ... )
    >>> model = MMSpeech(
    ...     ForeignEncoder(EncoderWrapper(transformer), d_model=16),
    ...     TextDecoder(vocab_size=20, d_model=16, nhead=2, num_layers=1),
    ... )
    >>> feats, lens = torch.rand(2, 30, 80), torch.tensor([1.0, 0.7])
    >>> tokens_bos = torch.tensor([[0, 5, 6, 7], [0, 8, 9, 1]])
    >>> tokens_eos = torch.tensor([[5, 6, 7, 2], [8, 9, 2, 1]])
    >>> optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    >>> encoded = model.encoder(feats, lens)
    >>> hidden = model.decoder(
    ...     tokens_bos, encoded.hidden, encoded.positions, encoded.padding_mask
    ... )
    >>> loss = torch.nn.functional.cross_entropy(
    ...     model.output_projection(hidden).transpose(1, 2),
    ...     tokens_eos,
    ...     ignore_index=1,
    ... )
    >>> loss.backward()
    >>> optimizer.step()
    >>> searcher = MMSpeechBeamSearcher(
    ...     model.eval(),
    ...     banned_indices=[0, 1],
    ...     bos_index=0,
    ...     eos_index=2,
    ...     beam_size=2,
    ...     min_decode_ratio=0.0,
    ...     max_decode_ratio=1.0,
    ...     max_decode_length=5,
    ...     using_eos_threshold=False,
    ... )
    >>> hyps, _, _, _ = searcher(model.encode(feats, lens), lens)
    >>> len(hyps), all(len(hyp) <= 5 for hyp in hyps)
    (2, True)
    """

    def __init__(self, encoder, d_model, max_positions=2500):
        super().__init__()
        self.encoder = encoder
        self.d_model = d_model
        self.positional_encoding = PositionalEncoding(d_model, max_positions)

    def forward(self, feats, feat_lens, **kwargs):
        """Encodes features into an ``EncoderOutput``.

        Arguments
        ---------
        feats : torch.Tensor
            ``[batch, frames, n_feats]`` features.
        feat_lens : torch.Tensor
            ``[batch]`` relative lengths.
        **kwargs : dict
            Options of the MMSpeech encoder (time masking ...) that a
            foreign encoder does not have; they must be off.

        Returns
        -------
        speechbrain_mmspeech.lobes.models.encoder.EncoderOutput
            States, sinusoidal positions, padding and lengths.
        """
        if (
            kwargs.get("time_mask_prob", 0.0)
            or kwargs.get("phones") is not None
        ):
            raise ValueError(
                "ForeignEncoder encodes speech only, without time masking"
            )
        hidden = self.encoder(feats, feat_lens)
        batch, time, _ = hidden.shape
        lengths = torch.round(feat_lens * time).long().clamp(max=time)
        padding_mask = lengths_to_padding_mask(lengths, time)
        positions = self.positional_encoding(hidden).expand(batch, -1, -1)
        return EncoderOutput(
            hidden,
            positions.to(hidden.dtype),
            padding_mask,
            lengths,
            torch.zeros_like(padding_mask),
        )
