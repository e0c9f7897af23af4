"""The MMSpeech encoder-decoder and its SpeechBrain-facing interface.

``MMSpeech`` joins a ``SpeechEncoder`` and a ``TextDecoder``. Besides the
training forward pass it offers the two methods SpeechBrain's inference and
search code call on a Transformer ASR model:

- ``encode(feats, wav_lens)`` returns one tensor, the *encoder memory*;
- ``decode(tokens, memory, enc_lens)`` returns decoder states and attention,
  as ``S2STransformerBeamSearcher`` expects (the output layer is
  ``output_projection``, tied to the token embeddings).

For incremental decoding (``speechbrain_mmspeech.decoding``),
``start_decoding`` turns a memory into a decoder cache and ``decode_step``
feeds one token per hypothesis.

MMSpeech's decoder needs more than the encoder states: its cross-attention
position bias is computed from the encoder's convolutional position features,
and it must know which frames are padding. The memory therefore packs
``[hidden ; positions ; valid]`` along the feature axis
(``2 * d_model + 1`` channels). Searchers only copy and reorder memories
along the batch axis, so the packing passes through them untouched, and the
decoder reads the exact padding from the ``valid`` channel instead of
re-deriving it from relative lengths.

Authors
 * MMSpeech plugin contributors 2026
"""

import torch


def pack_memory(encoder_output):
    """Packs an ``EncoderOutput`` into one ``[batch, time, 2d + 1]`` tensor.

    Arguments
    ---------
    encoder_output : speechbrain_mmspeech.encoder.EncoderOutput
        What ``SpeechEncoder.forward`` returned.

    Returns
    -------
    torch.Tensor
        ``[hidden ; positions ; valid]`` along the last axis.

    Example
    -------
    >>> from speechbrain_mmspeech.encoder import EncoderOutput
    >>> out = EncoderOutput(
    ...     torch.rand(1, 3, 4),
    ...     torch.rand(1, 3, 4),
    ...     torch.tensor([[False, False, True]]),
    ...     None,
    ...     None,
    ... )
    >>> memory = pack_memory(out)
    >>> memory.shape, unpack_memory(memory)[2].tolist()
    (torch.Size([1, 3, 9]), [[False, False, True]])
    """
    valid = (~encoder_output.padding_mask).unsqueeze(-1)
    hidden = encoder_output.hidden
    return torch.cat(
        [hidden, encoder_output.positions, valid.to(hidden.dtype)], dim=-1
    )


def unpack_memory(memory):
    """Splits a packed memory into states, positions and padding mask.

    Arguments
    ---------
    memory : torch.Tensor
        ``[batch, time, 2d + 1]`` from ``pack_memory``.

    Returns
    -------
    hidden : torch.Tensor
        ``[batch, time, d]``.
    positions : torch.Tensor
        ``[batch, time, d]``.
    padding_mask : torch.Tensor
        Boolean ``[batch, time]``, True at padding.
    """
    d_model = (memory.shape[-1] - 1) // 2
    hidden = memory[..., :d_model]
    positions = memory[..., d_model : 2 * d_model]
    padding_mask = memory[..., -1] < 0.5
    return hidden, positions, padding_mask


