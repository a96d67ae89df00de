"""Issue 9.4: a subscriber cut 20 times during 1,000 updates misses nothing, applies nothing twice.

The real API (uvicorn on a loopback port, over moto's DynamoDB server) streams while 1,000
kill-switch flips (200 in the suite, see ``UPDATES``) go through the services straight to
the store; the API's follower picks them up as any replica would. Two clients, one on
the server SDK stream and one on the browser stream, each close their connection 20
times at random points: between events or in the middle of one (a random prefix of the
bytes that arrived; the rest is never read). Like ``EventSource``, a client applies only
complete events and resumes with the id of the last one it applied (``Last-Event-ID``).

Then each client's state must equal what the store holds, and its ids must only ever go up:
on the SDK stream, one id per change with no gap (the log is replayed exactly); on the
browser stream, a change event or a snapshot that brings the values up to date.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from ff_api import ApiSettings
from ff_api.context import evaluation_context
from ff_api.routes.browser import visible_values
from ff_api.routes.sdk import flag_for
from ff_core.evaluation import CompiledEnvironment
from ff_core.models import KeyKind
from ff_core.services import Services
from ff_core.store import DynamoStore
from tests.api.conftest import ADMIN, SECRET, ServerThread, demo_services

# The full figure is 1,000 updates; each costs moto a copy of the whole table (growing with
# the change log), so the suite runs 200 and the full run is
# ``FF_SSE_RESUME_UPDATES=1000 .venv/bin/pytest tests/reliability/test_sse_resume.py -s``.
UPDATES = int(os.environ.get("FF_SSE_RESUME_UPDATES", "200"))
CUTS = 20
# Flipped in turn: two flags a browser sees (alice's values change with each flip) and
# three it does not (only the SDK stream carries them).
# The last flip (n = 999) is one a browser sees, so its stream ends on the final sequence.
FLIPPED = ("banner-text", "legacy-mode", "discount-rate", "checkout.layout", "new-checkout")
CONTEXT = {"targetingKey": "alice", "country": "US", "plan": "pro"}
SEED = 20261121


@dataclass
class Stack:
    url: str
    services: Services
    server_key: str
    client_key: str


@pytest.fixture
async def stack(own_moto: str) -> AsyncIterator[Stack]:
    settings = ApiSettings(
        dynamodb_endpoint=own_moto,
        table="ff-sse-resume",
        key_secret=SECRET,
        poll_interval_s=0.2,
    )
    async with DynamoStore.open(settings) as store:
        services = await demo_services(store)
        _, server_key = await services.access.create_key(
            ADMIN, "demo", KeyKind.SERVER, "backend", environment="production"
        )
        _, client_key = await services.access.create_key(
            ADMIN, "demo", KeyKind.CLIENT, "web", environment="production"
        )
        server = ServerThread(settings)
        url = server.start()
        try:
            yield Stack(url, services, server_key, client_key)
        finally:
            server.stop()


@dataclass
class Cutter:
    """An SSE client that is cut at given ids and resumes with ``Last-Event-ID``."""

    path: str
    headers: dict[str, str]
    cut_at: list[int]  # cut once the last applied id reaches each of these, in order
    rng: random.Random
    last_id: int | None = None
    ids: list[int] = field(default_factory=list)  # of every applied snapshot/change event
    events: list[tuple[str, int]] = field(default_factory=list)
    flags: dict[str, Any] = field(default_factory=dict)
    connections: int = 0
    cuts: int = 0
    cuts_mid_event: int = 0

    async def run(self, http: httpx.AsyncClient, until: asyncio.Future[int]) -> None:
        """Connect and resume until the last id reaches the store's final sequence."""
        while not (until.done() and self.last_id == until.result()):
            await self._connection(http, until)
            await asyncio.sleep(self.rng.uniform(0, 0.03))  # updates go on meanwhile

    async def _connection(self, http: httpx.AsyncClient, until: asyncio.Future[int]) -> None:
        headers = dict(self.headers)
        if self.last_id is not None:
            headers["Last-Event-ID"] = str(self.last_id)
        self.connections += 1
        timeout = httpx.Timeout(10, read=None)
        async with http.stream("GET", self.path, headers=headers, timeout=timeout) as response:
            assert response.status_code == 200, await response.aread()
            chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
            reader = asyncio.create_task(self._read(response, chunks))
            try:
                await self._consume(chunks, until)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    @staticmethod
    async def _read(response: httpx.Response, chunks: asyncio.Queue[bytes | None]) -> None:
        async for chunk in response.aiter_bytes():
            chunks.put_nowait(chunk)
        chunks.put_nowait(None)

    async def _consume(
        self, chunks: asyncio.Queue[bytes | None], until: asyncio.Future[int]
    ) -> None:
        buffer = b""
        while True:
            if until.done() and self.last_id == until.result() and not self.cut_at:
                return  # caught up with the store: done
            cutting = bool(self.cut_at) and (self.last_id or 0) >= self.cut_at[0]
            if cutting and self.rng.random() < 0.3:
                self._cut(mid_event=False)
                return  # between events
            try:
                chunk = await asyncio.wait_for(chunks.get(), 0.5)
            except TimeoutError:
                if cutting:  # no next chunk (a browser sees no change for most flips)
                    self._cut(mid_event=False)
                    return
                continue
            if chunk is None:
                raise AssertionError(f"{self.path}: the server ended the stream")
            if cutting:
                chunk = chunk[: self.rng.randrange(len(chunk) + 1)]
                self._cut(mid_event=not (buffer + chunk).endswith(b"\r\n\r\n"))
            *complete, buffer = (buffer + chunk).split(b"\r\n\r\n")
            for raw in complete:
                self._apply(raw)
            if cutting:
                return  # leaving the stream's context closes the socket

    def _cut(self, *, mid_event: bool) -> None:
        self.cut_at.pop(0)
        self.cuts += 1
        self.cuts_mid_event += mid_event

    def _apply(self, raw: bytes) -> None:
        name, ident, data = "message", None, []
        for line in raw.decode().split("\r\n"):
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "id":
                ident = int(value)
            elif key == "data":
                data.append(value)
        if not data or name == "message":  # a ping comment, or OFREP's refetch notice
            return
        assert ident is not None, raw
        payload = json.loads("\n".join(data))
        self.events.append((name, ident))
        self.ids.append(ident)
        self.last_id = ident
        if name == "snapshot":
            if isinstance(payload["flags"], list):
                self.flags = {f["key"]: f for f in payload["flags"]}
            else:
                self.flags = dict(payload["flags"])
        elif name == "upsert":
            if payload["kind"] == "flag":
                before = self.flags.get(payload["key"])
                # Never an older definition over a newer one. (Two changes of one flag in
                # one batch both carry its latest definition: the same version twice.)
                assert before is None or payload["version"] >= before["version"], payload
                self.flags[payload["key"]] = payload["definition"]
        elif name == "delete":
            self.flags.pop(payload["key"], None)
        elif name == "change":
            self.flags.update(payload["flags"])
            for key in payload["removed"]:
                self.flags.pop(key, None)
        else:
            raise AssertionError(f"unexpected event {name!r}")


