"""Registry sync: how long `ff registry sync` takes for a file of N flags.

A first sync writes one audited transaction per flag (plus one for the project); a second
sync of the same file writes nothing and costs one project read. Runs on the in-memory
store (ff's own cost) and on moto's DynamoDB server (moto copies its table on every
transaction, so its per-write time grows with the table; real DynamoDB's does not).

    .venv/bin/python bench/registry_bench.py --flags 100 300 --store memory moto
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from moto.server import ThreadedMotoServer

from ff_core import registry
from ff_core.models import Actor, ActorKind, Project
from ff_core.services import Services
from ff_core.settings import Settings
from ff_core.store import DynamoStore, MemoryStore, Store

ACTOR = Actor(kind=ActorKind.SYSTEM, subject="registry-bench")


def registry_text(flags: int) -> str:
    return "".join(
        f'[flags.flag-{i:05d}]\ndescription = "flag {i}"\n'
        'default = { production = false, "*" = true }\n'
        for i in range(flags)
    )


@asynccontextmanager
async def open_store(kind: str, endpoint: str | None) -> AsyncIterator[Store]:
    if kind == "memory":
        yield MemoryStore()
        return
    settings = Settings(dynamodb_endpoint=endpoint, table=f"ff-bench-{uuid.uuid4().hex[:8]}")
    async with DynamoStore.open(settings, credentials=("testing", "testing")) as store:
        await store.ensure_table()
        yield store


async def run(kind: str, flags: int, endpoint: str | None) -> None:
    async with open_store(kind, endpoint) as store:
        services = Services(store)
        await services.projects.create_project(ACTOR, Project(key="bench", name="Bench"))
        parsed = registry.parse(registry_text(flags))
        started = time.perf_counter()
        first = await services.registry.sync(ACTOR, "bench", parsed)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        second = await services.registry.sync(ACTOR, "bench", parsed)
        second_s = time.perf_counter() - started
    print(
        f"{kind:6} {flags:6} flags: first sync {first.written} writes in {first_s:.2f} s "
        f"({first_s / first.written * 1000:.1f} ms/write); second {second.written} writes "
        f"in {second_s:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, nargs="+", default=[100])
    parser.add_argument("--store", nargs="+", choices=["memory", "moto"], default=["memory"])
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    server = None
    endpoint = None
    if "moto" in args.store:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
    try:
        for kind in args.store:
            for flags in args.flags:
                asyncio.run(run(kind, flags, endpoint))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
