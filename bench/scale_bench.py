"""A 10,000-flag project in DynamoDB (moto's server): snapshot load, memory, dashboard page.

The project is written to moto's DynamoDB server (``ThreadedMotoServer``, in a child
process so its CPU and memory stay out of the figures, as a real table's would): the
project, its owner and the first ``--through-services`` flags through the audited
services (one TransactWriteItems each), the rest as the same encoded items in concurrent
BatchWriteItem calls (history and change log are other partitions; loading never reads
them), and usage counts for every third flag. Flags are ``admin_list_bench.flags``: a mix
of kinds, tags, rules, targets and rollouts in production and staging, a fifth archived.

Then, against that table:

- **snapshot load**, as the API does it on a project's first request:
  ``Snapshots(store, ...).get(project)`` = ``store.load_project`` (one paged Query of the
  project's partition, every item validated) + ``ProjectSnapshot.build`` (one
  ``CompiledEnvironment`` per environment); both parts timed separately too;
- **memory** a loaded snapshot keeps: tracemalloc (Python allocations still held after a
  full collection) and the process's RSS growth;
- **the dashboard's flags page**, server side, as ``FlagsState.load`` runs it: the
  member's role, the change counter, ``list_flags`` (the whole project), the usage
  Query, ``build_rows`` and the first page's query (50 rows); no browser.

    .venv/bin/python bench/scale_bench.py            # 10,000 flags, 5 runs of each
    .venv/bin/python bench/scale_bench.py --quick    # 2,000 flags, 2 runs: a check

Prints JSON (``--json PATH`` also writes it): medians and spreads in ms, store requests
per step, MB retained.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any, cast

from admin_list_bench import ENVIRONMENT, flags

from ff_admin.logic import flag_list
from ff_admin.projects import ProjectFlags
from ff_api.snapshots import Snapshots
from ff_core.models import Actor, ActorKind, EntityKind, Member, Project, Role, UsageDelta
from ff_core.services import Services
from ff_core.settings import Settings
from ff_core.store import DynamoStore, ProjectState, Store
from ff_core.store import items as it

PROJECT = "scale"
OWNER = "owner@example.com"
ACTOR = Actor(kind=ActorKind.USER, subject="bench", email=OWNER)
CREDENTIALS = ("testing", "testing")


# -- moto in a child process ---------------------------------------------------------------


def _serve_moto(conn: Connection) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    conn.send(f"http://{host}:{port}")
    conn.recv()  # until the parent says stop (or goes away)
    server.stop()


@contextmanager
def moto_server() -> Iterator[str]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve_moto, args=(child,), daemon=True)
    process.start()
    try:
        if not parent.poll(60):
            raise SystemExit("scale_bench: moto's server did not start within 60 s")
        yield str(parent.recv())
    finally:
        parent.send("stop")
        process.join(10)
        if process.is_alive():
            process.terminate()


# -- measuring -----------------------------------------------------------------------------


class Requests:
    """Counts the DynamoDB operations a step sends (botocore's before-call event)."""

    def __init__(self, store: DynamoStore) -> None:
        self.counts: Counter[str] = Counter()
        # The store keeps its aiobotocore client private; a benchmark may look inside.
        store._client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1

    def take(self) -> dict[str, int]:
        taken = dict(self.counts)
        self.counts.clear()
        return taken


def spread_ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1e3, 1),
        "min_ms": round(ordered[0] * 1e3, 1),
        "max_ms": round(ordered[-1] * 1e3, 1),
    }


def progress(message: str) -> None:
    print(f"scale_bench: {message}", file=sys.stderr, flush=True)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- seeding -------------------------------------------------------------------------------


async def seed(store: DynamoStore, n: int, through_services: int) -> dict[str, Any]:
    services = Services(store)
    started = time.perf_counter()
    await services.projects.create_project(ACTOR, Project(key=PROJECT, name="Scale"))
    await store.save_member(
        Member(
            project=PROJECT,
            email=OWNER,
            role=Role.OWNER,
            added_by="bench",
            added_at=datetime.datetime.now(datetime.UTC),
        )
    )
    made = flags(n)
    service_start = time.perf_counter()
    for flag in made[:through_services]:
        await services.flags.create_flag(ACTOR, PROJECT, flag)
    service_s = time.perf_counter() - service_start
    items = [it.encode_entity(PROJECT, EntityKind.FLAG, f) for f in made[through_services:]]
    chunks = [items[i : i + 500] for i in range(0, len(items), 500)]
    bulk_start = time.perf_counter()
    await asyncio.gather(*(store.load_items(chunk) for chunk in chunks))
    bulk_s = time.perf_counter() - bulk_start
    now = datetime.datetime.now(datetime.UTC)
    gate = asyncio.Semaphore(16)

    async def use(i: int) -> None:
        async with gate:
            delta = UsageDelta(count=i % 500 + 1, last=now - datetime.timedelta(minutes=i))
            await store.record_usage(PROJECT, made[i].key, {ENVIRONMENT: delta})

    await asyncio.gather(*(use(i) for i in range(0, n, 3)))
    return {
        "flags": n,
        "through_services": through_services,
        "service_write_ms": round(service_s / max(through_services, 1) * 1e3, 1),
        "bulk_items_per_s": round(len(items) / bulk_s) if items else None,
        "usage_items": len(range(0, n, 3)),
        "seed_s": round(time.perf_counter() - started, 1),
    }


