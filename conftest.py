"""pytest set-up shared by the unit tests and the doctests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def add_torch_to_doctests(doctest_namespace):
    """Doctest examples use ``torch`` without importing it, as in SpeechBrain."""
    doctest_namespace["torch"] = torch


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """One torch thread: fastest for tiny test models, no stalls on a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_architecture():
    """A complete, tiny ``architecture`` mapping (see ``MMSpeech``).

    Two encoder layers (the phones join before layer 1), one decoder layer,
    20 text ids and 4 code ids. Doctests use it through
    ``getfixture("tiny_architecture")``.
    """
    return {
        "n_mels": 80,
        "d_model": 16,
        "nhead": 2,
        "num_encoder_layers": 2,
        "num_decoder_layers": 1,
        "d_ffn": 32,
        "subsample_channels": 4,
        "context_layer": 1,
        "pos_conv_depth": 1,
        "pos_conv_kernel": 3,
        "pos_conv_groups": 2,
        "phone_vocab_size": 141,
        "max_positions": 32,
        "rel_pos_bucket_size": 8,
        "text_vocab_size": 20,
        "code_vocab_size": 4,
        "scale_embedding": True,
        "entangle_position_embedding": True,
    }


@pytest.fixture
def tiny_template_values(tiny_architecture):
    """Inference-template values of the smallest model the converter takes.

    Seven encoder layers, as the phones join before layer 6; the decoder
    vocabulary has 10 text ids and 2 code ids. Doctests use it through
    ``getfixture("tiny_template_values")``.
    """
    architecture = {
        **tiny_architecture,
        "num_encoder_layers": 7,
        "subsample_channels": 16,
        "context_layer": 6,
        "pos_conv_depth": 2,
        "max_positions": 8,
        "rel_pos_bucket_size": 4,
        "text_vocab_size": 10,
        "code_vocab_size": 2,
    }
    return {"architecture": architecture}
