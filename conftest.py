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
