"""What the API benchmarks share: moto's DynamoDB, a 50-flag project, the API in a process.

Not a benchmark itself. ``ofrep_bench.py`` and ``sse_bench.py`` import it (they run as
scripts, so this folder is first on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from eval_bench import staff_config
from moto.server import ThreadedMotoServer

from ff_core import demo
from ff_core.models import (
    Actor,
    ActorKind,
    Clause,
    EnvironmentConfig,
    Flag,
    FlagKind,
    KeyKind,
    Operator,
    Prerequisite,
    Role,
    Rollout,
    Rule,
    Serve,
    Target,
    ValueType,
    Variant,
    WeightedVariant,
    boolean_variants,
)
from ff_core.services import Services
from ff_core.settings import Settings
from ff_core.store import DynamoStore

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SECRET = "bench-key-secret-" + "x" * 32
ADMIN = Actor(kind=ActorKind.USER, subject="bench@example.com")
FLAGS = 50
# Reached by the API process only through moto on loopback; never real AWS.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
os.environ.update({k: os.environ.get(k, v) for k, v in AWS_ENV.items()})


def machine() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs"


def start_moto() -> tuple[ThreadedMotoServer, str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def _shaped(i: int) -> Flag:
    """Flag ``i`` of the 47 added to the demo's 3: six shapes in turn, as a real project has."""
    shape = i % 6
    key = f"bench-{i:02d}"
    if shape == 0:  # the representative flag: rule, else a 25 % rollout
        return demo.representative_flag(key=key, salt=f"s{i}").replace(client_visible=i % 2 == 0)
    if shape == 1:  # staff by e-mail domain, else off
        config = staff_config()
        return Flag(
            key=key, name=key, variants=boolean_variants(), environments={"production": config}
        )
    if shape == 2:  # an experiment: named targets, else a three-way split
        config = EnvironmentConfig(
            enabled=True,
            off_variant="a",
            targets=(Target(variant="c", values=tuple(f"user-{n}" for n in range(20))),),
            fallthrough=Serve(
                rollout=Rollout(
                    variants=(
                        WeightedVariant(variant="a", weight=34_000),
                        WeightedVariant(variant="b", weight=33_000),
                        WeightedVariant(variant="c", weight=33_000),
                    )
                )
            ),
        )
        return Flag(
            key=key,
            name=key,
            kind=FlagKind.EXPERIMENT,
            value_type=ValueType.STRING,
            client_visible=True,
            variants={n: Variant(value=f"variant {n}") for n in "abc"},
            environments={"production": config},
        )
    if shape == 3:  # ops: the beta segment or new app versions get the large page
        config = EnvironmentConfig(
            enabled=True,
            off_variant="small",
            rules=(
                Rule(
                    clauses=(Clause(operator=Operator.IN_SEGMENT, values=("beta",)),),
                    serve=Serve(variant="large"),
                ),
                Rule(
                    clauses=(
                        Clause(
                            attribute="app_version",
                            operator=Operator.SEMVER_GT,
                            values=("2.5.0",),
                        ),
                    ),
                    serve=Serve(variant="large"),
                ),
            ),
            fallthrough=Serve(variant="small"),
        )
        return Flag(
            key=key,
            name=key,
            kind=FlagKind.OPS,
            value_type=ValueType.NUMBER,
            variants={"small": Variant(value=20), "large": Variant(value=100)},
            environments={"production": config},
        )
    if shape == 4:  # depends on new-checkout, then half of everyone
        config = demo.representative_config().replace(
            rules=(),
            prerequisites=(Prerequisite(flag="new-checkout", variant="on"),),
            fallthrough=demo.split("on", 50_000, "off"),
        )
        return Flag(
            key=key,
            name=key,
            variants=boolean_variants(),
            client_visible=True,
            environments={"production": config},
        )
    # A JSON flag whose kill switch is off.
    return Flag(
        key=key,
        name=key,
        value_type=ValueType.JSON,
        variants={"v1": Variant(value={"limit": 10}), "v2": Variant(value={"limit": 50})},
        environments={
            "production": EnvironmentConfig(
                enabled=False, off_variant="v1", fallthrough=Serve(variant="v2")
            )
        },
    )