# -- the three measurements ----------------------------------------------------------------


class TimedStore:
    """The store as ``Snapshots`` sees it, timing each ``load_project`` (wall and CPU)."""

    def __init__(self, store: DynamoStore) -> None:
        self._store = store
        self.load_s: list[tuple[float, float]] = []

    async def load_project(self, project: str) -> ProjectState:
        wall, cpu = time.perf_counter(), time.process_time()
        state = await self._store.load_project(project)
        self.load_s.append((time.perf_counter() - wall, time.process_time() - cpu))
        return state

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def snapshot_load(store: DynamoStore, runs: int, requests: Requests) -> dict[str, Any]:
    """``Snapshots.get`` on a fresh ``Snapshots`` (the API's first request for a project),
    split into the store's ``load_project`` and ``ProjectSnapshot.build``."""
    timed_store = TimedStore(store)
    total: list[tuple[float, float]] = []
    envs: dict[str, int] = {}
    sent: dict[str, int] = {}
    for _ in range(runs):  # seeding has warmed botocore and the connection pool up
        gc.collect()
        requests.take()
        wall, cpu = time.perf_counter(), time.process_time()
        snapshot = await Snapshots(cast("Store", timed_store), poll_interval_s=1.0).get(PROJECT)
        total.append((time.perf_counter() - wall, time.process_time() - cpu))
        sent = requests.take()
        envs = {k: len(e.flags) for k, e in snapshot.environments.items()}
        del snapshot
        progress(f"snapshot load {total[-1][0]:.1f} s")
    loads = timed_store.load_s
    return {
        "environments": envs,
        "requests": sent,
        "snapshots_get": spread_ms([w for w, _ in total]),
        "snapshots_get_cpu": spread_ms([c for _, c in total]),
        "load_project": spread_ms([w for w, _ in loads]),
        "load_project_cpu": spread_ms([c for _, c in loads]),
        "build": spread_ms([t[0] - load[0] for t, load in zip(total, loads, strict=True)]),
    }


async def _measure_memory(endpoint: str, table: str) -> dict[str, Any]:
    settings = Settings(dynamodb_endpoint=endpoint, table=table, read_timeout_s=60)
    async with DynamoStore.open(settings, credentials=CREDENTIALS) as store:
        await store.get_seq(PROJECT)  # botocore's models and the connection, before measuring
        gc.collect()
        before = rss_bytes()
        kept = await Snapshots(store, poll_interval_s=1.0).get(PROJECT)
        gc.collect()
        rss_growth = rss_bytes() - before
        del kept
        gc.collect()
        tracemalloc.start()
        try:
            baseline = tracemalloc.take_snapshot()
            kept = await Snapshots(store, poll_interval_s=1.0).get(PROJECT)
            gc.collect()
            stats = tracemalloc.take_snapshot().compare_to(baseline, "filename")
        finally:
            tracemalloc.stop()
    retained = sum(s.size_diff for s in stats)
    top = {
        s.traceback[0].filename.split("site-packages/")[-1].removeprefix(os.getcwd() + "/"): (
            round(s.size_diff / 1e6, 1)
        )
        for s in sorted(stats, key=lambda s: s.size_diff, reverse=True)[:4]
    }
    return {
        "tracemalloc_retained_mb": round(retained / 1e6, 1),
        "per_flag_kb": round(retained / len(kept.state.flags) / 1e3, 1),
        "by_allocating_file_mb": top,
        "rss_growth_mb": round(rss_growth / 1e6, 1),
    }


def _memory_child(endpoint: str, table: str, conn: Connection) -> None:
    conn.send(asyncio.run(_measure_memory(endpoint, table)))


