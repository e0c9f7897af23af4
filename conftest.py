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
def tiny_template_values():
    """Inference-template values of the smallest model the converter takes.

    Seven encoder layers, as the phones join before layer 6; the decoder
    vocabulary has 10 text ids and 2 code ids. Doctests use it through
    ``getfixture("tiny_template_values")``.
    """
    return {
        "d_model": 16,
        "nhead": 2,
        "d_ffn": 32,
        "num_encoder_layers": 7,
        "num_decoder_layers": 1,
        "subsample_channels": 16,
        "pos_conv_depth": 2,
        "pos_conv_kernel": 3,
        "pos_conv_groups": 2,
        "max_positions": 8,
        "rel_pos_bucket_size": 4,
        "text_vocab_size": 10,
        "code_vocab_size": 2,
    }
