"""Every benchmark in one run, and the results table in bench/README.md.

    .venv/bin/python bench/run_all.py            # the full suite (about 25 minutes)
    .venv/bin/python bench/run_all.py --quick    # a smoke run of each (a few minutes)
    .venv/bin/python bench/run_all.py --only ofrep sse

Each benchmark runs as its own process with ``--json``; its figures land in
``bench/results/<name>.json`` and its headline rows in the table between the
``results:start`` and ``results:end`` markers of bench/README.md, with the machine, the
versions, the load average before and after each run, and the command that produced it.
A benchmark that fails is reported in the table as failed; the others still run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
README = BENCH / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

Row = tuple[str, str, str, str]  # what, figure, spread or detail, target


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    rows: Callable[[dict[str, Any]], list[Row]]


def _ns(value: float) -> str:
    return f"{value:,.0f} ns"


def _ms(value: float) -> str:
    return f"{value:,.1f} ms"


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def peers_rows(data: dict[str, Any]) -> list[Row]:
    # Thread CPU time per call: on a shared machine a peer's longer batches are preempted
    # more often than ff's, so wall-clock ratios would flatter ff (bench/peers_bench.py).
    rows: list[Row] = []
    for name, figures in data["systems"].items():
        rows.append(
            (
                f"evaluation in process: {name}",
                _ns(figures["cpu_median_ns"]),
                f"p10 {_ns(figures['cpu_p10_ns'])}, p90 {_ns(figures['cpu_p90_ns'])} (CPU time)",
                figures.get("target", ""),
            )
        )
    for suffix, ff in (("", "ff engine"), ("_is_enabled", "ff is_enabled")):
        ratio = data[f"fastest_peer_over_ff{suffix}"]
        rows.append(
            (
                f"fastest peer ({data['fastest_peer']}) / {ff}",
                f"{ratio:.1f}x",
                "same run, interleaved batches",
                f">= 4x: {_met(ratio >= 4)}",
            )
        )
    return rows


def scale_rows(data: dict[str, Any]) -> list[Row]:
    flags = data["seed"]["flags"]
    load, memory, page = data["snapshot_load"], data["memory"], data["dashboard_first_page"]
    after = data["dashboard_after_change"]
    return [
        (
            f"{flags:,}-flag project: API snapshot load (Snapshots.get)",
            f"{load['snapshots_get_cpu']['median_ms'] / 1000:.2f} s CPU",
            f"{load['snapshots_get']['median_ms'] / 1000:.1f} s wall (moto scans the table"
            " for every Query page)",
            "",
        ),
        (
            f"{flags:,}-flag project: memory the snapshot keeps",
            f"{memory['tracemalloc_retained_mb']:.0f} MB",
            f"{memory['per_flag_kb']:.1f} KB per flag; RSS +{memory['rss_growth_mb']:.0f} MB",
            "",
        ),
        (
            f"{flags:,}-flag project: dashboard flag list, first page (server)",
            f"{page['total_cpu']['median_ms'] / 1000:.2f} s CPU",
            f"build_rows {_ms(page['build_rows']['median_ms'])}, first-page query "
            f"{_ms(page['query']['median_ms'])}; {page['total']['median_ms'] / 1000:.1f} s wall",
            "",
        ),
        (
            f"{flags:,}-flag project: open flags page after one change elsewhere",
            f"{after['total_cpu']['median_ms'] / 1000:.2f} s CPU",
            "change log + the changed flag + usage + build_rows; "
            f"{after['total']['median_ms'] / 1000:.1f} s wall",
            "",
        ),
    ]


def ofrep_rows(data: dict[str, Any]) -> list[Row]:
    median, ratios = data["median"], data["ratios"]
    names = {
        "trivial": "trivial Starlette endpoint",
        "bulk": "OFREP bulk, 50 flags, 100 repeating contexts",
        "bulk_unique": "OFREP bulk, 50 flags, every context new",
        "single": "OFREP single flag",
    }
    rows: list[Row] = []
    for name, label in names.items():
        figures = median[name]
        detail = f"p50 {_ms(figures['p50_ms'])}, p99 {_ms(figures['p99_ms'])}"
        target = ""
        if name != "trivial":
            ratio = ratios[name]
            low, high = ratio["range"]
            detail += f"; ratio {ratio['median']:.2f} (rounds {low:.2f}-{high:.2f})"
            if name == "bulk":
                target = f"ratio >= 0.5: {_met(ratio['median'] >= 0.5)}; p99 <= 20 ms: " + _met(
                    figures["p99_ms"] <= 20
                )
        rows.append((label, f"{figures['rps']:,.0f} req/s", detail, target))
    scaling = data.get("two_workers")
    if scaling:
        one, two = scaling["1_worker"], scaling["2_worker"]
        rows.append(
            (
                "OFREP bulk, 2 workers / 1 worker",
                f"{scaling['bulk_speedup']:.2f}x",
                f"{one['bulk']['rps']:,.0f} -> {two['bulk']['rps']:,.0f} req/s, p99 "
                f"{two['bulk']['p99_ms']:.1f} ms (trivial {one['trivial']['rps']:,.0f} -> "
                f"{two['trivial']['rps']:,.0f}); unpinned, wrk shares the 2 cores",
                "",
            )
        )
    return rows


def eval_rows(data: dict[str, Any]) -> list[Row]:
    return [
        (
            "engine alone: representative flag",
            _ns(data["median_ns"]),
            f"p10 {_ns(data['p10_ns'])}, p90 {_ns(data['p90_ns'])}",
            f"<= 1,000 ns: {_met(data['median_ns'] <= 1000)}",
        )
    ]


def sse_rows(data: dict[str, Any]) -> list[Row]:
    subscribers = data.get("subscribers") or data.get("config", {}).get("subscribers")
    if "other_last_subscriber_from_commit_ms" in data:
        other = data["other_last_subscriber_from_commit_ms"]
        writer = data["writing_replica_last_subscriber_from_commit_ms"]
        return [
            (
                "SSE, two replicas: last subscriber of the other replica, from commit",
                f"p99 {_ms(other['p99'])}",
                f"p50 {_ms(other['p50'])}; writing replica p99 {_ms(writer['p99'])}",
                data["target"],
            )
        ]
    last = data["last_subscriber_from_commit_ms"]
    memory = data["idle_memory"]["kb_per_idle_subscriber"]
    target = ""
    if subscribers == 10_000:
        target = f"p99 <= 250 ms: {_met(last['p99'] <= 250)}; <= 20 KB: {_met(memory <= 20)}"
    return [
        (
            f"SSE, {subscribers:,} subscribers: last one, from commit",
            f"p99 {_ms(last['p99'])}",
            f"p50 {_ms(last['p50'])}, max {_ms(last['max'])}; API "
            f"{data['cpu_ms_per_write']['api']:.0f} ms CPU a write; {memory:.0f} KB per idle "
            f"subscriber; {data['duplicates']} duplicates, {data.get('missing', 0)} missing",
            target,
        )
    ]


def floor_rows(data: dict[str, Any]) -> list[Row]:
    last = data["last_subscriber_from_first_write_ms"]
    return [
        (
            f"the floor: bare asyncio writes of one {data['event_bytes']:,} B event to "
            f"{data['subscribers']:,} connections (no HTTP, no ASGI)",
            f"p99 {_ms(last['p99'])}",
            f"p50 {_ms(last['p50'])}; {data['server_cpu_ms_per_write']:.0f} ms CPU a write "
            f"({data['server_cpu_us_per_stream']:.1f} µs a connection)",
            "",
        )
    ]


def worst_case_rows(data: dict[str, Any]) -> list[Row]:
    return [
        (
            f"worst-case evaluation: {r['scenario']} ({r['rules']} rules, {r['flag_bytes']:,} B)",
            f"max {r['max_ms']:.2f} ms",
            f"median {r['median_ms']:.2f} ms over {r['runs']} runs",
            f"<= {data['target_ms']} ms: {_met(r['within_target'])}",
        )
        for r in data["results"]
    ]


def ratelimit_rows(data: dict[str, Any]) -> list[Row]:
    on, off = data["limit_on"], data.get("limit_off")
    detail = f"quiet p99 {_ms(on['p99_ms']['without_noise'])} -> {_ms(on['p99_ms']['with_noise'])}"
    if off:
        detail += f"; limit off: {off['p99_ratio']:.2f}"
    return [
        (
            "one noisy key: the others' p99, noise / no noise",
            f"{on['p99_ratio']:.2f}",
            detail,
            f"<= 1.2: {_met(on['p99_ratio'] <= 1.2)}",
        )
    ]


BENCHES = [
    Bench("eval", "eval_bench.py", (), ("--batches", "20"), eval_rows),
    Bench("peers", "peers_bench.py", (), ("--quick",), peers_rows),
    Bench("ofrep", "ofrep_bench.py", (), ("--quick", "--no-scaling"), ofrep_rows),
    Bench("scale", "scale_bench.py", ("--runs", "1"), ("--quick",), scale_rows),
    Bench("sse_1k", "sse_bench.py", (), ("--quick",), sse_rows),
    Bench(
        "sse_10k",
        "sse_bench.py",
        ("--subscribers", "10000", "--writes", "30"),
        ("--quick",),
        sse_rows,
    ),
    Bench(
        "sse_floor", "fanout_floor.py", (), ("--subscribers", "1000", "--writes", "10"), floor_rows
    ),
    Bench(
        "sse_replicas",
        "sse_bench.py",
        ("--replicas", "2", "--writes", "30"),
        ("--replicas", "2", "--quick"),
        sse_rows,
    ),
    Bench("worst_case", "worst_case_bench.py", (), ("--runs", "5"), worst_case_rows),
    Bench("ratelimit", "ratelimit_bench.py", (), ("--cycles", "4"), ratelimit_rows),
]


def versions() -> str:
    wanted = ["starlette", "uvicorn", "sse-starlette", "orjson", "pydantic", "aioboto3", "moto"]
    found = []
    for package in wanted:
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def run(bench: Bench, quick: bool) -> tuple[list[Row], str]:
    out = RESULTS / f"{bench.name}.json"
    out.unlink(missing_ok=True)
    args = list(bench.quick if quick else bench.full)
    command = [sys.executable, str(BENCH / bench.script), *args, "--json", str(out)]
    shown = " ".join(["python", f"bench/{bench.script}", *args])
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    print(f"== {bench.name}: {shown}", file=sys.stderr, flush=True)
    process = subprocess.run(command, cwd=REPO, check=False)
    took = time.monotonic() - started
    note = f"`{shown}`, {took:.0f} s, load {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    if process.returncode != 0 or not out.exists():
        return [(bench.name, "failed", f"exit {process.returncode}", "")], note
    return bench.rows(json.loads(out.read_text())), note


def table(results: dict[str, tuple[list[Row], str]], quick: bool) -> str:
    today = dt.date.today().isoformat()
    lines = [
        START,
        f"Last full run: {today}{' (quick: smoke figures, not the record)' if quick else ''}; "
        f"{machine()}; {versions()}. Produced by `python bench/run_all.py`.",
        "",
        "| benchmark | what | figure | spread / detail | target |",
        "|---|---|---|---|---|",
    ]
    for name, (rows, _) in results.items():
        for what, figure, detail, target in rows:
            lines.append(f"| {name} | {what} | {figure} | {detail} | {target} |")
    lines += ["", "Runs:", ""]
    lines += [f"- {name}: {note}" for name, (_, note) in results.items()]
    lines.append(END)
    return "\n".join(lines)


def write_table(text: str) -> None:
    readme = README.read_text()
    if START in readme and END in readme:
        head, rest = readme.split(START, 1)
        _, tail = rest.split(END, 1)
        README.write_text(head + text + tail)
    else:
        README.write_text(readme.rstrip() + "\n\n## Results\n\n" + text + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run of each")
    parser.add_argument("--only", nargs="*", help="these benchmarks only (by name)")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    chosen = [b for b in BENCHES if not args.only or b.name in args.only]
    results = {bench.name: run(bench, args.quick) for bench in chosen}
    text = table(results, args.quick)
    print(text)
    if not args.no_write and not args.only:
        write_table(text)
    return 0 if all(rows[0][1] != "failed" for rows, _ in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
