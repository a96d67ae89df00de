"""Warm evaluation of the representative flag through the public evaluation function.

The flag (ff_core.demo.representative_flag): boolean, one rule ``country in [US, CA] AND
plan == pro`` serving true, otherwise a 25 % rollout by targeting key; in a project of 50
flags. Contexts rotate over 1,000 keys and a mix of countries and plans, so the rule
matches for some and the rollout hashes for the rest.

    .venv/bin/python bench/eval_bench.py            # 200 batches x 1,000 evaluations

Prints the median ns per evaluation (and p10/p90 over batches) as JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time

from ff_core.demo import representative_config, representative_flag
from ff_core.evaluation import CompiledEnvironment, evaluate
from ff_core.models import Clause, EnvironmentConfig, Operator, Rule, Serve


def staff_config() -> EnvironmentConfig:
    """E-mail addresses at example.com get ``on``, everyone else ``off``."""
    return EnvironmentConfig(
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


def project_of_50() -> CompiledEnvironment:
    flags = [representative_flag()]
    for i in range(49):
        config = representative_config() if i % 2 else staff_config()
        flags.append(
            representative_flag(key=f"flag-{i:02d}", salt=f"s{i}").replace(
                environments={"production": config}
            )
        )
    return CompiledEnvironment("production", flags)


def contexts(n: int = 1000) -> list[dict[str, object]]:
    countries, plans = ["US", "CA", "DE", "FR", "BR"], ["pro", "free", "team"]
    return [
        {"targeting_key": f"user-{i}", "country": countries[i % 5], "plan": plans[i % 3]}
        for i in range(n)
    ]


def run(batches: int, batch_size: int) -> dict[str, object]:
    env = project_of_50()
    ctxs = contexts(batch_size)
    key = "new-checkout"
    for ctx in ctxs:  # warm up: caches, branch predictors, the allocator
        evaluate(env, key, ctx)
    per_eval: list[float] = []
    on = 0
    gc.disable()
    try:
        for _ in range(batches):
            start = time.perf_counter_ns()
            for ctx in ctxs:
                evaluate(env, key, ctx)
            per_eval.append((time.perf_counter_ns() - start) / batch_size)
    finally:
        gc.enable()
    on = sum(evaluate(env, key, ctx).value is True for ctx in ctxs)
    deciles = statistics.quantiles(per_eval, n=10)
    return {
        "benchmark": "evaluate(representative flag, 50-flag project)",
        "evaluations": batches * batch_size,
        "median_ns": round(statistics.median(per_eval), 1),
        "p10_ns": round(deciles[0], 1),
        "p90_ns": round(deciles[-1], 1),
        "share_on": round(on / batch_size, 3),
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args()
    result = run(args.batches, args.batch_size)
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)


if __name__ == "__main__":
    main()
