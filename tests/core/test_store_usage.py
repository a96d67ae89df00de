"""Usage records: the contract on every store, then what only the DynamoDB item shows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ff_core.models import (
    Action,
    Actor,
    EntityKind,
    EnvironmentUsage,
    FlagUsage,
    Project,
    UsageDelta,
)
from ff_core.models.usage import STALE_AFTER_DAYS, USAGE_WINDOW_DAYS
from ff_core.store import DynamoStore, Store, Write
from ff_core.store import items as it

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def delta(count: int, at: datetime = NOW) -> UsageDelta:
    return UsageDelta(count=count, last=at)


async def test_record_usage__twice__counts_add_per_environment_and_day(store: Store) -> None:
    earlier = NOW - timedelta(days=1)
    await store.record_usage("demo", "banner", {"production": delta(3, earlier)})
    await store.record_usage("demo", "banner", {"production": delta(4), "staging": delta(1)})

    usage = await store.get_flag_usage("demo", "banner", now=NOW)

    assert usage == FlagUsage(
        project="demo",
        flag="banner",
        environments={
            "production": EnvironmentUsage(
                total=7,
                last_evaluated=NOW,
                daily={earlier.date(): 3, TODAY: 4},
                recent=7,
                stale=False,
            ),
            "staging": EnvironmentUsage(
                total=1, last_evaluated=NOW, daily={TODAY: 1}, recent=1, stale=False
            ),
        },
        last_evaluated=NOW,
        stale=False,
    )


async def test_record_usage__older_time_after_newer__last_evaluated_keeps_the_newer(
    store: Store,
) -> None:
    await store.record_usage("demo", "banner", {"production": delta(1)})
    await store.record_usage(
        "demo", "banner", {"production": delta(2, NOW - timedelta(minutes=5)), "dev": delta(1)}
    )

    usage = await store.get_flag_usage("demo", "banner", now=NOW)

    assert usage.environments["production"].last_evaluated == NOW
    assert usage.environments["production"].total == 3
    assert usage.environments["dev"].last_evaluated == NOW


async def test_get_usage__several_flags_and_projects__this_projects_by_key(store: Store) -> None:
    for project, flag in [("demo", "zeta"), ("other", "alpha"), ("demo", "alpha")]:
        await store.record_usage(project, flag, {"production": delta(1)})

    usage = await store.get_usage("demo", now=NOW)

    assert [(u.project, u.flag) for u in usage] == [("demo", "alpha"), ("demo", "zeta")]
    assert await store.get_usage("nobody", now=NOW) == []


async def test_get_usage__days_beyond_the_window__total_keeps_them_recent_does_not(
    store: Store,
) -> None:
    old = NOW - timedelta(days=USAGE_WINDOW_DAYS + 5)
    await store.record_usage("demo", "banner", {"production": delta(5, old)})
    await store.record_usage("demo", "banner", {"production": delta(2)})

    env = (await store.get_flag_usage("demo", "banner", now=NOW)).environments["production"]

    assert (env.total, env.recent, env.daily) == (7, 2, {TODAY: 2})


async def test_get_flag_usage__not_evaluated_lately_or_ever__stale(store: Store) -> None:
    long_ago = NOW - timedelta(days=STALE_AFTER_DAYS, minutes=1)
    await store.record_usage("demo", "old", {"production": delta(1, long_ago)})

    old = await store.get_flag_usage("demo", "old", now=NOW)
    never = await store.get_flag_usage("demo", "never", now=NOW)

    assert (old.stale, old.last_evaluated, old.environments["production"].stale) == (
        True,
        long_ago,
        True,
    )
    assert never == FlagUsage(project="demo", flag="never")
    assert never.stale
    assert await store.get_usage("demo", now=NOW) == [old]


async def test_record_usage__project_partition__loading_the_project_unaffected(
    store: Store, alice: Actor
) -> None:
    project = Project(key="demo", name="Demo", version=1)
    await store.commit(
        Write(
            project="demo",
            entity=EntityKind.PROJECT,
            key="demo",
            action=Action.CREATED,
            actor=alice,
            at=NOW,
            new=project,
            old=None,
            expected_version=None,
            idempotency_key="p",
            fingerprint="p",
        )
    )
    await store.record_usage("demo", "banner", {"production": delta(1)})

    state = await store.load_project("demo")

    assert (state.project, state.flags, state.seq) == (project, {}, 1)


# -- the DynamoDB item -------------------------------------------------------------------------


def count_updates(store: DynamoStore) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    original: Callable[..., Awaitable[Any]] = store._client.update_item

    async def update_item(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return await original(**kwargs)

    store._client.update_item = update_item  # type: ignore[method-assign]
    return calls


async def usage_item(store: DynamoStore, flag: str) -> dict[str, Any]:
    response = await store._client.get_item(
        TableName=store._table, Key={"pk": {"S": "USAGE#demo"}, "sk": {"S": flag}}
    )
    return response["Item"]


async def test_dynamo_record_usage__several_environments__one_update_item_flat_attributes(
    dynamo_store: DynamoStore,
) -> None:
    calls = count_updates(dynamo_store)

    await dynamo_store.record_usage("demo", "banner", {"production": delta(3), "dev": delta(1)})

    item = await usage_item(dynamo_store, "banner")
    assert len(calls) == 1
    assert {k: v for k, v in item.items() if k not in ("l#dev", "l#production", "ttl")} == {
        "pk": {"S": "USAGE#demo"},
        "sk": {"S": "banner"},
        "t#production": {"N": "3"},
        "d#production#20260310": {"N": "3"},
        "t#dev": {"N": "1"},
        "d#dev#20260310": {"N": "1"},
    }
    expires = int(item["ttl"]["N"])
    assert expires == int(NOW.timestamp()) + it.USAGE_TTL_DAYS * 86_400


async def test_dynamo_record_usage__day_out_of_the_window__removed_by_a_later_update(
    dynamo_store: DynamoStore,
) -> None:
    old = NOW - timedelta(days=USAGE_WINDOW_DAYS + 1)
    await dynamo_store.record_usage("demo", "banner", {"production": delta(1, old)})
    await dynamo_store.record_usage("demo", "banner", {"production": delta(1)})  # learns
    calls = count_updates(dynamo_store)

    await dynamo_store.record_usage("demo", "banner", {"production": delta(1)})

    item = await usage_item(dynamo_store, "banner")
    days = sorted(k for k in item if k.startswith("d#"))
    assert days == [f"d#production#{TODAY:%Y%m%d}"]
    assert item["t#production"] == {"N": "3"}
    assert len(calls) == 1


async def test_dynamo_record_usage__another_replica_wrote_a_later_time__kept_counts_added(
    dynamo_store: DynamoStore,
) -> None:
    later = NOW + timedelta(seconds=30)
    await dynamo_store.record_usage("demo", "banner", {"production": delta(1, later)})
    calls = count_updates(dynamo_store)

    await dynamo_store.record_usage("demo", "banner", {"production": delta(2), "dev": delta(1)})

    usage = await dynamo_store.get_flag_usage("demo", "banner", now=later)
    assert usage.environments["production"].last_evaluated == later
    assert usage.environments["production"].total == 3
    assert usage.environments["dev"].last_evaluated == NOW
    # The first attempt's condition failed; the retry left production's later time alone.
    assert len(calls) == 2
    assert "l#production" not in calls[1]["ExpressionAttributeNames"].values()


def test_usage_update__expired_day_also_added__not_removed() -> None:
    day = it.usage_update(
        "demo",
        "banner",
        {"production": delta(1)},
        forward=(),
        expired={"d#production#20260310", "d#production#20200101"},
    )

    assert day["ExpressionAttributeNames"]["#r0"] == "d#production#20200101"
    assert "#r1" not in day["ExpressionAttributeNames"]
    assert "ConditionExpression" not in day
    assert date(2020, 1, 1) < TODAY
