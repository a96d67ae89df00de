"""What tenant state costs where flags are served: the API snapshot and the SDK stream.

A project with ``--flags`` boolean registry flags (three environments) and ``--tenants``
tenants onboarded from the defaults, every tenth with an override, in the in-memory store
(the figures are CPU work, not DynamoDB round trips). Timed, each ``--runs`` times:

- **build**: ``ProjectSnapshot.build`` (``served_flags`` + compiling every environment),
  what a replica does on a project's first request or after a gap in the change log;
- **tenant change**: ``Snapshots`` applying one override from the change log (re-reading
  the tenant, deriving the served flags again, recompiling the flags it touches);
- **flag change**: applying one flag change in a project with tenants;
- **SDK events**: building and encoding the ``retarget`` event an override sends every SDK
  stream of an environment, and the ``snapshot`` event a connect or resume gets (sizes too).

    .venv/bin/python bench/tenants_bench.py                   # 100 flags, 1,000 tenants
    .venv/bin/python bench/tenants_bench.py --flags 20 --tenants 200 --runs 3   # a check

Prints JSON: medians and spreads in ms, the event's size in KB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ff_api.routes.sdk import change_event, snapshot_event
from ff_api.snapshots import ProjectSnapshot, Snapshots
from ff_core.models import (
    Action,
    Actor,
    ActorKind,
    EntityKind,
    Flag,
    Project,
    RegistryDefinition,
    boolean_variants,
)
from ff_core.registry import default_config
from ff_core.services import Services
from ff_core.services.writer import Change, Writer
from ff_core.store import MemoryStore

ACTOR = Actor(kind=ActorKind.LIBRARY, subject="bench")
PROJECT = "bench"


async def registry_flag(store: MemoryStore, index: int) -> None:
    """A registry flag as a sync leaves it (environments at their defaults)."""
    defaults = {"development": "on", "staging": "off", "production": "off"}
    flag = Flag(
        key=f"flag-{index:04d}",
        name=f"Flag {index}",
        variants=boolean_variants(),
        registry=RegistryDefinition(defaults=defaults),
    )
    flag = flag.replace(environments={e: default_config(flag, e, 1) for e in defaults}, version=1)

    async def plan() -> Change:
        return Change(None, flag, Action.CREATED, tuple(defaults))

    await Writer(store).apply(ACTOR, PROJECT, EntityKind.FLAG, flag.key, {}, plan)


async def timed(runs: int, work: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        took.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(took), 2),
        "min_ms": round(min(took), 2),
        "max_ms": round(max(took), 2),
    }


async def main(flags: int, tenants: int, runs: int) -> dict[str, Any]:
    store = MemoryStore()
    services = Services(store)
    await services.projects.create_project(ACTOR, Project(key=PROJECT, name="Bench"))
    for i in range(flags):
        await registry_flag(store, i)
    for t in range(tenants):
        await services.tenants.onboard(ACTOR, PROJECT, f"tenant-{t:05d}")
        if t % 10 == 0:
            await services.tenants.set_override(
                ACTOR, PROJECT, f"tenant-{t:05d}", "flag-0000", "production", "on"
            )
    state = await store.load_project(PROJECT)
    build = await timed(runs, lambda: asyncio.to_thread(ProjectSnapshot.build, state))

    snapshots = Snapshots(store, poll_interval_s=60)
    await snapshots.get(PROJECT)
    tenant_flips, flag_flips = iter(range(10**9)), iter(range(10**9))

    async def tenant_change() -> None:
        variant = "on" if next(tenant_flips) % 2 else "off"  # a write every time
        await services.tenants.set_override(
            ACTOR, PROJECT, "tenant-00001", "flag-0001", "production", variant
        )
        started = time.perf_counter()
        changes = await snapshots.refresh(PROJECT)
        tenant_apply.append((time.perf_counter() - started) * 1000)
        current = await snapshots.get(PROJECT)
        started = time.perf_counter()
        encoded = change_event(changes[-1], current, "production").encode()
        retarget_ms.append((time.perf_counter() - started) * 1000)
        retarget_kb.append(len(encoded) / 1024)

    async def flag_change() -> None:
        enabled = bool(next(flag_flips) % 2)  # starts off (the default is on): always a write
        await services.flags.set_enabled(ACTOR, PROJECT, "flag-0002", "staging", enabled)
        started = time.perf_counter()
        await snapshots.refresh(PROJECT)
        flag_apply.append((time.perf_counter() - started) * 1000)

    tenant_apply: list[float] = []
    retarget_ms: list[float] = []
    retarget_kb: list[float] = []
    flag_apply: list[float] = []
    for _ in range(runs):
        await tenant_change()
        await flag_change()
    snapshot = await snapshots.get(PROJECT)
    encoded = snapshot_event(snapshot, "production").encode()
    event = await timed(
        runs, lambda: asyncio.to_thread(lambda: snapshot_event(snapshot, "production").encode())
    )

    def summary(took: list[float]) -> dict[str, float]:
        return {
            "median_ms": round(statistics.median(took), 2),
            "min_ms": round(min(took), 2),
            "max_ms": round(max(took), 2),
        }

    return {
        "flags": flags,
        "tenants": tenants,
        "runs": runs,
        "build": build,
        "tenant_change_apply": summary(tenant_apply),
        "flag_change_apply": summary(flag_apply),
        "sdk_retarget_event": {**summary(retarget_ms), "kb": round(max(retarget_kb), 1)},
        "sdk_snapshot_event": {**event, "kb": round(len(encoded) / 1024, 1)},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=100)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.flags, args.tenants, args.runs)), indent=2))
