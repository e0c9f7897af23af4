"""pytest set-up shared by the unit tests and the doctests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def add_torch_to_doctests(doctest_namespace):
    """Doctest examples use ``torch`` without importing it, as in SpeechBrain."""
    doctest_namespace["torch"] = torch