@dataclass
class Keys:
    server: str
    admin: str


async def seed(settings: Settings) -> Keys:
    """A fresh table: the demo project grown to 50 flags in production, and two keys."""
    async with DynamoStore.open(settings) as store:
        await store.ensure_table()
        services = Services(store, key_secret=SECRET.encode())
        await demo.seed(services)
        for i in range(FLAGS - len(demo.demo_flags())):
            await services.flags.create_flag(ADMIN, demo.DEMO_PROJECT, _shaped(i))
        access = services.access
        _, server = await access.create_key(
            ADMIN, demo.DEMO_PROJECT, KeyKind.SERVER, "bench", environment="production"
        )
        _, admin = await access.create_key(
            ADMIN, demo.DEMO_PROJECT, KeyKind.ADMIN, "bench-admin", role=Role.ADMIN
        )
        return Keys(server=server, admin=admin)


def seeded_table(endpoint: str) -> tuple[Settings, Keys]:
    settings = Settings(
        dynamodb_endpoint=endpoint, table=f"ff-bench-{uuid.uuid4().hex[:8]}", key_secret=SECRET
    )
    return settings, asyncio.run(seed(settings))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pin(pid: int, cpu: int) -> None:
    """Keep the server and the load generator off each other's core where there are two."""
    if (os.cpu_count() or 1) > 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(pid, {cpu})


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc): load elsewhere on the
    machine slows a server's wall clock, not what each request costs it."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


UVICORN_FLAGS = ["--log-level", "warning", "--no-access-log"]


@dataclass
class Served:
    url: str
    pid: int


@contextlib.contextmanager
def uvicorn_process(
    target: list[str],
    env: dict[str, str],
    *,
    cpu: int | None = None,
    ready: str = "/healthz",
    workers: int = 1,
) -> Iterator[Served]:
    """uvicorn's command line for ``<target>`` on a free loopback port, through
    ``python -m ff_api.serve`` so that ``--workers 2`` keeps TCP_NODELAY (uvicorn #3149).

    What the server logs goes to a file, summarised at the end: a load generator that stops
    mid-request makes an app log the disconnect, which would bury the figures.
    """
    port = free_port()
    command = [sys.executable, "-m", "ff_api.serve", *target, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), *UVICORN_FLAGS]
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in the finally below)
        "w+", prefix="ff-bench-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        command, env={**os.environ, **env}, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if cpu is not None:
            pin(process.pid, cpu)
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {process.returncode}: {command}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + ready, timeout=1).status_code < 500:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not answer {ready} within 30 s")
            time.sleep(0.1)
        yield Served(url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.seek(0)
        lines = log.read().splitlines()
        log.close()
        if lines:
            errors = sum("Error" in line or "error" in line for line in lines)
            print(
                f"{target[-1]} logged {len(lines)} lines ({errors} mentioning errors): {log.name}",
                file=sys.stderr,
            )
        else:
            os.unlink(log.name)


def report(figures: dict[str, Any], path: str | None) -> None:
    """A benchmark's figures on stdout as JSON, and in ``path`` too when given (``--json``)."""
    print(json.dumps(figures, indent=2))
    if path:
        with open(path, "w") as out:
            json.dump(figures, out, indent=2)


def api_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The API process's FF_* settings: the same table, endpoint and key secret."""
    env = {
        "FF_DYNAMODB_ENDPOINT": settings.dynamodb_endpoint or "",
        "FF_TABLE": settings.table,
        "FF_KEY_SECRET": SECRET,
    }
    env.update({f"FF_{k.upper()}": v for k, v in extra.items()})
    return env
