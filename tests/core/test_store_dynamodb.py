"""What only the DynamoDB store can show: raw items, botocore faults, error translation.

Faults are injected by wrapping the real aioboto3 client talking to moto over HTTP: the
request really reaches the server, then the response is "lost". Nothing is mocked out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from ff_core.errors import StoreUnavailable, Throttled
from ff_core.models import (
    Action,
    Actor,
    EntityKind,
    EnvironmentConfig,
    Flag,
    Project,
    Serve,
    boolean_variants,
)
from ff_core.settings import Settings
from ff_core.store import DynamoStore, Write
from ff_core.store import items as it
from tests.conftest import TEST_CREDENTIALS

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_write(
    actor: Actor, new: Flag | Project, *, idem: str, expected: int | None = None
) -> Write:
    entity = EntityKind.PROJECT if isinstance(new, Project) else EntityKind.FLAG
    return Write(
        project="demo",
        entity=entity,
        key=new.key,
        action=Action.CREATED,
        actor=actor,
        at=T0,
        new=new,
        old=None,
        expected_version=expected,
        idempotency_key=idem,
        fingerprint=idem,
    )


def a_flag() -> Flag:
    return Flag(
        key="checkout",
        name="Checkout",
        salt="fixed",
        variants=boolean_variants(),
        environments={
            "production": EnvironmentConfig(off_variant="off", fallthrough=Serve(variant="on"))
        },
        version=1,
    )


async def scan(store: DynamoStore) -> list[dict[str, Any]]:
    client, table = store._client, store._table
    response = await client.scan(TableName=table, ConsistentRead=True)
    return sorted(response["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


async def test_commit__transaction_cancelled_midway__table_unchanged(
    dynamo_store: DynamoStore, alice: Actor
) -> None:
    await dynamo_store.commit(
        make_write(alice, Project(key="demo", name="Demo", version=1), idem="p")
    )
    # Another writer's change-log entry already holds seq 2: the entity, history and counter
    # parts of our transaction would succeed alone, but the whole transaction must not.
    planted = it.encode_change(
        it.change_entry(make_write(alice, a_flag(), idem="x"), 2, 1), ttl=2_000_000_000
    )
    await dynamo_store._client.put_item(TableName=dynamo_store._table, Item=planted)
    before = await scan(dynamo_store)

    with pytest.raises(Throttled):
        await dynamo_store.commit(make_write(alice, a_flag(), idem="c"))

    assert await scan(dynamo_store) == before


def lose_responses(store: DynamoStore, times: int) -> list[int]:
    """Commits go through to the server, then the response is lost ``times`` times."""
    original: Callable[..., Awaitable[Any]] = store._client.transact_write_items
    lost = [0]

    async def transact(**kwargs: Any) -> Any:
        result = await original(**kwargs)
        if lost[0] < times:
            lost[0] += 1
            raise ReadTimeoutError(endpoint_url="http://moto")
        return result

    store._client.transact_write_items = transact  # type: ignore[method-assign]
    return lost


async def test_commit__response_lost_after_commit__applied_once(
    dynamo_store: DynamoStore, alice: Actor
) -> None:
    await dynamo_store.commit(
        make_write(alice, Project(key="demo", name="Demo", version=1), idem="p")
    )
    lost = lose_responses(dynamo_store, times=1)

    committed = await dynamo_store.commit(make_write(alice, a_flag(), idem="c"))

    assert lost == [1]
    assert committed.replayed
    assert committed.seq == 2
    assert [c.seq for c in await dynamo_store.read_changes("demo", 0)] == [1, 2]
    page = await dynamo_store.list_history("demo", EntityKind.FLAG, "checkout")
    assert len(page.items) == 1


async def test_commit__endpoint_down_every_time__unavailable_and_nothing_written(
    dynamo_store: DynamoStore, alice: Actor
) -> None:
    await dynamo_store.commit(
        make_write(alice, Project(key="demo", name="Demo", version=1), idem="p")
    )
    before = await scan(dynamo_store)
    calls = [0]

    async def unreachable(**kwargs: Any) -> Any:
        calls[0] += 1
        raise EndpointConnectionError(endpoint_url="http://moto")

    dynamo_store._client.transact_write_items = unreachable  # type: ignore[method-assign]

    with pytest.raises(StoreUnavailable):
        await dynamo_store.commit(make_write(alice, a_flag(), idem="c"))

    assert calls == [3]
    assert await scan(dynamo_store) == before


async def test_open__nothing_listening__store_unavailable_quickly() -> None:
    settings = Settings(
        dynamodb_endpoint="http://127.0.0.1:9",
        connect_timeout_s=0.5,
        read_timeout_s=0.5,
        max_attempts=1,
    )
    async with DynamoStore.open(settings, credentials=TEST_CREDENTIALS) as store:
        with pytest.raises(StoreUnavailable, match="unreachable"):
            await store.get_project("demo")


async def test_reads__table_missing__store_unavailable_naming_the_fix(moto_endpoint: str) -> None:
    settings = Settings(dynamodb_endpoint=moto_endpoint, table="never-created")
    async with DynamoStore.open(settings, credentials=TEST_CREDENTIALS) as store:
        with pytest.raises(StoreUnavailable, match="ff table create"):
            await store.get_project("demo")


async def test_flag_item__stored__one_json_document_with_version(
    dynamo_store: DynamoStore, alice: Actor
) -> None:
    await dynamo_store.commit(
        make_write(alice, Project(key="demo", name="Demo", version=1), idem="p")
    )
    await dynamo_store.commit(make_write(alice, a_flag(), idem="c"))

    items = {(i["pk"]["S"], i["sk"]["S"].split("#")[0]): i for i in await scan(dynamo_store)}

    flag_item = items[("PROJECT#demo", "FLAG")]
    assert flag_item["version"] == {"N": "1"}
    assert Flag.model_validate_json(flag_item["doc"]["S"]) == a_flag()
    assert items[("PROJECT#demo", "SEQ")]["seq"] == {"N": "2"}
    assert ("CHANGES#demo", "000000000002") in items
    assert "ttl" in items[("CHANGES#demo", "000000000002")]
    assert ("HISTORY#demo#checkout", "2026-01-01T00:00:00.000000+00:00") in items
    assert ("IDEMPOTENCY#demo#c", "META") in items