class MMSpeech(torch.nn.Module):
    """MMSpeech: speech encoder (with phone input and head) + text decoder.

    Arguments
    ---------
    encoder : speechbrain_mmspeech.encoder.SpeechEncoder
        The speech encoder.
    decoder : speechbrain_mmspeech.decoder.TextDecoder
        The text decoder.

    Example
    -------
    >>> from speechbrain_mmspeech.encoder import SpeechEncoder
    >>> from speechbrain_mmspeech.decoder import TextDecoder
    >>> model = MMSpeech(
    ...     SpeechEncoder(
    ...         d_model=16,
    ...         nhead=2,
    ...         num_layers=2,
    ...         d_ffn=32,
    ...         subsample_channels=4,
    ...         context_layer=1,
    ...         pos_conv_depth=1,
    ...         pos_conv_kernel=3,
    ...         pos_conv_groups=2,
    ...     ),
    ...     TextDecoder(
    ...         vocab_size=20,
    ...         d_model=16,
    ...         nhead=2,
    ...         num_layers=1,
    ...         d_ffn=32,
    ...         max_positions=32,
    ...         rel_pos_bucket_size=8,
    ...     ),
    ... ).eval()
    >>> feats, lens = torch.rand(2, 60, 80), torch.tensor([1.0, 0.8])
    >>> tokens = torch.randint(0, 20, (2, 4))
    >>> logits, phone_logits, enc = model(feats, lens, tokens)
    >>> logits.shape, phone_logits.shape
    (torch.Size([2, 4, 20]), torch.Size([2, 14, 121]))
    >>> memory = model.encode(feats, lens)
    >>> hidden, _ = model.decode(tokens, memory)
    >>> torch.allclose(model.output_projection(hidden), logits, atol=1e-5)
    True
    >>> cache = model.start_decoding(memory)
    >>> steps = [model.decode_step(tokens[:, i], cache) for i in range(4)]
    >>> torch.allclose(torch.stack(steps, dim=1), hidden, atol=1e-5)
    True
    """

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    @property
    def output_projection(self):
        """The decoder's output layer (tied to its token embeddings)."""
        return self.decoder.output_projection

    def forward(self, feats, feat_lens, tokens, time_mask_prob=0.0):
        """Speech-to-text forward pass with teacher forcing.

        Arguments
        ---------
        feats : torch.Tensor
            ``[batch, frames, n_mels]`` features.
        feat_lens : torch.Tensor
            Relative lengths.
        tokens : torch.Tensor
            ``[batch, length]`` decoder inputs (``<s>`` then the text).
        time_mask_prob : float
            Span-masking probability of the speech frames.

        Returns
        -------
        logits : torch.Tensor
            ``[batch, length, vocab]`` next-token scores.
        phone_logits : torch.Tensor
            ``[batch, time, phone_classes]`` phone-head scores (for CTC).
        encoder_output : speechbrain_mmspeech.encoder.EncoderOutput
            Everything the encoder produced.
        """
        enc = self.encoder(feats, feat_lens, time_mask_prob=time_mask_prob)
        hidden = self.decoder(
            tokens, enc.hidden, enc.positions, enc.padding_mask
        )
        logits = self.output_projection(hidden)
        return logits, self.encoder.phone_logits(enc.hidden), enc

    def encode(self, feats, wav_lens=None):
        """Encodes features into a packed memory (see module docstring).

        Arguments
        ---------
        feats : torch.Tensor
            ``[batch, frames, n_mels]`` features.
        wav_lens : torch.Tensor
            Relative lengths (default: all full).

        Returns
        -------
        torch.Tensor
            ``[batch, time, 2 * d_model + 1]``.
        """
        if wav_lens is None:
            wav_lens = torch.ones(feats.shape[0], device=feats.device)
        return pack_memory(self.encoder(feats, wav_lens))

    def decode(self, tokens, memory, enc_lens=None):
        """Runs the decoder on a packed memory.

        Arguments
        ---------
        tokens : torch.Tensor
            ``[batch, length]`` token prefix.
        memory : torch.Tensor
            Packed memory from ``encode``.
        enc_lens : torch.Tensor
            Ignored: the padding travels inside the memory. Accepted for
            the ``S2STransformerBeamSearcher`` calling convention.

        Returns
        -------
        hidden : torch.Tensor
            ``[batch, length, d_model]`` decoder states.
        attention : None
            No attention weights are returned, so attention-based scorers
            (coverage, max attention shift) do not apply to this model.
        """
        hidden, positions, padding_mask = unpack_memory(memory)
        # SpeechBrain searchers keep the token history as floats.
        tokens = tokens.long()
        states = self.decoder(tokens, hidden, positions, padding_mask)
        return states, None

    def start_decoding(self, memory, group=1):
        """Starts incremental decoding on a packed memory.

        Arguments
        ---------
        memory : torch.Tensor
            Packed memory from ``encode``, one row per utterance.
        group : int
            Hypotheses per utterance (see ``TextDecoder.init_cache``).

        Returns
        -------
        speechbrain_mmspeech.decoder.DecoderCache
            For ``decode_step``.
        """
        hidden, positions, padding_mask = unpack_memory(memory)
        return self.decoder.init_cache(hidden, positions, padding_mask, group)

    def decode_step(self, tokens, cache):
        """Decodes the newest token of each hypothesis with a cache.

        Arguments
        ---------
        tokens : torch.Tensor
            ``[hyps]`` newest tokens.
        cache : speechbrain_mmspeech.decoder.DecoderCache
            From ``start_decoding``; extended in place.

        Returns
        -------
        torch.Tensor
            ``[hyps, d_model]`` decoder states of the new position, the last
            position of ``decode`` on the whole prefix.
        """
        return self.decoder.forward_step(tokens.long(), cache)
