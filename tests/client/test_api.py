"""The SDK against the real API on loopback (over moto's server): stream, outage, auth, polling."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from ff_api import ApiSettings
from ff_core.client import FlagClient, Status
from tests.api.conftest import ADMIN
from tests.client.conftest import (
    SEEN_WITHIN_S,
    ApiServer,
    CountingTransport,
    Seeded,
    eventually,
    fast_backoff,
    set_enabled,
)

NA_PRO = {"targeting_key": "user-1", "country": "US", "plan": "pro"}
ALICE = {"targeting_key": "alice"}
STREAM = "/api/v1/sdk/stream"
FLAGS = "/api/v1/sdk/flags"


async def test_connect__server_key__ready_with_its_environment(
    api_server: ApiServer, seeded: Seeded
) -> None:
    async with FlagClient(url=api_server.url, server_key=seeded.server_key) as flags:
        status = flags.status
        checkout = await flags.is_enabled("new-checkout", NA_PRO)
        legacy = await flags.is_enabled("legacy-mode", ALICE, default=True)
        layout = await flags.variation("checkout.layout", ALICE, default={})
        size = await flags.variation("search.max-results", ALICE, default=0)

    assert status is Status.READY
    assert (checkout, legacy, layout, size) == (True, False, {"columns": 3}, 100)


async def test_change_through_management_api__client_sees_it_within_bound(
    api_server: ApiServer, seeded: Seeded, admin: httpx.AsyncClient
) -> None:
    async with FlagClient(url=api_server.url, server_key=seeded.server_key) as flags:
        changed: list[list[str]] = []
        flags.on_change(changed.append)
        assert await flags.is_enabled("legacy-mode", ALICE) is False

        await set_enabled(admin, "legacy-mode", True)
        elapsed = await eventually(lambda: flags.is_enabled("legacy-mode", ALICE))

    # Measured at well under a second on loopback; the bound leaves room for a loaded CI.
    assert elapsed < SEEN_WITHIN_S
    assert ["legacy-mode"] in changed


async def test_api_stopped__stale_and_serving__ready_after_restart(
    api_server: ApiServer, seeded: Seeded
) -> None:
    transport = CountingTransport()
    flags = await FlagClient.connect(
        url=api_server.url,
        server_key=seeded.server_key,
        backoff=fast_backoff(),
        transport=transport,
    )
    statuses: list[Status] = []
    flags.on_status(lambda status, _message: statuses.append(status))
    seq_before, initially = flags.seq, flags.status

    api_server.stop()
    await eventually(lambda: flags.status is Status.STALE)
    during = await flags.is_enabled("new-checkout", NA_PRO)
    # A change while this client cannot hear about it.
    await seeded.services.flags.set_enabled(ADMIN, "demo", "legacy-mode", "production", True)
    api_server.start()
    await eventually(lambda: flags.status is Status.READY)
    await eventually(lambda: flags.is_enabled("legacy-mode", ALICE))
    await flags.close()

    assert initially is Status.READY
    assert during is True
    assert statuses[:2] == [Status.STALE, Status.READY]
    # The reconnect resumed from where the client was rather than asking for everything.
    resumed = [r.headers.get("last-event-id") for r in transport.requests if r.url.path == STREAM]
    assert str(seq_before) in resumed


@pytest.mark.parametrize("which", ["unknown", "client"])
async def test_rejected_key__error_and_no_reconnect_storm(
    api_server: ApiServer, seeded: Seeded, which: str
) -> None:
    key = "ffs_" + "x" * 40 if which == "unknown" else seeded.client_key
    transport = CountingTransport()
    started = time.monotonic()
    flags = await FlagClient.connect(
        url=api_server.url,
        server_key=key,
        backoff=fast_backoff(),
        transport=transport,
        timeout_s=10,
    )
    waited = time.monotonic() - started
    answer = await flags.details("new-checkout", NA_PRO, default=True)
    await asyncio.sleep(1.0)  # a storm at this back-off would be ~10 requests by now
    await flags.close()

    assert flags.status is Status.ERROR
    assert waited < SEEN_WITHIN_S
    assert (answer.value, answer.error_code) == (True, "PROVIDER_NOT_READY")
    assert transport.statuses == [401 if which == "unknown" else 403]


@pytest.mark.parametrize("mode", ["stream refused", "polling only"])
async def test_no_stream__polls_with_if_none_match_and_sees_changes(
    api_server: ApiServer, seeded: Seeded, admin: httpx.AsyncClient, mode: str
) -> None:
    refused = mode == "stream refused"
    transport = CountingTransport(refuse_paths=(STREAM,) if refused else ())
    flags = await FlagClient.connect(
        url=api_server.url,
        server_key=seeded.server_key,
        transport=transport,
        backoff=fast_backoff(),
        stream=mode != "polling only",
        poll_interval_s=0.1,
    )
    assert flags.status is Status.READY
    await eventually(lambda: 304 in transport.statuses)

    await set_enabled(admin, "legacy-mode", True)
    elapsed = await eventually(lambda: flags.is_enabled("legacy-mode", ALICE))
    await flags.close()

    polls = [r for r in transport.requests if r.url.path == FLAGS]
    assert any("if-none-match" in r.headers for r in polls)
    assert flags.status is Status.READY
    assert elapsed < SEEN_WITHIN_S


async def test_usage__evaluations__recorded_by_the_api(seeded: Seeded) -> None:
    settings = ApiSettings(**{**seeded.settings.model_dump(), "usage_flush_s": 0.2})
    server = ApiServer(settings)
    url = server.start()
    try:
        flags = await FlagClient.connect(
            url=url, server_key=seeded.server_key, usage_interval_s=0.2
        )
        for _ in range(5):
            await flags.is_enabled("new-checkout", NA_PRO)
        headers = {"Authorization": f"Bearer {seeded.admin_key}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as admin:

            async def recorded() -> bool:
                response = await admin.get("/api/v1/projects/demo/flags/new-checkout/usage")
                usage = response.json()["environments"].get("production", {})
                return bool(usage.get("total", 0) >= 5)

            await eventually(recorded)
        await flags.close()
    finally:
        server.stop()


async def test_persist_to__restart_while_api_down__starts_with_the_last_snapshot(
    api_server: ApiServer, seeded: Seeded, admin: httpx.AsyncClient, tmp_path: Path
) -> None:
    path = tmp_path / "flags.json"
    await set_enabled(admin, "legacy-mode", True)
    async with FlagClient(
        url=api_server.url, server_key=seeded.server_key, persist_to=path
    ) as first:
        assert await first.is_enabled("legacy-mode", ALICE) is True
    api_server.stop()

    started = time.monotonic()
    async with FlagClient(
        url=api_server.url, server_key=seeded.server_key, persist_to=path, timeout_s=30
    ) as second:
        waited = time.monotonic() - started
        on = await second.is_enabled("legacy-mode", ALICE)
        status = second.status

    assert (on, status) == (True, Status.STALE)
    assert waited < SEEN_WITHIN_S  # the API is down: no reason to wait for it


async def test_api_down_at_start_no_file__error_then_ready_when_it_comes_up(
    api_server: ApiServer, seeded: Seeded
) -> None:
    api_server.stop()
    flags = await FlagClient.connect(
        url=api_server.url, server_key=seeded.server_key, backoff=fast_backoff(), timeout_s=0.3
    )
    before = (flags.status, await flags.is_enabled("new-checkout", NA_PRO, default=False))

    api_server.start()
    await eventually(lambda: flags.status is Status.READY)
    after = await flags.is_enabled("new-checkout", NA_PRO, default=False)
    await flags.close()

    assert before == (Status.ERROR, False)
    assert after is True
