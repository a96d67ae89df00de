"""Two API replicas on one table: a write through one reaches the other's SSE subscribers.

DESIGN 5: every replica follows the change log every ``poll_interval_s``, so a change
written through replica A reaches a subscriber of replica B within the poll interval (plus
the time to read and apply it), and SSE ids are the project's change sequence, so each
change arrives exactly once and in order, on every replica.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack

import httpx
import pytest

from tests.api.conftest import Seeded, ServerThread
from tests.api.sse import Event, Stream, open_stream

STREAM = "/api/v1/sdk/stream"


@pytest.fixture
def replicas(seeded: Seeded) -> Iterator[tuple[str, str]]:
    """Replicas A and B: the same settings (table, key secret, poll interval)."""
    a, b = ServerThread(seeded.settings), ServerThread(seeded.settings)
    try:
        yield a.start(), b.start()
    finally:
        a.stop()
        b.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """Plain: the base url differs per replica."""
    async with httpx.AsyncClient(timeout=10) as plain:
        yield plain


async def write(
    http: httpx.AsyncClient, url: str, seeded: Seeded, flag: str, enabled: bool
) -> httpx.Response:
    """Flip one flag in production through the management API of the replica at ``url``."""
    response = await http.post(
        f"{url}/api/v1/projects/demo/flags/{flag}/set-enabled-in",
        json={"environments": ["production"], "enabled": enabled},
        headers={"Authorization": f"Bearer {seeded.admin_key}"},
    )
    assert response.status_code == 200, response.text
    return response


async def events_until(stream: Stream, seq: int, wait_s: float) -> list[Event]:
    """Every event up to and including the one with id ``seq``."""
    events: list[Event] = []
    while not events or int(events[-1].id or 0) < seq:
        events.append(await stream.next(wait_s))
    return events


async def test_replicas__write_through_a__reaches_b_within_the_poll_interval(
    replicas: tuple[str, str], seeded: Seeded, client: httpx.AsyncClient
) -> None:
    url_a, url_b = replicas
    bound_s = seeded.settings.poll_interval_s + 1
    headers = {"Authorization": f"Bearer {seeded.server_key}"}
    async with open_stream(client, url_b + STREAM, headers) as on_b:
        start = await on_b.next()
        response = await write(client, url_a, seeded, "legacy-mode", True)
        answered = time.monotonic()
        upsert = await on_b.next(wait_s=bound_s + 5)
        elapsed_s = time.monotonic() - answered

    assert start.event == "snapshot"
    assert elapsed_s <= bound_s
    flag = response.json()
    assert (upsert.event, upsert.id) == ("upsert", str(start.data["seq"] + 1))
    assert (upsert.data["key"], upsert.data["version"]) == ("legacy-mode", flag["version"])
    assert upsert.data["definition"]["environments"]["production"]["enabled"] is True


async def test_replicas__rapid_writes_through_a__each_seq_once_in_order_on_both(
    replicas: tuple[str, str], seeded: Seeded, client: httpx.AsyncClient
) -> None:
    url_a, url_b = replicas
    poll_s = seeded.settings.poll_interval_s
    headers = {"Authorization": f"Bearer {seeded.server_key}"}
    # Each write changes something (legacy-mode starts off, new-checkout on): no no-op writes.
    flips = [
        ("legacy-mode", True),
        ("new-checkout", False),
        ("legacy-mode", False),
        ("new-checkout", True),
    ] * 2
    async with AsyncExitStack() as stack:
        on_a = await stack.enter_async_context(open_stream(client, url_a + STREAM, headers))
        on_b = await stack.enter_async_context(open_stream(client, url_b + STREAM, headers))
        base = (await on_a.next()).data["seq"]
        assert (await on_b.next()).data["seq"] == base
        # Back to back: B's follower sees several changes per read, A's its own pokes.
        written = [(await write(client, url_a, seeded, f, on)).json() for f, on in flips]
        last = base + len(flips)
        streams = {"A": on_a, "B": on_b}
        received = {name: await events_until(s, last, poll_s + 5) for name, s in streams.items()}
        # Nothing more comes: no change is delivered a second time, by either path.
        for stream in streams.values():
            with pytest.raises(TimeoutError):
                await stream.next(wait_s=3 * poll_s)

    final = {flag["key"]: flag["version"] for flag in written}
    for name, events in received.items():
        assert [e.id for e in events] == [str(s) for s in range(base + 1, last + 1)], name
        assert [e.event for e in events] == ["upsert"] * len(flips), name
        assert [e.data["key"] for e in events] == [f for f, _ in flips], name
        for key, version in final.items():
            versions = [e.data["version"] for e in events if e.data["key"] == key]
            # An event carries the flag as read when applied: never older, maybe newer.
            assert versions == sorted(versions), (name, key)
            assert versions[-1] == version, (name, key)
