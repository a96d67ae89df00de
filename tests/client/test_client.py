"""The client's behaviour over a source the test drives: status, changes, persistence, usage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ff_core.client import Change, ErrorCode, FlagClient, Status
from ff_core.client.snapshot import read_document
from ff_core.models import EntityKind, Flag
from tests.client.conftest import FakeSource, demo_snapshot, eventually

ALICE = {"targeting_key": "alice"}


def legacy_enabled(version: int, on: bool = True) -> Flag:
    flag = demo_snapshot().flags["legacy-mode"]
    config = flag.environments["production"].replace(enabled=on)
    return flag.replace(environments={"production": config}, version=version)


async def started(flags: FlagClient, fake: FakeSource, *, seq: int = 7) -> FlagClient:
    """Start ``flags`` while ``fake`` hands it the demo snapshot."""
    starting = asyncio.create_task(flags.start())
    await fake.running.wait()
    assert fake.feed is not None
    await fake.feed.replace(demo_snapshot(seq))
    fake.feed.connected()
    await starting
    return flags


@pytest.fixture
def fake() -> FakeSource:
    return FakeSource()


@pytest.fixture
async def client(fake: FakeSource) -> AsyncIterator[FlagClient]:
    flags = FlagClient(source=fake, usage_interval_s=None)
    await started(flags, fake)
    yield flags
    await flags.close()


async def test_status__source_down_then_back__stale_serving_then_ready(
    client: FlagClient, fake: FakeSource
) -> None:
    assert fake.feed is not None
    seen: list[Status] = []
    client.on_status(lambda status, _message: seen.append(status))

    fake.feed.unreachable("connection refused")
    during = (client.status, client.status_message, await client.is_enabled("new-checkout", ALICE))
    fake.feed.connected()

    assert during == (Status.STALE, "connection refused", False)
    assert (
        await client.details("banner-text", ALICE, default="")
    ).value == "Good to see you again!"
    assert client.status is Status.READY
    assert seen == [Status.STALE, Status.READY]


async def test_status__nothing_loaded_and_source_down__error_and_not_ready_answers(
    fake: FakeSource,
) -> None:
    flags = FlagClient(source=fake, timeout_s=0.2, usage_interval_s=None)
    started_at = time.monotonic()
    await flags.start()
    waited = time.monotonic() - started_at
    assert fake.feed is not None
    fake.feed.unreachable("connection refused")

    details = await flags.details("new-checkout", ALICE, default=True)
    await flags.close()

    assert flags.status is Status.ERROR
    assert 0.2 <= waited < 2.0
    assert (details.value, details.error_code) == (True, ErrorCode.PROVIDER_NOT_READY)


async def test_start__source_rejects_key__returns_at_once_with_error(fake: FakeSource) -> None:
    flags = FlagClient(source=fake, timeout_s=30, usage_interval_s=None)
    starting = asyncio.create_task(flags.start())
    await fake.running.wait()
    assert fake.feed is not None
    fake.feed.rejected("HTTP 401")

    await asyncio.wait_for(starting, 2)
    await flags.close()

    assert (flags.status, flags.status_message) == (Status.ERROR, "HTTP 401")


async def test_on_change__changes_applied__listeners_get_the_keys(
    client: FlagClient, fake: FakeSource
) -> None:
    assert fake.feed is not None
    sync_seen: list[list[str]] = []
    async_seen: list[list[str]] = []

    async def record(keys: list[str]) -> None:
        async_seen.append(keys)

    def broken(_keys: list[str]) -> None:
        raise RuntimeError("a listener with a bug")

    client.on_change(broken)
    client.on_change(sync_seen.append)
    unsubscribe = client.on_change(record)

    await fake.feed.apply([Change(EntityKind.FLAG, "legacy-mode", 8, 1, legacy_enabled(1))])
    await eventually(lambda: bool(async_seen))
    unsubscribe()
    await fake.feed.apply([Change(EntityKind.FLAG, "legacy-mode", 9, 2, legacy_enabled(2, False))])

    assert sync_seen == [["legacy-mode"], ["legacy-mode"]]
    assert async_seen == [["legacy-mode"]]
    assert await client.is_enabled("legacy-mode", ALICE) is False
    assert client.seq == 9


async def test_replace__older_snapshot_from_the_source__ignored(
    client: FlagClient, fake: FakeSource
) -> None:
    assert fake.feed is not None
    await fake.feed.apply([Change(EntityKind.FLAG, "legacy-mode", 8, 1, legacy_enabled(1))])

    await fake.feed.replace(demo_snapshot(seq=5))

    assert client.seq == 8
    assert await client.is_enabled("legacy-mode", ALICE) is True


async def test_replace__newer_snapshot__listeners_get_what_differs(
    client: FlagClient, fake: FakeSource
) -> None:
    assert fake.feed is not None
    seen: list[list[str]] = []
    client.on_change(seen.append)
    newer = demo_snapshot(seq=20)
    changed, _ = newer.apply([Change(EntityKind.FLAG, "legacy-mode", 21, 4, legacy_enabled(4))])

    await fake.feed.replace(changed)

    assert seen == [["legacy-mode"]]
    assert await client.is_enabled("legacy-mode", ALICE) is True


# -- persistence ----------------------------------------------------------------------------------


async def test_persist_to__restart_while_source_down__starts_stale_with_last_snapshot(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cache" / "flags.json"
    first_source = FakeSource()
    first = FlagClient(source=first_source, persist_to=path, usage_interval_s=None)
    await started(first, first_source)
    assert first_source.feed is not None
    await first_source.feed.apply([Change(EntityKind.FLAG, "legacy-mode", 8, 1, legacy_enabled(1))])
    await first.close()
    saved = read_document(path.read_bytes())

    down = FakeSource()
    second = FlagClient(source=down, persist_to=path, timeout_s=30, usage_interval_s=None)
    starting = asyncio.create_task(second.start())
    await down.running.wait()
    assert down.feed is not None
    down.feed.unreachable("connection refused")
    await asyncio.wait_for(starting, 2)  # serving the file: no reason to wait for the source
    on = await second.is_enabled("legacy-mode", ALICE)
    await second.close()

    assert saved["seq"] == 8
    assert (second.status, on, second.seq) == (Status.STALE, True, 8)


async def test_persist_to__burst_of_changes__file_follows_the_last(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    flags = FlagClient(source=(source := FakeSource()), persist_to=path, usage_interval_s=None)
    await started(flags, source)
    assert source.feed is not None
    for version in range(1, 6):
        change = Change(
            EntityKind.FLAG, "legacy-mode", 7 + version, version, legacy_enabled(version)
        )
        await source.feed.apply([change])

    await eventually(lambda: path.exists() and read_document(path.read_bytes())["seq"] == 12)
    await flags.close()


async def test_persist_to__unreadable_file__ignored(tmp_path: Path, fake: FakeSource) -> None:
    path = tmp_path / "flags.json"
    path.write_text("{ torn write")

    flags = FlagClient(source=fake, persist_to=path, usage_interval_s=None)
    await started(flags, fake)
    on = await flags.is_enabled(
        "new-checkout", {"targeting_key": "u", "country": "US", "plan": "pro"}
    )
    await flags.close()

    assert on is True
    assert read_document(path.read_bytes())["seq"] == 7  # rewritten from the source


# -- usage ----------------------------------------------------------------------------------------


async def test_usage__evaluations__counts_reported_in_the_background(fake: FakeSource) -> None:
    flags = FlagClient(source=fake, usage_interval_s=0.05)
    await started(flags, fake)
    for _ in range(3):
        await flags.is_enabled("new-checkout", ALICE)
    await flags.variation("banner-text", ALICE, default="")
    await flags.is_enabled("no-such-flag")

    await eventually(lambda: bool(fake.reports))
    await flags.close()

    assert fake.reports[0] == {"new-checkout": 3, "banner-text": 1}


async def test_usage__report_fails__counts_kept_for_the_next(fake: FakeSource) -> None:
    flags = FlagClient(source=fake, usage_interval_s=0.05)
    await started(flags, fake)
    fake.failing_reports = True
    await flags.is_enabled("new-checkout", ALICE)
    await asyncio.sleep(0.2)
    await flags.is_enabled("new-checkout", ALICE)
    fake.failing_reports = False

    await eventually(lambda: bool(fake.reports))
    await flags.close()

    assert sum(r.get("new-checkout", 0) for r in fake.reports) == 2


async def test_usage__close__last_counts_sent(fake: FakeSource) -> None:
    flags = FlagClient(source=fake, usage_interval_s=3600)
    await started(flags, fake)
    await flags.is_enabled("new-checkout", ALICE)

    await flags.close()

    assert fake.reports == [{"new-checkout": 1}]
    assert fake.closed


async def test_usage__report_in_flight__evaluations_not_blocked(fake: FakeSource) -> None:
    release = asyncio.Event()
    fake.hold_reports = release
    flags = FlagClient(source=fake, usage_interval_s=0.01)
    await started(flags, fake)
    await flags.is_enabled("new-checkout", ALICE)
    await asyncio.wait_for(fake.reporting.wait(), 2)

    answers = [await flags.is_enabled("new-checkout", ALICE) for _ in range(100)]
    release.set()
    await flags.close()

    assert answers == [False] * 100


async def test_usage__off__nothing_reported(fake: FakeSource) -> None:
    flags = FlagClient(source=fake, usage_interval_s=None)
    await started(flags, fake)
    await flags.is_enabled("new-checkout", ALICE)

    await flags.close()

    assert fake.reports == []


async def test_usage__key_rejected__no_more_reports(fake: FakeSource) -> None:
    flags = FlagClient(source=fake, usage_interval_s=3600)
    await started(flags, fake)
    await flags.is_enabled("new-checkout", ALICE)
    assert fake.feed is not None
    fake.feed.rejected("HTTP 401")

    await flags.close()

    assert fake.reports == []
    assert flags.status is Status.ERROR
    # Still serving what it had.
    assert await flags.is_enabled(
        "new-checkout", {"targeting_key": "x", "country": "CA", "plan": "pro"}
    )
