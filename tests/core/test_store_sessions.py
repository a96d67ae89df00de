"""The sign-out part of the Store contract, run against every implementation (STYLE 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ff_core.store import DynamoStore, Store
from ff_core.store import items as it

T0 = datetime(2026, 1, 1, 12, 0, 0, 123_456, tzinfo=UTC)


async def test_sessions_ended__never_signed_out__none(store: Store) -> None:
    assert await store.sessions_ended("ada@example.com") is None


async def test_end_sessions__then_read__exact_to_the_microsecond_per_user(store: Store) -> None:
    await store.end_sessions("ada@example.com", T0)

    assert await store.sessions_ended("ada@example.com") == T0
    assert await store.sessions_ended("bob@example.com") is None


async def test_end_sessions__earlier_time__keeps_the_later_one(store: Store) -> None:
    await store.end_sessions("ada@example.com", T0)
    await store.end_sessions("ada@example.com", T0 - timedelta(seconds=5))
    assert await store.sessions_ended("ada@example.com") == T0

    later = T0 + timedelta(microseconds=1)
    await store.end_sessions("ada@example.com", later)
    assert await store.sessions_ended("ada@example.com") == later


async def test_end_sessions__dynamodb__item_expires_after_the_longest_session(
    dynamo_store: DynamoStore,
) -> None:
    await dynamo_store.end_sessions("ada@example.com", T0)
    items = {item["pk"]["S"]: item for item in await dynamo_store.dump_items()}

    ttl = int(items["SESSIONS#ada@example.com"]["ttl"]["N"])
    assert ttl == int(T0.timestamp()) + it.SESSIONS_RETENTION_S
    assert it.SESSIONS_RETENTION_S > 30 * 86_400  # AdminSettings.session_ttl_s's maximum
