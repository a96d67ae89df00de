"""Worst-case evaluation: the costliest flag the limits allow, against the costliest context.

Issue 9 point 8 asks for <= 10 ms per evaluation of the largest allowed flag, regexes
included. Each scenario builds a flag that stays within every limit of ff_core.limits
(validated by the model, and at most MAX_FLAG_BYTES serialised, as the store enforces),
compiles it once, and times warm evaluations with a context of the largest strings the
engine still looks at (MAX_MATCHED_STRING_LENGTH):

- ``rules``: as many rules x clauses as fit; every clause of a rule matches but its last,
  so each evaluation runs every clause of every rule, then the fallthrough.
- ``regex-scan``: as many 256-character ``matches`` clauses as fit, each a pattern that
  backtracks a little at every position of a 4,096-character attribute (linear, but
  with a large constant), all failing.
- ``regex-nested``: one short pattern with a nested quantifier, ``^(a+)+$``, against
  ``"a" * n + "!"``: Python's ``re`` backtracks exponentially in n.

    .venv/bin/python bench/worst_case_bench.py --json /tmp/worst.json

Prints, per scenario, the flag's size, clause count and median / max ms per evaluation.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from ff_core import limits
from ff_core.evaluation import CompiledEnvironment, evaluate
from ff_core.models import Flag

TARGET_MS = 10.0
LONG = limits.MAX_MATCHED_STRING_LENGTH


def flag_of(rules: list[dict[str, Any]]) -> Flag:
    return Flag.model_validate(
        {
            "key": "worst",
            "name": "Worst case",
            "variants": {"on": {"value": True}, "off": {"value": False}},
            "environments": {
                "production": {
                    "enabled": True,
                    "off_variant": "off",
                    "fallthrough": {"variant": "off"},
                    "rules": rules,
                }
            },
        }
    )


def largest(clause: Callable[[int, bool], dict[str, Any]]) -> Flag:
    """The most rules x clauses (last clause of each rule failing) within every limit: the
    byte limit, and for regexes ``limits.MAX_REGEXES``."""
    rules: list[dict[str, Any]] = []
    best = flag_of([{"clauses": [clause(0, False)], "serve": {"variant": "on"}}])
    last = limits.MAX_CLAUSES_PER_RULE - 1
    for _ in range(limits.MAX_RULES_PER_ENVIRONMENT):
        clauses = [clause(c, c < last) for c in range(limits.MAX_CLAUSES_PER_RULE)]
        while clauses:
            try:
                candidate = flag_of([*rules, {"clauses": clauses, "serve": {"variant": "on"}}])
            except ValidationError:  # over a count limit (limits.MAX_REGEXES)
                candidate = None
            if candidate is not None and len(candidate.model_dump_json()) <= limits.MAX_FLAG_BYTES:
                break
            clauses = [*clauses[:-2], clauses[-1]]  # drop a matching one, keep the failing
        if not clauses:
            break
        rules.append({"clauses": clauses, "serve": {"variant": "on"}})
        best = flag_of(rules)
        if len(clauses) < limits.MAX_CLAUSES_PER_RULE:
            break  # the byte limit is reached
    return best


def plain_clause(index: int, matching: bool) -> dict[str, Any]:
    # `contains` scans the attribute for each value: the costliest plain operator. The
    # matching clauses match on their last value, after scanning for the others.
    values = [f"absent-{index}-{v}" for v in range(3)] + (["op"] if matching else [])
    return {"attribute": "text", "operator": "contains", "values": values}


# Tried at every position of the attribute, 40 characters deep; the matching clauses match
# at its very end (``p$``), so they scan all of it too.
SCAN = "[a-p]{40}q"


def regex_clause(index: int, matching: bool) -> dict[str, Any]:
    tail = "|p$" if matching else f"|x{index}"
    pattern = (SCAN + "|y" * 100)[: limits.MAX_REGEX_LENGTH - len(tail)] + tail
    return {"attribute": "text", "operator": "matches", "values": [pattern]}


def time_ms(env: CompiledEnvironment, context: dict[str, Any], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        evaluate(env, "worst", context, now=0.0)
        out.append((time.perf_counter() - started) * 1000)
    return out


def scenario(name: str, flag: Flag, context: dict[str, Any], runs: int) -> dict[str, Any]:
    env = CompiledEnvironment("production", [flag])
    result = evaluate(env, "worst", context, now=0.0)
    config = flag.environments["production"]
    timings = time_ms(env, context, runs)
    return {
        "scenario": name,
        "flag_bytes": len(flag.model_dump_json()),
        "rules": len(config.rules),
        "clauses": sum(len(r.clauses) for r in config.rules),
        "reason": result.reason.value,
        "runs": runs,
        "median_ms": round(statistics.median(timings), 3),
        "max_ms": round(max(timings), 3),
        "within_target": max(timings) <= TARGET_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--nested", type=int, default=22, help="n in 'a' * n + '!'")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()

    text = ("abcdefghijklmnop" * (LONG // 16 + 1))[:LONG]  # every character class hit, no 'q'
    results = [
        scenario("rules", largest(plain_clause), {"targeting_key": "u", "text": text}, args.runs),
        scenario(
            "regex-scan",
            largest(regex_clause),
            {"targeting_key": "u", "text": text},
            max(1, args.runs // 10),
        ),
        scenario(
            "regex-nested",
            flag_of(
                [
                    {
                        "clauses": [
                            {"attribute": "text", "operator": "matches", "values": ["^(a+)+$"]}
                        ],
                        "serve": {"variant": "on"},
                    }
                ]
            ),
            {"targeting_key": "u", "text": "a" * args.nested + "!"},
            3,
        ),
    ]
    report = {
        "bench": "worst_case",
        "target_ms": TARGET_MS,
        "python": platform.python_version(),
        "results": results,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    sys.exit(0)


if __name__ == "__main__":
    main()