def memory(endpoint: str, table: str) -> dict[str, Any]:
    """What a loaded snapshot keeps, in a fresh process (so that freed seeding and timing
    garbage cannot hide the growth): RSS growth first, untraced; then tracemalloc."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_memory_child, args=(endpoint, table, child))
    process.start()
    result: dict[str, Any] = parent.recv()
    process.join()
    return result


async def dashboard_page(store: DynamoStore, runs: int, requests: Requests) -> dict[str, Any]:
    """``FlagsState.load`` -> ``_reload`` -> ``_show`` for a first visit (no filters)."""
    services = Services(store)
    steps: dict[str, list[float]] = {
        k: []
        for k in ("role", "seq", "list_flags", "usage", "build_rows", "query", "total", "total_cpu")
    }
    per_step_requests: dict[str, dict[str, int]] = {}
    rows_shown = listed = 0
    for _ in range(runs):
        gc.collect()
        requests.take()
        cpu = time.process_time()
        t0 = time.perf_counter()
        role = await services.access.role_of(PROJECT, OWNER)
        t1 = time.perf_counter()
        per_step_requests["role"] = requests.take()
        await store.get_seq(PROJECT)
        t2 = time.perf_counter()
        per_step_requests["seq"] = requests.take()
        now = datetime.datetime.now(datetime.UTC)
        all_flags = await ProjectFlags(store).flags(PROJECT)  # a fresh process: read whole
        t3 = time.perf_counter()
        per_step_requests["list_flags"] = requests.take()
        usage = {u.flag: u for u in await store.get_usage(PROJECT, now=now)}
        t4 = time.perf_counter()
        per_step_requests["usage"] = requests.take()
        rows = flag_list.build_rows(all_flags, ENVIRONMENT, usage, now)
        t5 = time.perf_counter()
        page = flag_list.query(rows, flag_list.parse_query({}))
        t6 = time.perf_counter()
        steps["total_cpu"].append(time.process_time() - cpu)
        if role is not Role.OWNER:
            raise SystemExit(f"scale_bench: the owner's role reads as {role}")
        rows_shown, listed = len(page.rows), page.total
        for name, a, b in (
            ("role", t0, t1),
            ("seq", t1, t2),
            ("list_flags", t2, t3),
            ("usage", t3, t4),
            ("build_rows", t4, t5),
            ("query", t5, t6),
            ("total", t0, t6),
        ):
            steps[name].append(b - a)
        progress(f"dashboard page {t6 - t0:.1f} s")
    return {
        "rows_shown": rows_shown,
        "flags_listed": listed,
        "usage_rows": len(usage),
        **{name: spread_ms(samples) for name, samples in steps.items()},
        "requests": per_step_requests,
    }


async def dashboard_after_change(store: DynamoStore, runs: int) -> dict[str, Any]:
    """A reload of an open flags page after one flag changed elsewhere: the kept project
    (ff_admin/projects.py) reads the change log and that flag, then the rows are rebuilt."""
    services = Services(store)
    kept = ProjectFlags(store)
    await kept.flags(PROJECT)
    changed = flags(2)[1].key  # written through the services when seeded, not archived
    wall: list[float] = []
    cpu: list[float] = []
    for i in range(runs):
        await services.flags.set_enabled_in(ACTOR, PROJECT, changed, [ENVIRONMENT] if i % 2 else [])
        gc.collect()
        started, started_cpu = time.perf_counter(), time.process_time()
        listed = await kept.flags(PROJECT)
        now = datetime.datetime.now(datetime.UTC)
        usage = {u.flag: u for u in await store.get_usage(PROJECT, now=now)}
        rows = flag_list.build_rows(listed, ENVIRONMENT, usage, now)
        flag_list.query(rows, flag_list.parse_query({}))
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        progress(f"reload after a change {wall[-1]:.2f} s")
    return {"total": spread_ms(wall), "total_cpu": spread_ms(cpu)}


async def run(args: argparse.Namespace, endpoint: str) -> dict[str, Any]:
    # moto answers a Query page by scanning the whole table (and every earlier page again):
    # seconds per page at 10,000 flags, past the store's 5 s default read timeout.
    settings = Settings(
        dynamodb_endpoint=endpoint,
        table=f"ff-scale-{uuid.uuid4().hex[:8]}",
        read_timeout_s=60,
    )
    async with DynamoStore.open(settings, credentials=CREDENTIALS) as store:
        await store.ensure_table()
        seeded = await seed(store, args.flags, args.through_services)
        progress(f"seeded: {seeded}")
        requests = Requests(store)
        return {
            "seed": seeded,
            "snapshot_load": await snapshot_load(store, args.runs, requests),
            "memory": await asyncio.to_thread(memory, endpoint, settings.table),
            "dashboard_first_page": await dashboard_page(store, args.runs, requests),
            "dashboard_after_change": await dashboard_after_change(store, args.runs),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--flags", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--through-services", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="2,000 flags, 2 runs: a check")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.quick:
        args.flags, args.runs, args.through_services = 2_000, 2, 50
    with moto_server() as endpoint:
        figures = asyncio.run(run(args, endpoint))
    result = {
        "benchmark": f"a {args.flags:,}-flag project on moto's DynamoDB server",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": args.runs,
        **figures,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    text = json.dumps(result, indent=2)
    if args.json:
        with open(args.json, "w") as out:
            out.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