async def write_updates(services: Services, rng: random.Random) -> int:
    """``UPDATES`` kill-switch flips in production, straight to the store; the final sequence."""
    enabled = {
        key: (await services.flags.get_flag("demo", key)).environments["production"].enabled
        for key in FLIPPED
    }
    for n in range(UPDATES):
        key = FLIPPED[n % len(FLIPPED)]
        enabled[key] = not enabled[key]
        await services.flags.set_enabled(ADMIN, "demo", key, "production", enabled[key])
        if rng.random() < 0.05:
            await asyncio.sleep(0.01)  # let the readers through now and then
    return (await services.store.load_project("demo")).seq


async def test_sse__cut_20_times_during_updates__misses_0_and_applies_0_twice(
    stack: Stack,
) -> None:
    rng = random.Random(SEED)
    store = stack.services.store
    start = (await store.load_project("demo")).seq
    # Cut points spread over the updates (as sequence numbers), both clients differently.
    sdk = Cutter(
        "/api/v1/sdk/stream",
        {"Authorization": f"Bearer {stack.server_key}"},
        sorted(start + n for n in rng.sample(range(10, UPDATES - 20), CUTS)),
        random.Random(rng.random()),
    )
    query = urlencode({"key": stack.client_key, "context": json.dumps(CONTEXT)})
    browser = Cutter(
        f"/api/v1/browser/stream?{query}",
        {},
        sorted(start + n for n in rng.sample(range(10, UPDATES - 20), CUTS)),
        random.Random(rng.random()),
    )
    final: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    began = time.monotonic()
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        readers = [asyncio.create_task(c.run(http, final)) for c in (sdk, browser)]
        try:
            final.set_result(await write_updates(stack.services, rng))
            await asyncio.wait_for(asyncio.gather(*readers), 30)
        finally:
            for reader in readers:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader
    inside = sdk.cuts_mid_event + browser.cuts_mid_event
    print(f"{UPDATES} updates, 2 x {CUTS} cuts ({inside} inside an event) in", end=" ")
    print(f"{time.monotonic() - began:.1f} s")

    state = await store.load_project("demo")
    assert state.seq == final.result() == start + UPDATES
    # Every cut happened, each followed by a resume.
    assert (sdk.cuts, browser.cuts) == (CUTS, CUTS)
    assert (sdk.connections, browser.connections) == (CUTS + 1, CUTS + 1)
    assert sdk.cuts_mid_event + browser.cuts_mid_event > 0, "no cut fell inside an event"

    # SDK stream: one snapshot, then exactly one event per change, no gap, no repeat.
    assert sdk.events[0] == ("snapshot", sdk.ids[0])
    assert all(name in ("upsert", "delete") for name, _ in sdk.events[1:])
    assert sdk.ids == list(range(sdk.ids[0], state.seq + 1))
    assert sdk.flags == {k: flag_for(f, "production") for k, f in state.flags.items()}

    # Browser stream: ids only go up, and the values are those of the store's flags.
    assert all(b > a for a, b in zip(browser.ids, browser.ids[1:], strict=False))
    assert browser.last_id == state.seq
    env = CompiledEnvironment("production", state.flags.values(), state.segments.values())
    context = evaluation_context(CONTEXT, 65_536)
    assert browser.flags == visible_values(env, context, time.time())
