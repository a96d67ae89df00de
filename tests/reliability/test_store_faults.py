"""Issue 9.1: random store faults during writes lose nothing and apply nothing twice.

The real DynamoStore and services write to moto's server through a proxy that injects
faults into a fraction of the store's HTTP requests: connection closed before the request
(nothing written), response lost after the commit, 500 after the commit, throttling.
botocore does not retry (``max_attempts=1``), so every fault reaches ff's own code. Each
write is a request with an idempotency key that its caller retries until it is
acknowledged, as an API client retries a 503.

The suite runs ``FF_FAULT_WRITES`` writes (default 300); the full figure is
``FF_FAULT_WRITES=10000`` (docs/RELIABILITY.md).
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from moto.core.model_instances import reset_model_data

from ff_core.errors import StoreError, VersionConflict
from ff_core.models import Actor, Project
from ff_core.services import Services
from ff_core.settings import Settings
from ff_core.store import DynamoStore
from tests.conftest import TEST_CREDENTIALS
from tests.core.services_support import boolean_flag
from tests.reliability.audit import Audit, audit
from tests.reliability.proxy import Fault, FaultProxy

WRITES = int(os.environ.get("FF_FAULT_WRITES", "300"))
FLAGS = [f"flag-{i}" for i in range(10)]
WORKERS = 4
# Share of the store's HTTP requests that fail, split evenly between the four faults.
FAULT_RATE = 0.08
# A request is given up after this many attempts (none is expected to need them).
ATTEMPTS = 100
# Requests per table: moto copies the whole table on every transaction (to roll back), so
# its cost per write grows with the table; DynamoDB's does not.
BATCH = 250
PROJECT = "faults"


class RandomFaults:
    """The proxy's policy: a seeded draw per request while ``on``."""

    kinds = (Fault.REFUSE, Fault.LOSE, Fault.ERROR_AFTER, Fault.THROTTLE)

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.on = False
        self._rng = random.Random(seed)

    def __call__(self, operation: str) -> Fault:
        if not self.on or self._rng.random() >= self.rate:
            return Fault.NONE
        return self._rng.choice(self.kinds)


@dataclass
class Outcome:
    acked: set[int] = field(default_factory=set)
    given_up: set[int] = field(default_factory=set)
    retries: int = 0


@pytest.fixture
def faults() -> RandomFaults:
    return RandomFaults(FAULT_RATE, seed=int(os.environ.get("FF_FAULT_SEED", "9")))


@pytest.fixture
def proxy(moto_endpoint: str, faults: RandomFaults) -> Iterator[FaultProxy]:
    running = FaultProxy(moto_endpoint, faults)
    running.start()
    yield running
    running.stop()


async def write(services: Services, actor: Actor, i: int, outcome: Outcome) -> None:
    """Request ``i``: one metadata change, retried with its idempotency key until acked."""
    key = FLAGS[i % len(FLAGS)]
    for _ in range(ATTEMPTS):
        try:
            await services.flags.update_flag(
                actor,
                PROJECT,
                key,
                {"description": f"write {i}"},
                note=f"req-{i}",
                idempotency_key=f"req-{i}",
            )
        except (StoreError, VersionConflict):
            outcome.retries += 1
            await asyncio.sleep(0.002)
            continue
        outcome.acked.add(i)
        return
    outcome.given_up.add(i)


async def batch(
    proxy: FaultProxy, faults: RandomFaults, actor: Actor, requests: range, outcome: Outcome
) -> Audit:
    """``requests`` on a fresh table under faults, then what the table holds."""
    settings = Settings(
        dynamodb_endpoint=proxy.url, table=f"ff-faults-{uuid.uuid4().hex[:12]}", max_attempts=1
    )
    async with DynamoStore.open(settings, credentials=TEST_CREDENTIALS) as store:
        await store.ensure_table()
        services = Services(store)
        await services.projects.create_project(actor, Project(key=PROJECT, name="Faults"))
        for key in FLAGS:
            await services.flags.create_flag(actor, PROJECT, boolean_flag(key))
        pending = iter(requests)

        async def worker() -> None:
            for i in pending:
                await write(services, actor, i, outcome)

        faults.on = True
        await asyncio.gather(*(worker() for _ in range(WORKERS)))
        # A retry of an acknowledged request, faults or not, returns what was done.
        for i in requests[:: max(1, len(requests) // 25)]:
            await write(services, actor, i, outcome)
        faults.on = False
        found = await audit(store, PROJECT)
    # moto keeps every model instance it made, among them a copy of the table per transaction.
    reset_model_data()
    return found


async def test_random_store_faults__writes_retried_with_their_keys__state_history_log_agree(
    faults: RandomFaults, proxy: FaultProxy, alice: Actor
) -> None:
    outcome = Outcome()
    mismatched: list[str] = []
    log_errors: list[int] = []
    applied_twice: list[str] = []
    missing: set[str] = set()
    for start in range(0, WRITES, BATCH):
        requests = range(start, min(start + BATCH, WRITES))
        found = await batch(proxy, faults, alice, requests, outcome)
        mismatched += found.mismatched
        log_errors += found.gaps + found.duplicates + found.unlogged
        if len(found.change_seqs) != 1 + len(FLAGS) + len(requests):
            log_errors.append(len(found.change_seqs))
        applied_twice += [note for note, n in found.notes.items() if n > 1]
        missing |= {f"req-{i}" for i in requests} - set(found.notes)

    injected = {kind.value: proxy.counts[kind] for kind in RandomFaults.kinds}
    print(f"\n{WRITES} writes, faults injected {injected}, retries {outcome.retries}")
    assert all(n > 0 for n in injected.values()), injected
    assert (len(outcome.acked), outcome.given_up) == (WRITES, set())
    assert mismatched == []
    # The change log of each table: 1..N, no gap, no duplicate, one entry per history entry
    # (the project, each flag's creation, one per request).
    assert log_errors == []
    # Every request applied exactly once: one history entry each, none twice, none lost.
    assert (applied_twice, missing) == ([], set())
