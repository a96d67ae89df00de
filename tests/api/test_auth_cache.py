"""The API-key cache: a key in use is read again before its entry expires (issue 8).

Requests never wait for the store while an entry is valid; the background read still
brings a revocation in within the interval. Time is the module's clock, set by the test
(``ff_api.auth.time``), so that nothing depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from ff_api import auth
from ff_api.auth import KeyAuthenticator
from ff_core.errors import Unauthorized
from ff_core.models import Actor, ApiKey, KeyKind, Project
from ff_core.services import Services
from ff_core.store import MemoryStore, Store

SECRET = b"s" * 32
TTL_S = 4.0


class _Held:
    """A store whose key reads are counted and, while ``held`` is clear, wait for it."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.reads = 0
        self.held = asyncio.Event()
        self.held.set()

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        self.reads += 1
        await self.held.wait()
        return await self._inner.get_api_key(key_hash)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    now = SimpleNamespace(t=1_000.0)
    monkeypatch.setattr(auth, "time", SimpleNamespace(monotonic=lambda: now.t))
    return now


async def _setup(alice: Actor) -> tuple[Services, _Held, KeyAuthenticator, ApiKey, str]:
    store = MemoryStore()
    services = Services(store, key_secret=SECRET)
    await services.projects.create_project(alice, Project(key="demo", name="Demo"))
    key, raw = await services.access.create_key(
        alice, "demo", KeyKind.SERVER, "backend", environment="development"
    )
    held = _Held(store)
    return services, held, KeyAuthenticator(held, SECRET, ttl_s=TTL_S), key, raw  # type: ignore[arg-type]


async def test_key_cache__last_quarter__served_at_once_and_read_again_in_background(
    alice: Actor, clock: SimpleNamespace
) -> None:
    services, store, keys, key, raw = await _setup(alice)
    await keys.authenticate(raw, [KeyKind.SERVER])
    assert store.reads == 1

    clock.t += TTL_S / 2  # not yet in the last quarter: no read
    await keys.authenticate(raw, [KeyKind.SERVER])
    await asyncio.sleep(0)
    assert store.reads == 1

    clock.t += TTL_S * 0.3  # 80 % of the interval: answered from the cache, read behind it
    await services.access.revoke_key(alice, "demo", key.id)
    store.held.clear()
    served = await asyncio.wait_for(keys.authenticate(raw, [KeyKind.SERVER]), timeout=5)
    assert served.id == key.id
    assert served.revoked_at is None
    await asyncio.sleep(0)
    assert store.reads == 2
    await keys.authenticate(raw, [KeyKind.SERVER])  # one background read at a time
    assert store.reads == 2

    store.held.set()
    for _ in range(10):
        await asyncio.sleep(0)
    # Still inside the first entry's interval, the revocation is known.
    with pytest.raises(Unauthorized):
        await keys.authenticate(raw, [KeyKind.SERVER])


async def test_key_cache__expired__request_waits_for_the_store(
    alice: Actor, clock: SimpleNamespace
) -> None:
    services, store, keys, key, raw = await _setup(alice)
    await keys.authenticate(raw, [KeyKind.SERVER])
    await services.access.revoke_key(alice, "demo", key.id)

    clock.t += TTL_S + 0.1  # unused for a whole interval: the next request reads first
    with pytest.raises(Unauthorized):
        await keys.authenticate(raw, [KeyKind.SERVER])
    assert store.reads == 2


async def test_key_cache__background_read_fails__entry_serves_until_it_expires(
    alice: Actor, clock: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    _, store, keys, key, raw = await _setup(alice)
    await keys.authenticate(raw, [KeyKind.SERVER])

    async def broken(key_hash: str) -> ApiKey | None:
        raise RuntimeError("network gone (test)")

    store.get_api_key = broken  # type: ignore[method-assign]
    clock.t += TTL_S * 0.9
    assert (await keys.authenticate(raw, [KeyKind.SERVER])).id == key.id
    for _ in range(10):
        await asyncio.sleep(0)
    assert "background key lookup failed: network gone (test)" in caplog.text
    assert (await keys.authenticate(raw, [KeyKind.SERVER])).id == key.id
