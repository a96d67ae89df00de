"""Fixtures of the reliability tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import moto_server


@pytest.fixture
def own_moto() -> Iterator[str]:
    """A moto server for this test alone: moto copies every table it holds on each
    transaction (to roll back), so the session's shared server, holding the tables of every
    earlier test, would make a thousand writes crawl."""
    with moto_server() as endpoint:
        yield endpoint
