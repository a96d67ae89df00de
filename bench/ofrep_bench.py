"""OFREP bulk evaluation of a 50-flag environment on one uvicorn worker, next to a trivial
Starlette JSON endpoint served by the same stack in the same run.

Both run as ``python -m ff_api.serve ... --workers 1 --log-level warning --no-access-log``
(the same flags, the same interpreter and event loop), each on its own process pinned to
CPU 1; wrk (one thread, 64 connections) runs pinned to CPU 0 and POSTs
``{"context": {...}}`` bodies rotating over 100 contexts (bench/ofrep.lua) to each in
turn, several rounds alternating. The API reads moto's DynamoDB server (started here),
holding the demo project grown to 50 production flags with rules, rollouts, targets, a
segment, a prerequisite and a disabled flag (bench/stack.py).

    apt-get install -y wrk      # the load generator; not a Python dependency
    .venv/bin/python bench/ofrep_bench.py                    # 3 rounds x 10 s each
    .venv/bin/python bench/ofrep_bench.py --rounds 5 --duration 20

Prints one line per round, then the medians and the ratio (OFREP requests/s / trivial
requests/s) as JSON; also per CPU-second of the server process (from /proc), which load
elsewhere on the machine cannot move. What the API logs goes to a file named at the end
(wrk cutting connections mid-request at the end of a run makes it log disconnects).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx
import stack

WRK_SCRIPT = stack.BENCH_DIR / "ofrep.lua"
OFREP_PATH = "/ofrep/v1/evaluate/flags"
SINGLE_PATH = "/ofrep/v1/evaluate/flags/new-checkout"
# The limiter stays in the path, with a limit this one key never reaches.
BENCH_SETTINGS = {"rate_limit_per_key_rps": "1000000", "rate_limit_burst": "1000000"}
TRIVIAL_PATH = "/json"


def wrk(
    server: stack.Served,
    path: str,
    key: str | None,
    duration: int,
    connections: int,
    contexts: str = "repeat",
    *,
    cpu: bool = True,
) -> dict[str, Any]:
    """One wrk run; also what the server process spent in CPU on it (requests per CPU-s).

    ``cpu=False`` for a server with several worker processes: /proc counts a worker's CPU
    in its parent only once it exits.
    """
    url = server.url
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s"]
    command += ["-s", str(WRK_SCRIPT), url, "--", path, key or "-", contexts]
    cpu_before = stack.cpu_seconds(server.pid)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    stack.pin(process.pid, 0)
    out, _ = process.communicate()
    spent = stack.cpu_seconds(server.pid) - cpu_before
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {out}")
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    data: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    if any(data["errors"].values()):
        raise RuntimeError(f"wrk saw errors against {path}: {data['errors']}")
    seconds = data["duration_us"] / 1e6
    figures = {
        "rps": round(data["requests"] / seconds, 1),
        "p50_ms": data["p50_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "requests": data["requests"],
    }
    if cpu:
        figures["per_cpu_s"] = round(data["requests"] / spent, 1)
        figures["server_cpu"] = round(spent / seconds, 2)
    return figures


def check(api: str, key: str) -> int:
    """The OFREP answer is what it should be before it is measured; returns its size."""
    body = {"context": {"targetingKey": "user-1", "country": "US", "plan": "pro"}}
    response = httpx.post(
        api + OFREP_PATH, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    response.raise_for_status()
    flags = response.json()["flags"]
    if len(flags) != stack.FLAGS or any("errorCode" in f for f in flags):
        raise RuntimeError(f"unexpected OFREP answer: {len(flags)} flags")
    return len(response.content)


def profile(api: stack.Served, key: str, args: argparse.Namespace) -> int:
    """Where one worker's time goes under the same load (py-spy samples the API process)."""
    spy = shutil.which("py-spy") or str(stack.REPO / ".venv/bin/py-spy")
    command = [spy, "record", "--pid", str(api.pid), "--duration", str(args.duration)]
    command += ["--rate", "250", "--format", "raw", "--output", args.profile]
    sampler = subprocess.Popen(command)
    stack.pin(sampler.pid, 0)
    time.sleep(1)
    contexts = args.profile_contexts
    print(json.dumps(wrk(api, OFREP_PATH, key, args.duration - 2, args.connections, contexts)))
    return sampler.wait()


