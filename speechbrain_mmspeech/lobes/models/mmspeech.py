"""The MMSpeech encoder-decoder and its SpeechBrain-facing interface.

``MMSpeech`` joins a ``SpeechEncoder`` and a ``TextDecoder``. Besides the
training forward pass it offers the two methods SpeechBrain's inference and
search code call on a Transformer ASR model:

- ``encode(feats, wav_lens)`` returns one tensor, the *encoder memory*;
- ``decode(tokens, memory, enc_lens)`` returns decoder states and attention,
  as ``S2STransformerBeamSearcher`` expects (the output layer is
  ``output_projection``, tied to the token embeddings).

``MMSpeech.from_architecture`` builds the network from one mapping of
architecture keys (``ARCHITECTURE_KEYS``; the recipes' ``hparams/presets/``
and every model folder's ``architecture``), so that the sizes are written in
one place and the YAML files hold no copy of the network's wiring.

For incremental decoding (``speechbrain_mmspeech.decoders.seq2seq``),
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

from speechbrain_mmspeech.lobes.models.decoder import TextDecoder
from speechbrain_mmspeech.lobes.models.encoder import SpeechEncoder
from speechbrain_mmspeech.tokenizers import PAD_INDEX

# What fixes the network's shapes: the keys of an ``architecture`` mapping.
ARCHITECTURE_KEYS = (
    "n_mels",
    "d_model",
    "nhead",
    "num_encoder_layers",
    "num_decoder_layers",
    "d_ffn",
    "subsample_channels",
    "context_layer",
    "pos_conv_depth",
    "pos_conv_kernel",
    "pos_conv_groups",
    "phone_vocab_size",
    "max_positions",
    "rel_pos_bucket_size",
    "text_vocab_size",
    "code_vocab_size",
    "scale_embedding",
    "entangle_position_embedding",
)
# Keys an architecture may leave out, and the value they then take.
OPTIONAL_ARCHITECTURE_KEYS = {"rel_pos_max_positions": None}
# The keys each half takes unchanged, as keyword arguments of the same name.
SPEECH_ENCODER_KEYS = (
    "n_mels",
    "d_model",
    "nhead",
    "d_ffn",
    "subsample_channels",
    "context_layer",
    "phone_vocab_size",
    "pos_conv_depth",
    "pos_conv_kernel",
    "pos_conv_groups",
)
TEXT_DECODER_KEYS = (
    "d_model",
    "nhead",
    "d_ffn",
    "max_positions",
    "rel_pos_bucket_size",
    "scale_embedding",
    "entangle_position_embedding",
)


def check_architecture(architecture):
    """Checks that an architecture mapping has exactly ``ARCHITECTURE_KEYS``.

    It may also have ``OPTIONAL_ARCHITECTURE_KEYS``.

    Arguments
    ---------
    architecture : dict
        The mapping to check.

    Raises
    ------
    ValueError
        Naming the missing and the unknown keys (a misspelt override).

    Example
    -------
    >>> check_architecture({"d_model": 16})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The architecture lacks n_mels, nhead, ...
    """
    missing = [key for key in ARCHITECTURE_KEYS if key not in architecture]
    known = (*ARCHITECTURE_KEYS, *OPTIONAL_ARCHITECTURE_KEYS)
    unknown = sorted(set(architecture) - set(known))
    problems = []
    if missing:
        problems.append("lacks " + ", ".join(missing))
    if unknown:
        problems.append(
            "has unknown keys "
            + ", ".join(unknown)
            + " (known keys: "
            + ", ".join(known)
            + ")"
        )
    if problems:
        raise ValueError("The architecture " + "; ".join(problems))


def build_speech_encoder(architecture, dropout=0.0, layerdrop=0.0):
    """Builds the ``SpeechEncoder`` of an architecture.

    Arguments
    ---------
    architecture : dict
        An architecture mapping, as ``check_architecture`` accepts it.
    dropout : float
        Dropout of the encoder layers.
    layerdrop : float
        Probability of skipping a whole layer in training.

    Returns
    -------
    speechbrain_mmspeech.lobes.models.encoder.SpeechEncoder
        ``num_encoder_layers`` layers; ``SPEECH_ENCODER_KEYS`` passed as
        they are.

    Example
    -------
    >>> encoder = build_speech_encoder(getfixture("tiny_architecture"))
    >>> len(encoder.encoder.layers), encoder.encoder.context_layer
    (2, 1)
    """
    check_architecture(architecture)
    return SpeechEncoder(
        num_layers=architecture["num_encoder_layers"],
        dropout=dropout,
        layerdrop=layerdrop,
        **{key: architecture[key] for key in SPEECH_ENCODER_KEYS},
    )


def build_text_decoder(architecture, dropout=0.0, drop_path=0.0):
    """Builds the ``TextDecoder`` of an architecture.

    Arguments
    ---------
    architecture : dict
        As in ``build_speech_encoder``.
    dropout, drop_path : float
        Dropout and stochastic-depth rate of the decoder layers.

    Returns
    -------
    speechbrain_mmspeech.lobes.models.decoder.TextDecoder
        ``num_decoder_layers`` layers; its vocabulary is the text ids
        followed by the audio-code ids; ``TEXT_DECODER_KEYS`` passed as
        they are.

    Example
    -------
    >>> decoder = build_text_decoder(getfixture("tiny_architecture"))
    >>> decoder.embed_tokens.num_embeddings  # 20 text + 4 code ids
    24
    """
    check_architecture(architecture)
    return TextDecoder(
        vocab_size=architecture["text_vocab_size"]
        + architecture["code_vocab_size"],
        num_layers=architecture["num_decoder_layers"],
        rel_pos_max_positions=architecture.get(
            "rel_pos_max_positions",
            OPTIONAL_ARCHITECTURE_KEYS["rel_pos_max_positions"],
        ),
        dropout=dropout,
        drop_path=drop_path,
        padding_index=PAD_INDEX,
        **{key: architecture[key] for key in TEXT_DECODER_KEYS},
    )


def pack_memory(encoder_output):
    """Packs an ``EncoderOutput`` into one ``[batch, time, 2d + 1]`` tensor.

    Arguments
    ---------
    encoder_output : speechbrain_mmspeech.lobes.models.encoder.EncoderOutput
        What ``SpeechEncoder.forward`` returned.

    Returns
    -------
    torch.Tensor
        ``[hidden ; positions ; valid]`` along the last axis.

    Example
    -------
    >>> from speechbrain_mmspeech.lobes.models.encoder import EncoderOutput
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
    encoder : speechbrain_mmspeech.lobes.models.encoder.SpeechEncoder
        The speech encoder.
    decoder : speechbrain_mmspeech.lobes.models.decoder.TextDecoder
        The text decoder.

    Example
    -------
    >>> from speechbrain_mmspeech.lobes.models.encoder import SpeechEncoder
    >>> from speechbrain_mmspeech.lobes.models.decoder import TextDecoder
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

    @classmethod
    def from_architecture(
        cls, architecture, dropout=0.0, layerdrop=0.0, drop_path=0.0
    ):
        """Builds the encoder and the decoder of an architecture mapping.

        The recipe and inference YAML files build their model this way
        (``!apply:speechbrain_mmspeech.lobes.models.mmspeech.MMSpeech.from_architecture``).

        Arguments
        ---------
        architecture : dict
            As in ``build_speech_encoder``.
        dropout : float
            Dropout of the encoder and decoder layers.
        layerdrop, drop_path : float
            As in ``build_speech_encoder`` and ``build_text_decoder``.

        Returns
        -------
        MMSpeech

        Example
        -------
        >>> model = MMSpeech.from_architecture(getfixture("tiny_architecture"))
        >>> sum(p.numel() for p in model.parameters()) > 0
        True
        """
        return cls(
            build_speech_encoder(architecture, dropout, layerdrop),
            build_text_decoder(architecture, dropout, drop_path),
        )

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
        encoder_output : speechbrain_mmspeech.lobes.models.encoder.EncoderOutput
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
        speechbrain_mmspeech.lobes.models.decoder.DecoderCache
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
        cache : speechbrain_mmspeech.lobes.models.decoder.DecoderCache
            From ``start_decoding``; extended in place.

        Returns
        -------
        torch.Tensor
            ``[hyps, d_model]`` decoder states of the new position, the last
            position of ``decode`` on the whole prefix.
        """
        return self.decoder.forward_step(tokens.long(), cache)
