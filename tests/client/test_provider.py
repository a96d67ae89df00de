"""The OpenFeature provider, used through the OpenFeature SDK (``openfeature.api``)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.provider import ProviderStatus

from ff_core.client import Change, FlagClient, Snapshot
from ff_core.client.provider import FlagProvider
from ff_core.models import EntityKind
from tests.client.conftest import (
    ApiServer,
    FakeSource,
    Seeded,
    demo_snapshot,
    eventually,
    set_enabled,
)
from tests.client.test_client import legacy_enabled, started

ALICE = EvaluationContext(targeting_key="alice")
NA_PRO = EvaluationContext(targeting_key="user-1", attributes={"country": "US", "plan": "pro"})


class Events:
    """Every provider event the OpenFeature SDK hands to its handlers (on its own threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: list[tuple[ProviderEvent, EventDetails]] = []
        for event in ProviderEvent:
            api.add_handler(event, self._handler(event))

    def _handler(self, event: ProviderEvent) -> Callable[[EventDetails], None]:
        def handle(details: EventDetails) -> None:
            with self._lock:
                self.seen.append((event, details))

        return handle

    def of(self, event: ProviderEvent) -> list[EventDetails]:
        with self._lock:
            return [d for e, d in self.seen if e is event]


@pytest.fixture
def openfeature() -> Iterator[None]:
    yield
    api.shutdown()


@pytest.fixture
async def offline(openfeature: None, bootstrap_file: Path) -> AsyncIterator[OpenFeatureClient]:
    async with FlagClient(bootstrap=bootstrap_file) as flags:
        api.set_provider_and_wait(FlagProvider(flags))
        yield api.get_client()


def test_metadata__name() -> None:
    assert FlagProvider(FlagClient(bootstrap="unused.json")).get_metadata().name == "ff"


async def test_resolve__every_type__values_through_the_sdk(offline: OpenFeatureClient) -> None:
    assert offline.get_boolean_value("new-checkout", False, NA_PRO) is True
    assert offline.get_string_value("banner-text", "", ALICE) == "Good to see you again!"
    assert offline.get_integer_value("search.max-results", 0, ALICE) == 100
    assert offline.get_float_value("discount-rate", 0.0, ALICE) == 0.25
    assert offline.get_float_value("search.max-results", 0.0, ALICE) == 100.0
    assert offline.get_object_value("checkout.layout", {}, ALICE) == {"columns": 3}
    assert await offline.get_boolean_value_async("new-checkout", False, NA_PRO) is True
    assert (
        await offline.get_string_value_async("banner-text", "", ALICE) == "Good to see you again!"
    )
    assert await offline.get_integer_value_async("search.max-results", 0, ALICE) == 100
    assert await offline.get_float_value_async("discount-rate", 0.0, ALICE) == 0.25
    assert await offline.get_object_value_async("checkout.layout", {}, ALICE) == {"columns": 3}


async def test_resolve__details__variant_reason_and_version(offline: OpenFeatureClient) -> None:
    details = await offline.get_string_details_async("banner-text", "", ALICE)

    assert (details.value, details.variant, details.reason) == (
        "Good to see you again!",
        "friendly",
        "TARGETING_MATCH",
    )
    assert details.flag_metadata == {"version": 0}
    assert details.error_code is None


@pytest.mark.parametrize(
    ("call", "key", "default", "code"),
    [
        ("get_boolean_details", "no-such-flag", True, ErrorCode.FLAG_NOT_FOUND),
        ("get_integer_details", "discount-rate", 7, ErrorCode.TYPE_MISMATCH),
        ("get_string_details", "new-checkout", "x", ErrorCode.TYPE_MISMATCH),
        ("get_object_details", "banner-text", {"a": 1}, ErrorCode.TYPE_MISMATCH),
        ("get_boolean_details", "new-checkout", True, ErrorCode.TARGETING_KEY_MISSING),
    ],
)
async def test_resolve__problem__default_and_error_code(
    offline: OpenFeatureClient, call: str, key: str, default: object, code: ErrorCode
) -> None:
    context = ALICE if key != "new-checkout" or call != "get_boolean_details" else None
    details = getattr(offline, call)(key, default, context)

    assert (details.value, details.error_code, details.reason) == (default, code, "ERROR")


async def test_events__status_and_changes__provider_events_and_status(
    openfeature: None,
) -> None:
    fake = FakeSource()
    flags = await started(FlagClient(source=fake, usage_interval_s=None), fake)
    events = Events()
    api.set_provider_and_wait(FlagProvider(flags))
    client = api.get_client()
    assert fake.feed is not None
    await eventually(lambda: bool(events.of(ProviderEvent.PROVIDER_READY)))

    fake.feed.unreachable("connection refused")
    await eventually(lambda: bool(events.of(ProviderEvent.PROVIDER_STALE)))
    stale_status = client.get_provider_status()
    stale_value = client.get_boolean_value("new-checkout", False, NA_PRO)
    fake.feed.connected()
    await eventually(lambda: len(events.of(ProviderEvent.PROVIDER_READY)) == 2)
    await fake.feed.apply([Change(EntityKind.FLAG, "legacy-mode", 8, 1, legacy_enabled(1))])
    await eventually(lambda: bool(events.of(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED)))
    fake.feed.rejected("HTTP 401")
    await eventually(lambda: bool(events.of(ProviderEvent.PROVIDER_ERROR)))
    error_status = client.get_provider_status()
    await flags.close()

    assert (stale_status, stale_value) == (ProviderStatus.STALE, True)
    assert events.of(ProviderEvent.PROVIDER_STALE)[0].message == "connection refused"
    changed = events.of(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED)
    assert [d.flags_changed for d in changed] == [["legacy-mode"]]
    assert changed[0].provider_name == "ff"
    assert error_status is ProviderStatus.ERROR


async def test_initialize__client_without_flags__error_then_ready(openfeature: None) -> None:
    fake = FakeSource()
    flags = await FlagClient.connect(source=fake, timeout_s=0.05, usage_interval_s=None)
    events = Events()
    api.set_provider(FlagProvider(flags))
    await eventually(lambda: bool(events.of(ProviderEvent.PROVIDER_ERROR)))
    client = api.get_client()
    before = client.get_provider_status()
    assert fake.feed is not None

    await fake.feed.replace(legacy_snapshot())
    fake.feed.connected()
    await eventually(lambda: client.get_provider_status() is ProviderStatus.READY)
    value = await client.get_boolean_value_async("legacy-mode", False, ALICE)
    await flags.close()

    assert before is ProviderStatus.ERROR
    assert value is True


def legacy_snapshot() -> Snapshot:
    snapshot, _ = demo_snapshot().apply(
        [Change(EntityKind.FLAG, "legacy-mode", 8, 1, legacy_enabled(1))]
    )
    return snapshot


async def test_configuration_changed__flag_changed_through_the_api__flags_changed(
    openfeature: None, api_server: ApiServer, seeded: Seeded, admin: httpx.AsyncClient
) -> None:
    async with FlagClient(url=api_server.url, server_key=seeded.server_key) as flags:
        events = Events()
        api.set_provider_and_wait(FlagProvider(flags))

        await set_enabled(admin, "legacy-mode", True)
        await eventually(lambda: bool(events.of(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED)))
        value = await api.get_client().get_boolean_value_async("legacy-mode", False, ALICE)

    changed = events.of(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED)
    assert changed[0].flags_changed == ["legacy-mode"]
    assert value is True
