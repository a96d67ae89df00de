"""The SDK: warm ``await client.is_enabled(...)``, cold start from a bootstrap file, and a
10,000-flag project's load time and memory.

- warm: the representative flag in the 50-flag project of ``eval_bench.py``, the same
  1,000 rotating contexts, timed as ``await client.is_enabled(key, ctx)`` inside a
  coroutine (the await, usage counting and the clock read included), 200 batches x 1,000.
  The engine alone (``evaluate``) is timed in the same run, interleaved, as a baseline.
- cold: a fresh client from a 50-flag bootstrap file to its first answer
  (``await FlagClient.connect(bootstrap=...)`` + one ``is_enabled``), in-process after
  imports (repeated, median), and once per fresh interpreter (imports excluded, timed
  from just before ``connect``); plus when the whole snapshot is in (background load).
- large: 10,000 flags (the representative flag and a one-rule flag, alternating): file
  size, full load (parse + validate + compile), memory the snapshot keeps (tracemalloc),
  and a client's first answer from that file.

    .venv/bin/python bench/client_bench.py            # prints JSON
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from eval_bench import contexts, project_of_50

from ff_core.client import FlagClient
from ff_core.client.snapshot import Snapshot, parse_document, read_document
from ff_core.demo import representative_config, representative_flag
from ff_core.evaluation import evaluate
from ff_core.models import Clause, EnvironmentConfig, Operator, Rule, Serve

KEY = "new-checkout"
NA_PRO = {"targeting_key": "user-1", "country": "US", "plan": "pro"}


def write_project_of_50(path: Path) -> None:
    env = project_of_50()
    flags = [compiled.flag for compiled in env.flags.values()]
    path.write_bytes(Snapshot.build("bench", "production", 1, flags, []).dump())


def project_of(n: int) -> Snapshot:
    other = EnvironmentConfig(
        enabled=True,
        off_variant="off",
        rules=(
            Rule(
                clauses=(
                    Clause(
                        attribute="email", operator=Operator.ENDS_WITH, values=("@example.com",)
                    ),
                ),
                serve=Serve(variant="on"),
            ),
        ),
        fallthrough=Serve(variant="off"),
    )
    template = representative_flag()
    flags = [template] + [
        template.replace(
            key=f"flag-{i:05d}",
            salt=f"s{i}",
            environments={"production": representative_config() if i % 2 else other},
        )
        for i in range(n - 1)
    ]
    return Snapshot.build("bench", "production", 1, flags, [])


def spread(samples: list[float]) -> dict[str, float]:
    deciles = statistics.quantiles(samples, n=10)
    return {
        "median": round(statistics.median(samples), 1),
        "p10": round(deciles[0], 1),
        "p90": round(deciles[-1], 1),
    }


async def warm(path: Path, batches: int, batch_size: int) -> dict[str, Any]:
    client = await FlagClient.connect(bootstrap=path)
    ctxs = contexts(batch_size)
    for ctx in ctxs:  # warm up, and let the background load replace the lazy one
        await client.is_enabled(KEY, ctx)
    await asyncio.sleep(0.5)
    env = client._env
    assert len(env.flags) == 50, "the full snapshot is in"
    sdk: list[float] = []
    engine: list[float] = []
    gc.disable()
    try:
        for _ in range(batches):
            start = time.perf_counter_ns()
            for ctx in ctxs:
                await client.is_enabled(KEY, ctx)
            sdk.append((time.perf_counter_ns() - start) / batch_size)
            start = time.perf_counter_ns()
            for ctx in ctxs:
                evaluate(env, KEY, ctx)
            engine.append((time.perf_counter_ns() - start) / batch_size)
    finally:
        gc.enable()
    on = [await client.is_enabled(KEY, ctx) for ctx in ctxs]
    await client.close()
    sdk_spread, engine_spread = spread(sdk), spread(engine)
    return {
        "evaluations": batches * batch_size,
        "is_enabled_ns": sdk_spread,
        "engine_evaluate_ns": engine_spread,
        "sdk_overhead_ns": round(sdk_spread["median"] - engine_spread["median"], 1),
        "share_on": round(sum(on) / batch_size, 3),
    }


async def cold_once(path: Path) -> tuple[float, float]:
    """Seconds to the first answer, and to the whole snapshot being in."""
    start = time.perf_counter()
    client = await FlagClient.connect(bootstrap=path)
    answer = await client.is_enabled(KEY, NA_PRO)
    first = time.perf_counter() - start
    assert client._completion is not None
    await client._completion  # the background build of the whole snapshot
    full = time.perf_counter() - start
    await client.close()
    assert answer is True
    return first, full


async def cold(path: Path, repeats: int) -> dict[str, Any]:
    firsts, fulls = [], []
    for _ in range(repeats):
        first, full = await cold_once(path)
        firsts.append(first * 1e6)
        fulls.append(full * 1e6)
    return {"first_answer_us": spread(firsts), "full_snapshot_us": spread(fulls)}


def cold_processes(path: Path, processes: int) -> dict[str, Any]:
    bench = Path(__file__).resolve().parent
    code = (
        f"import asyncio, sys, json, time; sys.path.insert(0, {str(bench)!r});"
        "t = time.perf_counter(); import ff_core.client; imported = time.perf_counter() - t;"
        "from client_bench import cold_once;"
        f"first, full = asyncio.run(cold_once(__import__('pathlib').Path({str(path)!r})));"
        "print(json.dumps([imported, first, full]))"
    )
    runs = []
    for _ in range(processes):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=bench.parent,
        ).stdout
        runs.append(json.loads(out))
    return {
        "processes": processes,
        "import_ff_core_client_ms": round(statistics.median(r[0] for r in runs) * 1e3, 1),
        "first_answer_us": round(statistics.median(r[1] for r in runs) * 1e6, 1),
        "full_snapshot_us": round(statistics.median(r[2] for r in runs) * 1e6, 1),
    }


async def large(n: int, directory: Path) -> dict[str, Any]:
    path = directory / f"flags-{n}.json"
    path.write_bytes(project_of(n).dump())
    raw = path.read_bytes()
    gc.collect()
    start = time.perf_counter()
    snapshot = parse_document(read_document(raw))
    load_s = time.perf_counter() - start
    assert len(snapshot.flags) == n
    del snapshot
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = parse_document(read_document(path.read_bytes()))
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    retained = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert len(kept.flags) == n
    del kept
    gc.collect()
    first, full = await cold_once(path)
    return {
        "flags": n,
        "file_mb": round(len(raw) / 1e6, 1),
        "full_load_s": round(load_s, 2),
        "retained_mb": round(retained / 1e6, 1),
        "client_first_answer_ms": round(first * 1e3, 1),
        "client_full_snapshot_s": round(full, 2),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        path50 = directory / "flags-50.json"
        write_project_of_50(path50)
        result: dict[str, Any] = {
            "benchmark": "ff_core.client (representative flag; 50-flag bootstrap; 10,000 flags)",
            "warm": await warm(path50, args.batches, args.batch_size),
            "cold_in_process": await cold(path50, args.repeats),
            "cold_fresh_interpreter": cold_processes(path50, args.processes),
            "large": await large(args.large, directory),
            "python": sys.version.split()[0],
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
