"""Replays every case of ``tests/cases/evaluation/*.json`` (STYLE 3).

A case file holds flags and segments for one environment, and cases: a flag key, a
context, ``now`` and the expected value, variant, reason and error code.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ff_core.evaluation import CompiledEnvironment, ErrorCode, Reason, evaluate
from ff_core.models import Flag, Operator, Segment, boolean_variants

CASES_DIR = Path(__file__).parent.parent / "cases" / "evaluation"
CASE_FILES = sorted(CASES_DIR.glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@cache
def _environment(path: Path) -> CompiledEnvironment:
    document = _load(path)
    return CompiledEnvironment(
        document["environment"],
        [Flag.model_validate(f) for f in document["flags"]],
        [Segment.model_validate(s) for s in document.get("segments", [])],
    )


def _all_cases() -> list[Any]:
    return [
        pytest.param(path, case, id=f"{path.name}:{case['name']}")
        for path in CASE_FILES
        for case in _load(path)["cases"]
    ]


def _clauses(document: dict[str, Any]) -> list[dict[str, Any]]:
    rules = [
        rule
        for flag in document["flags"]
        for config in flag.get("environments", {}).values()
        for rule in config.get("rules", [])
    ]
    rules += [rule for segment in document.get("segments", []) for rule in segment.get("rules", [])]
    return [clause for rule in rules for clause in rule["clauses"]]


ALL_CASES = _all_cases()


@pytest.mark.parametrize(("path", "case"), ALL_CASES)
def test_evaluate__json_case__matches_expected(path: Path, case: dict[str, Any]) -> None:
    env = _environment(path)

    got = evaluate(env, case["flag"], case["context"], case["now"])

    expected = case["expected"]
    assert {
        "value": got.value,
        "variant": got.variant,
        "reason": got.reason.value,
        "error_code": None if got.error_code is None else got.error_code.value,
    } == expected
    # Types too: 1 == 1.0 == True would hide a number served as a boolean.
    assert type(got.value) is type(expected["value"])
    assert got.key == case["flag"]


def test_cases__all_files__at_least_100_cases() -> None:
    assert len(ALL_CASES) >= 100


def test_cases__all_files__every_operator_used() -> None:
    used = {clause["operator"] for path in CASE_FILES for clause in _clauses(_load(path))}
    assert {op.value for op in Operator} - used == set()


def test_cases__all_files__names_unique_and_fields_known() -> None:
    reasons, codes = {r.value for r in Reason}, {c.value for c in ErrorCode} | {None}
    for path in CASE_FILES:
        document = _load(path)
        assert set(document) <= {"description", "environment", "flags", "segments", "cases"}
        names = [case["name"] for case in document["cases"]]
        assert len(names) == len(set(names)), path.name
        for case in document["cases"]:
            assert set(case) <= {"name", "flag", "context", "now", "expected", "why"}, case["name"]
            assert set(case["expected"]) == {"value", "variant", "reason", "error_code"}
            assert case["expected"]["reason"] in reasons
            assert case["expected"]["error_code"] in codes


def test_evaluate__nan_attribute__never_matches_even_negated() -> None:
    # JSON has no NaN, so this case lives here rather than in a case file.
    rules: list[dict[str, Any]] = [
        {"clauses": [{"attribute": "n", "operator": op, "values": [5]}], "serve": {"variant": "on"}}
        for op in ("neq", "not_in", "lt", "gte")
    ]
    flags = [
        Flag.model_validate(
            {
                "key": f"nan-{i}",
                "name": "nan",
                "salt": "s",
                "variants": boolean_variants(),
                "environments": {
                    "production": {
                        "enabled": True,
                        "off_variant": "off",
                        "fallthrough": {"variant": "off"},
                        "rules": [rule],
                    }
                },
            }
        )
        for i, rule in enumerate(rules)
    ]
    env = CompiledEnvironment("production", flags)

    for flag in flags:
        for context in ({"n": math.nan}, {"n": [math.nan]}):
            got = evaluate(env, flag.key, context)
            assert (got.variant, got.reason) == ("off", Reason.DEFAULT), (flag.key, context)
