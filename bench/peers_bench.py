"""ff next to established Python SDKs, evaluating the same flag fully offline, in one run.

The representative flag (``country in [US, CA] AND plan == pro`` serves true, otherwise
a 25 % rollout by targeting key) through:

- ff's engine: ``evaluate(env, key, ctx)`` on the compiled 50-flag project, as
  ``eval_bench.py`` times it;
- ff's SDK: ``await client.is_enabled(key, ctx)`` from a 50-flag bootstrap file, as
  ``client_bench.py`` times it;
- the peers in ``bench/peers/`` (GrowthBook, Flagsmith offline, LaunchDarkly with a file
  data source, Unleash bootstrapped), each holding only this one flag.

All systems see the same 1,000 rotating contexts. Before timing, each peer is checked
against ff's engine: built with a 0 % rollout it must answer exactly ff's rule matches on
every context; built with 25 % it must serve every rule match and 25 % +/- 4 points of
the rest (hash functions differ, so not the same keys). A misconfigured peer stops the
run (exit 2). Batches are interleaved (each round runs every system once, in a rotating
order) so that drift in machine speed hits all systems alike. The whole run happens with
outbound connections refused and recorded (``peers/network.py``); any attempt fails it
(exit 3).

    .venv/bin/pip install -c constraints.txt -e '.[bench]'   # the peers
    .venv/bin/python bench/peers_bench.py                   # 200 rounds x 1,000 contexts
    .venv/bin/python bench/peers_bench.py --quick --json /tmp/peers.json

Prints the figures as JSON: per system the median ns per call and p10/p90 over batches,
on the wall clock and in thread CPU time (``cpu_*``), and the fastest peer's ratio to ff.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import importlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from client_bench import write_project_of_50
from eval_bench import contexts, project_of_50
from peers import FLAG_KEY, Peer, representative_logic
from peers.network import NetworkGuard

from ff_core.client import FlagClient
from ff_core.evaluation import CompiledEnvironment, Reason, evaluate

PEERS = {
    "growthbook": "peers.growthbook_peer",
    "flagsmith": "peers.flagsmith_peer",
    "launchdarkly": "peers.launchdarkly_peer",
    "unleash": "peers.unleash_peer",
}
ROLLOUT_TOLERANCE_POINTS = 4.0
TARGETS = {"ff_engine_ns": 1000, "ff_is_enabled_ns": 2000, "fastest_peer_over_ff": 4.0}

Batch = Callable[[], Awaitable[None]]


class Misconfigured(Exception):
    """A peer does not evaluate the same logic as ff."""


def check_peer(
    name: str,
    peer_at_0: Peer,
    peer_at_25: Peer,
    ctxs: list[dict[str, Any]],
    rule_matches: list[bool],
) -> dict[str, Any]:
    """The rule part must agree exactly; the rollout must serve about 25 % of the rest."""
    only_rule = [peer_at_0.is_on(peer_at_0.native(ctx)) for ctx in ctxs]
    wrong = [
        ctx for ctx, got, want in zip(ctxs, only_rule, rule_matches, strict=True) if got != want
    ]
    if wrong:
        raise Misconfigured(
            f"{name}: with a 0 % rollout, {len(wrong)} of {len(ctxs)} contexts disagree with "
            f"ff's rule (first: {wrong[0]})"
        )
    answers = [peer_at_25.is_on(peer_at_25.native(ctx)) for ctx in ctxs]
    missed = sum(1 for got, rule in zip(answers, rule_matches, strict=True) if rule and not got)
    if missed:
        raise Misconfigured(f"{name}: {missed} rule matches were not served true at 25 %")
    rest = [got for got, rule in zip(answers, rule_matches, strict=True) if not rule]
    share = 100 * sum(rest) / len(rest)
    if abs(share - 25) > ROLLOUT_TOLERANCE_POINTS:
        raise Misconfigured(
            f"{name}: the rollout served {share:.1f} % of the {len(rest)} contexts outside "
            f"the rule; expected 25 % +/- {ROLLOUT_TOLERANCE_POINTS:g} points"
        )
    return {"rule_agrees": True, "rollout_share_pct": round(share, 1)}


def spread(samples: list[float], prefix: str = "") -> dict[str, float]:
    deciles = statistics.quantiles(samples, n=10)
    return {
        f"{prefix}median_ns": round(statistics.median(samples), 1),
        f"{prefix}p10_ns": round(deciles[0], 1),
        f"{prefix}p90_ns": round(deciles[-1], 1),
    }


def engine_batch(env: CompiledEnvironment, ctxs: list[dict[str, Any]]) -> Batch:
    async def batch() -> None:
        for ctx in ctxs:
            evaluate(env, FLAG_KEY, ctx)

    return batch


def client_batch(client: FlagClient, ctxs: list[dict[str, Any]]) -> Batch:
    async def batch() -> None:
        is_enabled = client.is_enabled
        for ctx in ctxs:
            await is_enabled(FLAG_KEY, ctx)

    return batch


def peer_batch(peer: Peer, natives: list[Any]) -> Batch:
    async def batch() -> None:
        peer.batch(natives)

    return batch


async def time_interleaved(
    systems: dict[str, Batch], rounds: int, batch_size: int
) -> dict[str, tuple[list[float], list[float]]]:
    """ns per call of each system's batches, on the wall clock and in this thread's CPU
    time, run round-robin in a rotating order.

    The CPU time leaves out the time the thread waited for a core: on a shared machine a
    long batch (a peer's 1,000 calls take 10-50 ms) is preempted more often than ff's
    ~1 ms one, which would flatter ff on the wall clock alone.
    """
    names = list(systems)
    for name in names:  # warm-up
        await systems[name]()
    samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in names}
    gc.disable()
    try:
        for i in range(rounds):
            shift = i % len(names)
            for name in names[shift:] + names[:shift]:
                cpu = time.thread_time_ns()
                start = time.perf_counter_ns()
                await systems[name]()
                wall = time.perf_counter_ns() - start
                cpu = time.thread_time_ns() - cpu
                samples[name][0].append(wall / batch_size)
                samples[name][1].append(cpu / batch_size)
    finally:
        gc.enable()
    return samples


async def build_peers(
    keys: list[str],
    directory: Path,
    ctxs: list[dict[str, Any]],
    rule_matches: list[bool],
    opened: list[Peer],
) -> dict[str, dict[str, Any]]:
    """Build and check each peer (at 0 % and 25 %); the 25 % ones stay in ``opened``."""
    rows: dict[str, dict[str, Any]] = {}
    for key in keys:
        module = importlib.import_module(PEERS[key])
        (directory / key / "0").mkdir(parents=True)
        (directory / key / "25").mkdir()
        at_0 = module.build(representative_logic(0), directory / key / "0")
        try:
            peer = module.build(representative_logic(), directory / key / "25")
            opened.append(peer)
            checked = check_peer(peer.name, at_0, peer, ctxs, rule_matches)
        finally:
            at_0.close()
        rows[peer.name] = {"package": f"{peer.package}=={peer.version}", "call": peer.call}
        rows[peer.name].update(checked)
    return rows


async def run(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    env = project_of_50()
    ctxs = contexts(args.batch_size)
    ours = [evaluate(env, FLAG_KEY, ctx) for ctx in ctxs]
    rule_matches = [r.reason is Reason.TARGETING_MATCH for r in ours]
    rest = [r.value is True for r, rule in zip(ours, rule_matches, strict=True) if not rule]

    path50 = directory / "flags-50.json"
    write_project_of_50(path50)
    client = await FlagClient.connect(bootstrap=path50)
    for ctx in ctxs:
        await client.is_enabled(FLAG_KEY, ctx)
    await asyncio.sleep(0.5)  # the background load replaces the lazy snapshot
    if [await client.is_enabled(FLAG_KEY, ctx) for ctx in ctxs] != [r.value for r in ours]:
        raise Misconfigured("ff's SDK disagrees with ff's engine on the bootstrap file")

    rows: dict[str, dict[str, Any]] = {
        "ff engine": {
            "package": "ff",
            "call": "evaluate(env, key, ctx)",
            "rollout_share_pct": round(100 * sum(rest) / len(rest), 1),
        },
        "ff is_enabled": {"package": "ff", "call": "await client.is_enabled(key, ctx)"},
    }
    systems: dict[str, Batch] = {
        "ff engine": engine_batch(env, ctxs),
        "ff is_enabled": client_batch(client, ctxs),
    }
    opened: list[Peer] = []
    try:
        rows.update(await build_peers(args.peers, directory, ctxs, rule_matches, opened))
        for peer in opened:
            systems[peer.name] = peer_batch(peer, [peer.native(ctx) for ctx in ctxs])
        samples = await time_interleaved(systems, args.rounds, args.batch_size)
    finally:
        for peer in opened:
            peer.close()
        await client.close()

    for name, row in rows.items():
        wall, cpu = samples[name]
        row.update(spread(wall))
        row.update(spread(cpu, "cpu_"))
    result: dict[str, Any] = {
        "benchmark": "representative flag: ff vs established Python SDKs, offline, interleaved",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "calls_per_system": args.rounds * args.batch_size,
        "contexts": args.batch_size,
        "rule_share": round(sum(rule_matches) / len(ctxs), 3),
        "systems": rows,
        "targets": TARGETS,
    }
    rows["ff engine"]["target"] = f"<= {TARGETS['ff_engine_ns']:,} ns"
    rows["ff is_enabled"]["target"] = f"<= {TARGETS['ff_is_enabled_ns']:,} ns"
    peer_names = [peer.name for peer in opened]
    # Ratios in thread CPU time are the headline: they do not flatter ff when the machine
    # is shared (see time_interleaved); the wall-clock ones follow under wall_*.
    for prefix, column in (("", "cpu_median_ns"), ("wall_", "median_ns")) if peer_names else ():
        fastest = min(peer_names, key=lambda name: float(rows[name][column]))
        result[f"{prefix}fastest_peer"] = fastest
        for suffix, ff in (("", "ff engine"), ("_is_enabled", "ff is_enabled")):
            ratio = rows[fastest][column] / rows[ff][column]
            result[f"{prefix}fastest_peer_over_ff{suffix}"] = round(ratio, 2)
    result["ratio_basis"] = "thread CPU time per call (wall-clock ratios: wall_*)"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="20 rounds: a check, not a figure")
    parser.add_argument(
        "--peers", default=",".join(PEERS), help=f"comma-separated, from: {', '.join(PEERS)}"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    args.peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in args.peers if p not in PEERS]
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    if args.quick:
        args.rounds = 20
    try:
        with NetworkGuard() as guard, tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(run(args, Path(tmp)))
    except Misconfigured as exc:
        print(f"peers_bench: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except ModuleNotFoundError as exc:
        print(
            f"peers_bench: {exc.name} is not installed; install the peers with "
            "`.venv/bin/pip install -c constraints.txt -e '.[bench]'`",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    if guard.attempts:
        print(f"peers_bench: network attempted: {guard.attempts[:5]}", file=sys.stderr)
        raise SystemExit(3)
    result["network_attempts"] = 0
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    result["python"] = sys.version.split()[0]
    result["machine"] = f"{platform.machine()} {platform.processor() or ''}".strip()
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