# What each round measures: (name, server, path, contexts).
TARGETS = [
    ("trivial", "trivial", TRIVIAL_PATH, "repeat"),
    ("bulk", "api", OFREP_PATH, "repeat"),
    ("bulk_unique", "api", OFREP_PATH, "unique"),
    ("single", "api", SINGLE_PATH, "repeat"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="1 round of 5 s: a smoke run")
    parser.add_argument("--json", metavar="FILE", help="also write the summary to FILE")
    parser.add_argument(
        "--no-scaling", action="store_true", help="skip the 2-worker run of the bulk route"
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="instead of measuring, sample the API under load with py-spy into FILE "
        "(collapsed stacks for speedscope or flamegraph.pl; needs `.venv/bin/pip install py-spy`)",
    )
    parser.add_argument(
        "--profile-contexts",
        choices=["repeat", "unique"],
        default="repeat",
        help="with --profile: 100 repeating contexts, or a new one per request",
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration = 1, 5
    if shutil.which("wrk") is None:
        print(
            "error: wrk not found; it is the load generator of this benchmark, not a Python "
            "dependency. Install it with `apt-get install -y wrk` (as root) and run again.",
            file=sys.stderr,
        )
        return 2

    moto, endpoint = stack.start_moto()
    try:
        settings, keys = stack.seeded_table(endpoint)
        env = stack.api_env(settings, **BENCH_SETTINGS)
        with (
            stack.uvicorn_process(["--factory", "ff_api.app:serving_app"], env, cpu=1) as api,
            stack.uvicorn_process(
                ["--app-dir", str(stack.BENCH_DIR), "trivial_app:app"], env, cpu=1
            ) as trivial,
        ):
            size = check(api.url, keys.server)
            servers = {"api": api, "trivial": trivial}
            # Warm both (the API's snapshot and key cache; both interpreters' code paths).
            for _, server, path, contexts in TARGETS:
                key = keys.server if server == "api" else None
                wrk(servers[server], path, key, 2, args.connections, contexts)
            if args.profile:
                return profile(api, keys.server, args)
            rounds = []
            for n in range(args.rounds):
                measured = {}
                for name, server, path, contexts in TARGETS:
                    key = keys.server if server == "api" else None
                    measured[name] = wrk(
                        servers[server], path, key, args.duration, args.connections, contexts
                    )
                rounds.append(measured)
                print(json.dumps({"round": n + 1, **measured}), flush=True)
                time.sleep(1)
        scaling = None if args.no_scaling else two_workers(env, keys.server, args)
    finally:
        moto.stop()

    summary = {
        "machine": stack.machine(),
        "flags": stack.FLAGS,
        "ofrep_response_bytes": size,
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "median": {
            name: {
                field: round(statistics.median(r[name][field] for r in rounds), 3)
                for field in ("rps", "p50_ms", "p99_ms", "per_cpu_s")
            }
            for name, *_ in TARGETS
        },
        # Each route's requests/s over the trivial endpoint's in the same round, and the
        # same per CPU-second of the server (what load elsewhere on the machine cannot move).
        "ratios": {
            name: {
                "median": statistics.median(_ratio(r, name, "rps") for r in rounds),
                "range": [
                    min(_ratio(r, name, "rps") for r in rounds),
                    max(_ratio(r, name, "rps") for r in rounds),
                ],
                "per_cpu_s_median": statistics.median(_ratio(r, name, "per_cpu_s") for r in rounds),
            }
            for name, *_ in TARGETS[1:]
        },
        "two_workers": scaling,
        "targets": {"bulk ratio": ">= 0.5", "p99": "<= 20 ms"},
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(summary, out, indent=2)
    return 0


def _ratio(round_: dict[str, dict[str, Any]], name: str, field: str) -> float:
    return round(round_[name][field] / round_["trivial"][field], 3)


def two_workers(env: dict[str, str], key: str, args: argparse.Namespace) -> dict[str, Any]:
    """The bulk route and the trivial endpoint with 1 and then 2 worker processes, unpinned.

    This machine has two cores and wrk needs one of them, so two workers cannot double the
    throughput here: the figure shows what a second core gives with the load generator on
    the same machine.
    """
    out: dict[str, Any] = {}
    for workers in (1, 2):
        with (
            stack.uvicorn_process(
                ["--factory", "ff_api.app:serving_app"], env, workers=workers
            ) as api,
            stack.uvicorn_process(
                ["--app-dir", str(stack.BENCH_DIR), "trivial_app:app"], env, workers=workers
            ) as trivial,
        ):
            wrk(api, OFREP_PATH, key, 2, args.connections, cpu=False)  # warm-up
            bulk = wrk(api, OFREP_PATH, key, args.duration, args.connections, cpu=False)
            base = wrk(trivial, TRIVIAL_PATH, None, args.duration, args.connections, cpu=False)
        out[f"{workers}_worker"] = {"bulk": bulk, "trivial": base}
        print(json.dumps({"workers": workers, "bulk": bulk, "trivial": base}), flush=True)
    out["bulk_speedup"] = round(out["2_worker"]["bulk"]["rps"] / out["1_worker"]["bulk"]["rps"], 2)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
