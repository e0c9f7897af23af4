"""Fixtures shared by the unit tests in this folder."""

import pytest

from official_layouts import convert_both


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A tiny model converted from both official layouts (``convert_both``)."""
    return convert_both(tmp_path_factory.mktemp("convert"))
