"""Issue 9.2: 50 concurrent updates from the same version: 1 wins, 49 conflict, none lost.

The updates go through the services to moto's server over HTTP, spread over independent
stores (each its own client, connection pool and in-process lock) as API replicas would
be, so what decides the race is the conditional transaction in the table, not a lock in
one process.

moto does not isolate transactions: a cancelled one rolls back by restoring a copy of the
tables taken before it ran, which can undo or half-keep what a concurrent one committed
(seen here without the proxy: an extra history entry in 1 of 6 races between 2 stores).
DynamoDB isolates them. So requests reach moto one at a time, through a proxy; they still
interleave freely between the stores, and the table's conditions alone pick the winner.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack

import pytest

from ff_core.errors import VersionConflict
from ff_core.models import Actor, EntityKind, EnvironmentConfig, Project, Serve
from ff_core.services import Services
from ff_core.settings import Settings
from ff_core.store import DynamoStore
from tests.conftest import TEST_CREDENTIALS
from tests.core.services_support import boolean_flag
from tests.reliability.audit import audit, history_of
from tests.reliability.proxy import Fault, FaultProxy

UPDATES = 50
REPLICAS = int(os.environ.get("FF_RACE_REPLICAS", "5"))
PROJECT = "race"
KEY = "checkout"


@pytest.fixture
def serialized(moto_endpoint: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(moto_endpoint, serialize=True)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
async def replicas(serialized: FaultProxy) -> AsyncIterator[list[Services]]:
    table = f"ff-race-{uuid.uuid4().hex[:12]}"
    settings = Settings(dynamodb_endpoint=serialized.url, table=table)
    async with AsyncExitStack() as stack:
        stores = [
            await stack.enter_async_context(
                DynamoStore.open(settings, credentials=TEST_CREDENTIALS)
            )
            for _ in range(REPLICAS)
        ]
        await stores[0].ensure_table()
        yield [Services(store) for store in stores]


async def race(replicas: list[Services], alice: Actor, expected: int) -> list[int | str]:
    """Each update: the flag's new version, or "conflict"."""
    start = asyncio.Event()

    async def update(i: int) -> int | str:
        services = replicas[i % len(replicas)]
        await start.wait()
        try:
            flag = await services.flags.update_flag(
                alice,
                PROJECT,
                KEY,
                {"description": f"update {i}"},
                expected_version=expected,
                note=f"update {i}",
            )
        except VersionConflict:
            return "conflict"
        return flag.version

    tasks = [asyncio.create_task(update(i)) for i in range(UPDATES)]
    await asyncio.sleep(0.05)  # every task waits at the start line
    start.set()
    return list(await asyncio.gather(*tasks))


def transactions(proxy: FaultProxy) -> int:
    return proxy.by_operation[("TransactWriteItems", Fault.NONE)]


async def test_update_flag__50_concurrent_from_one_version_on_replicas__one_wins(
    replicas: list[Services], serialized: FaultProxy, alice: Actor
) -> None:
    services = replicas[0]
    await services.projects.create_project(alice, Project(key=PROJECT, name="Race"))
    await services.flags.create_flag(alice, PROJECT, boolean_flag(KEY))
    before = transactions(serialized)

    outcomes = await race(replicas, alice, expected=1)
    attempted = transactions(serialized) - before
    stored = await services.flags.get_flag(PROJECT, KEY)
    history = await history_of(services.store, PROJECT, EntityKind.FLAG, KEY)
    found = await audit(services.store, PROJECT)

    print(f"\n{REPLICAS} replicas: {attempted} commits reached the table, 1 won")
    assert (outcomes.count(2), outcomes.count("conflict")) == (1, UPDATES - 1)
    # The table, not a check in one process, refused commits from the stale version.
    assert attempted > 1
    winner = outcomes.index(2)
    # No lost update: the one acknowledged write is the one stored, and the only one in history.
    assert (stored.version, stored.description) == (2, f"update {winner}")
    assert [e.note for e in history] == ["", f"update {winner}"]
    assert found.mismatched == []
    assert (found.gaps, found.duplicates, found.unlogged) == ([], [], [])


async def test_update_environment__50_concurrent_from_one_version_on_replicas__one_wins(
    replicas: list[Services], serialized: FaultProxy, alice: Actor
) -> None:
    """The same race on one environment's config version (the dashboard's edit form)."""
    services = replicas[0]
    await services.projects.create_project(alice, Project(key=PROJECT, name="Race"))
    await services.flags.create_flag(alice, PROJECT, boolean_flag(KEY))
    start = asyncio.Event()

    async def update(i: int) -> str:
        await start.wait()
        config = EnvironmentConfig(
            enabled=i % 2 == 0, off_variant="off", fallthrough=Serve(variant="on")
        )
        try:
            await replicas[i % REPLICAS].flags.update_environment(
                alice, PROJECT, KEY, "production", config, expected_version=1, note=f"env {i}"
            )
        except VersionConflict:
            return "conflict"
        return f"env {i}"

    before = transactions(serialized)
    tasks = [asyncio.create_task(update(i)) for i in range(UPDATES)]
    await asyncio.sleep(0.05)
    start.set()
    outcomes = list(await asyncio.gather(*tasks))
    attempted = transactions(serialized) - before
    stored = await services.flags.get_flag(PROJECT, KEY)
    found = await audit(services.store, PROJECT)

    winners = [o for o in outcomes if o != "conflict"]
    print(f"\n{REPLICAS} replicas: {attempted} commits reached the table, 1 won")
    assert (len(winners), outcomes.count("conflict")) == (1, UPDATES - 1)
    assert attempted > 1
    assert stored.environments["production"].version == 2
    assert found.notes == {winners[0]: 1}
    assert found.mismatched == []
    assert (found.gaps, found.duplicates, found.unlogged) == ([], [], [])
