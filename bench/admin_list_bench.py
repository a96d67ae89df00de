"""The dashboard's flags list over 10,000 flags: building the rows, and one query.

Flags are generated with the real models: a mix of kinds, tags, rules, targets and
rollouts, a fifth archived, usage for two thirds of them. ``build_rows`` turns them into
the list's rows for one environment; a query then searches ("ch"), filters (enabled,
temporary), sorts (by evaluations, descending) and takes one page of 50 — what each
keystroke in the search box costs the dashboard's server.

    .venv/bin/python bench/admin_list_bench.py            # 20 runs of each

Prints the median, p10 and p90 milliseconds of each as JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from ff_admin.logic.flag_list import FlagQuery, build_rows, query
from ff_core.models import (
    Clause,
    EnvironmentConfig,
    EnvironmentUsage,
    Flag,
    FlagKind,
    FlagUsage,
    Operator,
    Rollout,
    Rule,
    Serve,
    Target,
    WeightedVariant,
    boolean_variants,
)

NOW = datetime(2030, 6, 1, tzinfo=UTC)
ENVIRONMENT = "production"
WORDS = ["checkout", "search", "banner", "pricing", "onboarding", "export", "billing", "chat"]
TAGS = ["web", "mobile", "payments", "growth", "infra", "beta", "q3", "team-a", "team-b"]
KINDS = list(FlagKind)


def config(i: int) -> EnvironmentConfig:
    rules = tuple(
        Rule(
            clauses=(Clause(attribute="country", operator=Operator.IN, values=("US", "CA")),),
            serve=Serve(variant="on"),
        )
        for _ in range(i % 3)
    )
    targets = (Target(variant="on", values=(f"user-{i}",)),) if i % 4 == 0 else ()
    fallthrough = (
        Serve(
            rollout=Rollout(
                variants=(
                    WeightedVariant(variant="on", weight=(i % 100) * 1000),
                    WeightedVariant(variant="off", weight=(100 - i % 100) * 1000),
                )
            )
        )
        if i % 2
        else Serve(variant="on")
    )
    return EnvironmentConfig(
        enabled=i % 3 != 0,
        off_variant="off",
        rules=rules,
        targets=targets,
        fallthrough=fallthrough,
        version=i % 7,
    )


def flags(n: int) -> list[Flag]:
    made = []
    for i in range(n):
        word = WORDS[i % len(WORDS)]
        made.append(
            Flag(
                key=f"{word}-{i:05d}",
                name=f"{word.capitalize()} experiment {i}",
                tags=(TAGS[i % len(TAGS)], TAGS[(i * 7) % len(TAGS)]),
                kind=KINDS[i % len(KINDS)],
                temporary=i % 3 != 1,
                variants=boolean_variants(),
                salt=f"s{i}",
                environments={ENVIRONMENT: config(i), "staging": config(i + 1)},
                archived=i % 5 == 0,
                version=i % 11 + 1,
                created_at=NOW - timedelta(days=i % 60),
                updated_at=NOW - timedelta(minutes=i),
            )
        )
    return made


def usage(all_flags: list[Flag]) -> dict[str, FlagUsage]:
    today = NOW.date()
    result = {}
    for i, flag in enumerate(all_flags):
        if i % 3 == 0:
            continue
        last = NOW - timedelta(days=i % 20)
        daily: dict[date, int] = {today - timedelta(days=d): i % 500 + d for d in range(i % 5)}
        env = EnvironmentUsage.build(i * 10, last, daily, NOW)
        result[flag.key] = FlagUsage.build("bench", flag.key, {ENVIRONMENT: env})
    return result


def timed(runs: int, work: Callable[[], object]) -> dict[str, float]:
    work()  # warm up
    samples = []
    gc.disable()
    try:
        for _ in range(runs):
            start = time.perf_counter_ns()
            work()
            samples.append((time.perf_counter_ns() - start) / 1e6)
            gc.collect()
    finally:
        gc.enable()
    deciles = statistics.quantiles(samples, n=10)
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p10_ms": round(deciles[0], 2),
        "p90_ms": round(deciles[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flags", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    all_flags = flags(args.flags)
    all_usage = usage(all_flags)
    rows = build_rows(all_flags, ENVIRONMENT, all_usage, NOW)
    q = FlagQuery(
        search="ch",
        status="enabled",
        lifecycle="temporary",
        sort="evaluations",
        descending=True,
        page=2,
    )
    page = query(rows, q)
    unfiltered = FlagQuery(sort="name")
    print(
        json.dumps(
            {
                "flags": args.flags,
                "runs": args.runs,
                "python": sys.version.split()[0],
                "machine": platform.machine(),
                "matching": page.total,
                "build_rows": timed(
                    args.runs, lambda: build_rows(all_flags, ENVIRONMENT, all_usage, NOW)
                ),
                "query_search_filter_sort_page": timed(args.runs, lambda: query(rows, q)),
                "query_sort_by_name_only": timed(args.runs, lambda: query(rows, unfiltered)),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
