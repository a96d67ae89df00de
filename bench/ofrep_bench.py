"""OFREP bulk evaluation of a 50-flag environment on one uvicorn worker, next to a trivial
Starlette JSON endpoint served by the same stack in the same run.

Both run as ``python -m uvicorn ... --workers 1 --log-level warning --no-access-log``
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
TRIVIAL_PATH = "/json"


def wrk(
    server: stack.Served, path: str, key: str | None, duration: int, connections: int
) -> dict[str, Any]:
    """One wrk run; also what the server process spent in CPU on it (requests per CPU-s)."""
    url = server.url
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s"]
    command += ["-s", str(WRK_SCRIPT), url, "--", path, *([key] if key else [])]
    cpu_before = stack.cpu_seconds(server.pid)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    stack.pin(process.pid, 0)
    out, _ = process.communicate()
    cpu = stack.cpu_seconds(server.pid) - cpu_before
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {out}")
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    data: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    if any(data["errors"].values()):
        raise RuntimeError(f"wrk saw errors against {path}: {data['errors']}")
    seconds = data["duration_us"] / 1e6
    return {
        "rps": round(data["requests"] / seconds, 1),
        "per_cpu_s": round(data["requests"] / cpu, 1),
        "server_cpu": round(cpu / seconds, 2),
        "p50_ms": data["p50_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "requests": data["requests"],
    }


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
    print(json.dumps(wrk(api, OFREP_PATH, key, args.duration - 2, args.connections)))
    return sampler.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="instead of measuring, sample the API under load with py-spy into FILE "
        "(collapsed stacks for speedscope or flamegraph.pl; needs `.venv/bin/pip install py-spy`)",
    )
    args = parser.parse_args()
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
        env = stack.api_env(settings)
        with (
            stack.uvicorn_process(["--factory", "ff_api.app:create_app"], env, cpu=1) as api,
            stack.uvicorn_process(
                ["--app-dir", str(stack.BENCH_DIR), "trivial_app:app"], env, cpu=1
            ) as trivial,
        ):
            size = check(api.url, keys.server)
            # Warm both (the API's snapshot and key cache; both interpreters' code paths).
            wrk(api, OFREP_PATH, keys.server, 2, args.connections)
            wrk(trivial, TRIVIAL_PATH, None, 2, args.connections)
            if args.profile:
                return profile(api, keys.server, args)
            rounds = []
            for n in range(args.rounds):
                base = wrk(trivial, TRIVIAL_PATH, None, args.duration, args.connections)
                ofrep = wrk(api, OFREP_PATH, keys.server, args.duration, args.connections)
                ratio = round(ofrep["rps"] / base["rps"], 3)
                cpu_ratio = round(ofrep["per_cpu_s"] / base["per_cpu_s"], 3)
                rounds.append(
                    {"trivial": base, "ofrep": ofrep, "ratio": ratio, "cpu_ratio": cpu_ratio}
                )
                print(json.dumps({"round": n + 1, **rounds[-1]}), flush=True)
                time.sleep(1)
    finally:
        moto.stop()

    def median(target: str, field: str) -> float:
        return round(statistics.median(r[target][field] for r in rounds), 3)

    summary = {
        "machine": stack.machine(),
        "flags": stack.FLAGS,
        "ofrep_response_bytes": size,
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "median": {
            target: {f: median(target, f) for f in ("rps", "p50_ms", "p99_ms", "per_cpu_s")}
            for target in ("trivial", "ofrep")
        },
        "ratio_median": statistics.median(r["ratio"] for r in rounds),
        "ratio_range": [min(r["ratio"] for r in rounds), max(r["ratio"] for r in rounds)],
        # The same ratio per CPU-second of the server: what load elsewhere cannot move.
        "cpu_ratio_median": statistics.median(r["cpu_ratio"] for r in rounds),
        "target": ">= 0.5",
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
