"""Fixtures of the reliability tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer


@pytest.fixture
def own_moto() -> Iterator[str]:
    """A moto server for this test alone: moto copies every table it holds on each
    transaction (to roll back), so the session's shared server, holding the tables of every
    earlier test, would make a thousand writes crawl."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
