"""Tests for speechbrain_mmspeech.lobes.models.mmspeech: MMSpeech and its packed memory."""

import pytest
import torch

import tiny_models
from speechbrain_mmspeech.lobes.models.encoder import EncoderOutput
from speechbrain_mmspeech.lobes.models.mmspeech import (
    MMSpeech,
    pack_memory,
    unpack_memory,
)

D_MODEL = tiny_models.D_MODEL
VOCAB = 20


def tiny_model(**encoder):
    """A tiny MMSpeech in eval mode; ``encoder`` overrides encoder sizes."""
    decoder = {"num_layers": 2, "max_positions": 32, "rel_pos_bucket_size": 8}
    return tiny_models.tiny_model(
        VOCAB, encoder=encoder, decoder=decoder
    ).eval()


def padded_batch():
    """Two utterances (100 and 60 frames), the second zero-padded."""
    torch.manual_seed(2)
    long, short = torch.randn(100, 80), torch.randn(60, 80)
    feats = torch.zeros(2, 100, 80)
    feats[0], feats[1, :60] = long, short
    return feats, torch.tensor([1.0, 0.6]), [long, short]


def test_pack_unpack_round_trip():
    hidden, positions = torch.randn(2, 5, D_MODEL), torch.randn(2, 5, D_MODEL)
    padding = torch.tensor([[False] * 5, [False, False, True, True, True]])
    out = EncoderOutput(hidden, positions, padding, None, None)
    memory = pack_memory(out)
    assert memory.shape == (2, 5, 2 * D_MODEL + 1)
    hidden2, positions2, padding2 = unpack_memory(memory)
    assert torch.equal(hidden2, hidden)
    assert torch.equal(positions2, positions)
    assert torch.equal(padding2, padding)
    # Beam searchers reorder memories along the batch axis only.
    reordered = unpack_memory(memory[[1, 1, 0]])[2]
    assert torch.equal(reordered, padding[[1, 1, 0]])


def test_decode_of_encode_equals_teacher_forced_forward():
    model = tiny_model()
    feats, lens, _ = padded_batch()
    tokens = torch.randint(3, VOCAB, (2, 6))
    tokens[:, 0] = 0
    with torch.no_grad():
        logits, phone_logits, enc = model(feats, lens, tokens)
        memory = model.encode(feats, lens)
        # SpeechBrain searchers keep the token history as floats.
        hidden, attn = model.decode(tokens.float(), memory, torch.ones(2))
    assert attn is None
    assert enc.speech_lengths.tolist() == [24, 14]
    assert memory.shape == (2, 24, 2 * D_MODEL + 1)
    assert unpack_memory(memory)[2].sum(dim=1).tolist() == [0, 10]
    torch.testing.assert_close(
        model.output_projection(hidden), logits, atol=1e-5, rtol=0
    )
    assert phone_logits.shape == (2, 24, 121)


def test_encode_without_lengths_uses_full_lengths():
    model = tiny_model()
    feats, _, _ = padded_batch()
    with torch.no_grad():
        torch.testing.assert_close(
            model.encode(feats), model.encode(feats, torch.ones(2))
        )


def test_output_projection_is_the_decoders():
    model = tiny_model()
    assert model.output_projection is model.decoder.output_projection


def assert_batch_equals_one_by_one(model):
    feats, lens, utterances = padded_batch()
    tokens = torch.randint(3, VOCAB, (2, 5))
    with torch.no_grad():
        batch_logits, _, _ = model(feats, lens, tokens)
        for row, utterance in enumerate(utterances):
            alone, _, _ = model(
                utterance[None], torch.ones(1), tokens[row : row + 1]
            )
            torch.testing.assert_close(
                batch_logits[row], alone[0], atol=1e-5, rtol=0
            )


def test_batch_equals_one_by_one_with_one_pos_conv_block():
    assert_batch_equals_one_by_one(tiny_model(pos_conv_depth=1))


def test_batch_equals_one_by_one_with_official_pos_conv_depth():
    assert_batch_equals_one_by_one(
        tiny_model(pos_conv_depth=5, pos_conv_kernel=19, pos_conv_groups=16)
    )


def test_forward_time_mask_prob_only_changes_training_inputs():
    model = tiny_model()
    feats, lens, _ = padded_batch()
    tokens = torch.randint(3, VOCAB, (2, 4))
    torch.manual_seed(0)
    with torch.no_grad():
        clean, _, enc_clean = model(feats, lens, tokens)
        masked, _, enc_masked = model(feats, lens, tokens, time_mask_prob=0.5)
    assert not enc_clean.time_mask.any() and enc_masked.time_mask.any()
    assert not torch.allclose(clean, masked)


def test_architecture_may_give_the_relative_position_span(tiny_architecture):
    architecture = {**tiny_architecture, "rel_pos_max_positions": 64}
    model = MMSpeech.from_architecture(architecture)
    assert model.decoder.token_rp_bucket.shape == (64, 64)
    default = MMSpeech.from_architecture(tiny_architecture)
    span = tiny_architecture["max_positions"]
    assert default.decoder.token_rp_bucket.shape == (span, span)
    with pytest.raises(ValueError, match="unknown keys rel_pos_span"):
        MMSpeech.from_architecture({**tiny_architecture, "rel_pos_span": 64})


def test_every_architecture_key_reaches_the_encoder_or_the_decoder():
    from speechbrain_mmspeech.lobes.models.mmspeech import (
        ARCHITECTURE_KEYS,
        SPEECH_ENCODER_KEYS,
        TEXT_DECODER_KEYS,
    )

    # Read by name in build_speech_encoder / build_text_decoder.
    renamed = {
        "num_encoder_layers",
        "num_decoder_layers",
        "text_vocab_size",
        "code_vocab_size",
    }
    passed = set(SPEECH_ENCODER_KEYS) | set(TEXT_DECODER_KEYS) | renamed
    assert passed == set(ARCHITECTURE_KEYS)
