"""Properties of the engine (DESIGN 3): sticky, monotonic, fair bucketing; never raising;
flags compiled once."""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import os
import re
import sys
from collections.abc import Iterator, Mapping
from fractions import Fraction
from hashlib import sha1
from types import FrameType
from typing import Any

import pydantic
import pydantic_core
import pytest
import semver
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ff_core import limits
from ff_core.bucketing import BUCKET_MAX, bucket, bucket_hash, digest_threshold
from ff_core.evaluation import CompiledEnvironment, ErrorCode, Reason, evaluate, evaluate_each
from ff_core.models import Flag, Operator, Segment, boolean_variants

BOUNDED = settings(max_examples=200, deadline=None)

flag_keys = st.from_regex(limits.FLAG_KEY_PATTERN, fullmatch=True)
salts = st.text(min_size=1, max_size=64)
bucket_values = st.text(min_size=1, max_size=40) | st.integers().map(str)


def _literal_hash(salt: str, flag_key: str, value: str) -> int:
    """DESIGN 3, written out as the design writes it."""
    return int(sha1(f"{salt}.{flag_key}.{value}".encode()).hexdigest()[:15], 16)


def _rollout_flag(key: str, salt: str, weights: list[int]) -> Flag:
    variants = {f"v{i}": {"value": f"v{i}"} for i in range(len(weights))}
    rollout = {"variants": [{"variant": f"v{i}", "weight": w} for i, w in enumerate(weights)]}
    return Flag.model_validate(
        {
            "key": key,
            "name": key,
            "salt": salt,
            "value_type": "string",
            "variants": variants,
            "environments": {
                "production": {
                    "enabled": True,
                    "off_variant": "v0",
                    "fallthrough": {"rollout": rollout},
                }
            },
        }
    )


@st.composite
def weight_lists(draw: st.DrawFn, min_size: int = 2, max_size: int = 5) -> list[int]:
    """Weights in thousandths of a percent adding up to 100,000."""
    size = draw(st.integers(min_size, max_size))
    cuts = sorted(
        draw(st.lists(st.integers(0, limits.ROLLOUT_TOTAL), min_size=size - 1, max_size=size - 1))
    )
    edges = [0, *cuts, limits.ROLLOUT_TOTAL]
    return [b - a for a, b in itertools.pairwise(edges)]


# (a) monotonic


@BOUNDED
@given(
    key=flag_keys,
    salt=salts,
    weights=weight_lists(),
    raise_by=st.integers(0, limits.ROLLOUT_TOTAL),
    users=st.lists(bucket_values, min_size=1, max_size=30, unique=True),
)
def test_rollout__first_weight_raised__keeps_everyone_who_was_in(
    key: str, salt: str, weights: list[int], raise_by: int, users: list[str]
) -> None:
    # The extra weight for the first variant is taken from the later ones, last first.
    raised, give = list(weights), min(raise_by, limits.ROLLOUT_TOTAL - weights[0])
    raised[0] += give
    for i in range(len(raised) - 1, 0, -1):
        taken = min(give, raised[i])
        raised[i] -= taken
        give -= taken
    before = CompiledEnvironment("production", [_rollout_flag(key, salt, weights)])
    after = CompiledEnvironment("production", [_rollout_flag(key, salt, raised)])

    for user in users:
        if evaluate(before, key, {"targeting_key": user}).variant == "v0":
            assert evaluate(after, key, {"targeting_key": user}).variant == "v0", user


# (b) fair


@settings(max_examples=3, deadline=None)
@given(salt=salts)
def test_rollout__25_percent_over_100000_keys__within_one_point(salt: str) -> None:
    env = CompiledEnvironment("production", [_rollout_flag("pct", salt, [25_000, 75_000])])

    served = sum(
        evaluate(env, "pct", {"targeting_key": f"user-{i}"}).variant == "v0" for i in range(100_000)
    )

    assert 24_000 <= served <= 26_000


# (d) the DESIGN formula


@BOUNDED
@given(salt=salts, key=flag_keys, value=bucket_values)
def test_bucket__random_inputs__equals_design_formula(salt: str, key: str, value: str) -> None:
    h = _literal_hash(salt, key, value)

    assert bucket_hash(salt, key, value) == h
    assert bucket(salt, key, value) == h / 0xFFFFFFFFFFFFFFF
    assert 0.0 <= bucket(salt, key, value) <= 1.0


@BOUNDED
@given(
    cumulative=st.integers(min_value=0, max_value=limits.ROLLOUT_TOTAL),
    near=st.integers(min_value=-2, max_value=2),
    h=st.integers(min_value=0, max_value=BUCKET_MAX),
    low=st.integers(min_value=0, max_value=(1 << 100) - 1),
    pick_edge=st.booleans(),
)
def test_digest_threshold__any_digest__same_answer_as_the_design_comparison(
    cumulative: int, near: int, h: int, low: int, pick_edge: bool
) -> None:
    # The engine compares whole digests with thresholds; DESIGN 3 compares h * TOTAL with
    # cumulative * BUCKET_MAX. Half the examples sit within 2 of the range's edge.
    bound = cumulative * BUCKET_MAX
    if pick_edge:
        h = min(max(bound // limits.ROLLOUT_TOTAL + near, 0), BUCKET_MAX)
    digest = (h << 100) | low  # any 160-bit digest whose top 60 bits are h

    assert (digest < digest_threshold(bound, limits.ROLLOUT_TOTAL)) == (
        h * limits.ROLLOUT_TOTAL < bound
    )


@BOUNDED
@given(
    salt=salts,
    key=flag_keys,
    weights=weight_lists(min_size=1, max_size=6),
    value=st.text(min_size=1, max_size=40) | st.integers(),
)
def test_evaluate__rollout__picks_the_range_of_the_design_bucket(
    salt: str, key: str, weights: list[int], value: str | int
) -> None:
    env = CompiledEnvironment("production", [_rollout_flag(key, salt, weights)])
    # Exact arithmetic: variants take consecutive ranges [start, start + weight) of 100 %.
    b = Fraction(_literal_hash(salt, key, str(value)), BUCKET_MAX)
    cumulative, expected = 0, None
    for i, weight in enumerate(weights):
        cumulative += weight
        if weight and b < Fraction(cumulative, limits.ROLLOUT_TOTAL):
            expected = f"v{i}"
            break
    if expected is None:  # b == 1: the last range that has any weight
        expected = f"v{max(i for i, w in enumerate(weights) if w)}"

    got = evaluate(env, key, {"targeting_key": value})

    assert (got.variant, got.reason) == (expected, Reason.SPLIT)


# (c) never raises

ATTRIBUTES = ["a", "n", "s", "v", "d", "tags", "targeting_key", "tenant", "$now"]

CLAUSE_VALUES: dict[Operator, list[Any]] = {
    Operator.EQ: ["x", 1, True, 2.5],
    Operator.NEQ: ["x", 1],
    Operator.IN: ["x", "y"],
    Operator.NOT_IN: [0, False],
    Operator.CONTAINS: ["x"],
    Operator.NOT_CONTAINS: ["y"],
    Operator.STARTS_WITH: ["a"],
    Operator.ENDS_WITH: ["z"],
    Operator.MATCHES: ["^a.*z$", "(x|y)+"],
    Operator.GT: [0],
    Operator.GTE: [1.5],
    Operator.LT: [10**30],
    Operator.LTE: [-1],
    Operator.SEMVER_EQ: ["1.2.3"],
    Operator.SEMVER_GT: ["1.0.0-alpha"],
    Operator.SEMVER_LT: ["v2"],
    Operator.BEFORE: ["2024-01-01T00:00:00Z"],
    Operator.AFTER: [1_700_000_000],
    Operator.EXISTS: [],
    Operator.IN_SEGMENT: ["seg"],
}


def _clause(op: Operator, attribute: str, negate: bool) -> dict[str, Any]:
    clause: dict[str, Any] = {"operator": op.value, "values": CLAUSE_VALUES[op], "negate": negate}
    if op is not Operator.IN_SEGMENT:
        clause["attribute"] = attribute
    return clause


def _every_operator_environment() -> CompiledEnvironment:
    flags = []
    for n, op in enumerate(Operator):
        for negate in (False, True):
            attribute = ATTRIBUTES[n % len(ATTRIBUTES)]
            rules = [
                {"clauses": [_clause(op, attribute, negate)], "serve": {"variant": "on"}},
                {
                    "clauses": [_clause(op, "tags", negate), _clause(Operator.EXISTS, "s", False)],
                    "serve": {"rollout": {"variants": [{"variant": "on", "weight": 100_000}]}},
                },
            ]
            flags.append(
                {
                    "key": f"{op.value.replace('_', '-')}-{negate}".lower(),
                    "name": op.value,
                    "salt": "s",
                    "variants": boolean_variants(),
                    "environments": {
                        "production": {
                            "enabled": True,
                            "off_variant": "off",
                            "targets": [{"variant": "on", "values": ["t1"]}],
                            "rules": rules,
                            "prerequisites": [{"flag": "gate", "variant": "on"}] if negate else [],
                            "fallthrough": {
                                "rollout": {
                                    "variants": [
                                        {"variant": "on", "weight": 50_000},
                                        {"variant": "off", "weight": 50_000},
                                    ],
                                    "bucket_by": "tenant" if attribute == "$now" else attribute,
                                }
                            },
                        }
                    },
                }
            )
    flags.append(
        {
            "key": "gate",
            "name": "gate",
            "variants": boolean_variants(),
            "environments": {
                "production": {
                    "enabled": True,
                    "off_variant": "off",
                    "fallthrough": {"variant": "on"},
                }
            },
        }
    )
    segment = {
        "key": "seg",
        "name": "seg",
        "included": ["i"],
        "excluded": ["e"],
        "rules": [
            {"clauses": [_clause(op, ATTRIBUTES[n % len(ATTRIBUTES)], n % 2 == 0)]}
            for n, op in enumerate(Operator)
            if op is not Operator.IN_SEGMENT
        ],
    }
    return CompiledEnvironment(
        "production", [Flag.model_validate(f) for f in flags], [Segment.model_validate(segment)]
    )


ENV = _every_operator_environment()
FLAG_KEYS = sorted(ENV.flags)

# Values at the edges of what parsers and number types take.
EDGE_VALUES: list[Any] = [
    10**400,
    -(10**400),
    2**63,
    1.7976931348623157e308,
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+01:00",
    "99999999999999999999.0.0",
    "a" * 5000,
    "x" * 4096 + "z",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["", "1.2.3", "v2", "1.0.0-alpha.1", "2024-01-01", "axz", "t1", "i", "e"])
    | st.sampled_from(EDGE_VALUES)
    | st.datetimes().map(dt.datetime.isoformat)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
json_contexts = st.dictionaries(
    st.sampled_from(ATTRIBUTES) | st.text(max_size=8), json_values, max_size=8
)


class _Hostile:
    """Compares, hashes and prints badly: the engine must not care."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def __str__(self) -> str:
        raise RuntimeError("str")


weird_values = st.sampled_from(
    [
        b"bytes",
        bytearray(b"x"),
        ("a", "tuple"),
        frozenset({"x"}),
        {"set"},
        dt.datetime(2024, 1, 1),
        decimal.Decimal("1.5"),
        decimal.Decimal("NaN"),
        complex(1, 2),
        object(),
        ["x", None, b"y"],
        range(3),
        Operator.EQ,
        ...,
    ]
)
weird_contexts = st.dictionaries(
    st.sampled_from(ATTRIBUTES), weird_values | json_values, max_size=len(ATTRIBUTES)
)


class _BrokenMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("getitem")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("iter")

    def __len__(self) -> int:
        return 1


def test_every_operator_environment__context__reaches_rules_and_fallthrough() -> None:
    # Guards the properties below: a failing prerequisite would hide every rule.
    context = {name: "u" for name in ATTRIBUTES}
    for key in FLAG_KEYS:
        got = evaluate(ENV, key, context)
        assert got.reason in (
            Reason.DEFAULT,
            Reason.SPLIT,
            Reason.TARGETING_MATCH,
            Reason.STATIC,
        ), got


@BOUNDED
@given(
    context=json_contexts, now=st.none() | st.floats(allow_nan=True) | st.integers(-(2**40), 2**40)
)
def test_evaluate__json_like_context__never_raises_nor_fails(
    context: dict[str, Any], now: float | None
) -> None:
    for key in FLAG_KEYS:
        got = evaluate(ENV, key, context, now)

        # The only error a JSON context may cause is a missing bucket_by attribute.
        assert got.error_code in (None, ErrorCode.TARGETING_KEY_MISSING), got


@BOUNDED
@given(context=weird_contexts)
def test_evaluate__context_of_weird_types__never_raises(context: dict[str, Any]) -> None:
    for key in FLAG_KEYS:
        got = evaluate(ENV, key, context)

        # Not even the catch-all: a value of the wrong type is no match, not an exception.
        assert got.error_code in (None, ErrorCode.TARGETING_KEY_MISSING), got


@BOUNDED
@given(
    context=json_contexts, now=st.none() | st.floats(allow_nan=True) | st.integers(-(2**40), 2**40)
)
def test_evaluate_each__any_context__same_answers_as_evaluate_one_by_one(
    context: dict[str, Any], now: float | None
) -> None:
    flags = [ENV.flags[key] for key in FLAG_KEYS]

    assert evaluate_each(ENV, flags, context, now) == tuple(
        evaluate(ENV, key, context, now) for key in FLAG_KEYS
    )


class _ExplodingDict(dict[str, Any]):
    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("get")


def test_evaluate_each__a_flag_raises__every_flag_answered_as_evaluate_does() -> None:
    flags = [ENV.flags[key] for key in FLAG_KEYS]
    context = _ExplodingDict(targeting_key="u")

    got = evaluate_each(ENV, flags, context)

    assert got == tuple(evaluate(ENV, key, context) for key in FLAG_KEYS)
    assert ErrorCode.GENERAL in {r.error_code for r in got}  # the fallback ran


@BOUNDED
@given(context=st.one_of(json_values.filter(lambda v: not isinstance(v, dict)), weird_values))
def test_evaluate__context_not_a_mapping__invalid_context(context: Any) -> None:
    for key in FLAG_KEYS:
        got = evaluate(ENV, key, context)

        if context is not None:
            assert (got.reason, got.error_code) == (Reason.ERROR, ErrorCode.INVALID_CONTEXT)


def test_evaluate__hostile_attribute_values__never_raise() -> None:
    # Outside hypothesis, which would itself trip over __hash__ and __eq__.
    for attribute in ATTRIBUTES:
        for value in (_Hostile(), [_Hostile()], (_Hostile(), "x")):
            for key in FLAG_KEYS:
                got = evaluate(ENV, key, {attribute: value, "targeting_key": "u"})
                assert got.error_code in (None, ErrorCode.TARGETING_KEY_MISSING), got


def test_evaluate__mapping_that_raises__general_error_not_exception() -> None:
    got = evaluate(ENV, FLAG_KEYS[0], _BrokenMapping())

    assert (got.value, got.error_code) == (None, ErrorCode.GENERAL)


# (e) compiled once


def _compiled_once_environment() -> CompiledEnvironment:
    rules = [
        {
            "clauses": [
                {"attribute": "ua", "operator": "matches", "values": ["^Mozilla/\\d", "Bot$"]}
            ],
            "serve": {"variant": "on"},
        },
        {
            "clauses": [
                {"attribute": "version", "operator": "semver_gt", "values": ["1.2.0", "v3"]}
            ],
            "serve": {"variant": "on"},
        },
        {
            "clauses": [
                {"attribute": "version", "operator": "semver_eq", "values": ["0.9.0-rc.1"]}
            ],
            "serve": {"variant": "on"},
        },
        {
            "clauses": [{"attribute": "signup", "operator": "before", "values": ["2020-01-01"]}],
            "serve": {"variant": "on"},
        },
        {"clauses": [{"operator": "in_segment", "values": ["seg"]}], "serve": {"variant": "on"}},
    ]
    flag = Flag.model_validate(
        {
            "key": "compiled",
            "name": "compiled",
            "salt": "s",
            "variants": boolean_variants(),
            "environments": {
                "production": {
                    "enabled": True,
                    "off_variant": "off",
                    "rules": rules,
                    "fallthrough": {"variant": "off"},
                }
            },
        }
    )
    segment = Segment.model_validate(
        {
            "key": "seg",
            "name": "seg",
            "rules": [
                {"clauses": [{"attribute": "host", "operator": "matches", "values": ["^eu-"]}]}
            ],
        }
    )
    return CompiledEnvironment("production", [flag], [segment])


def _forbidden(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("called during evaluation")


def test_evaluate__compiled_flag__never_recompiles_regex_nor_revalidates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = _compiled_once_environment()
    parsed: list[str] = []
    real_parse = semver.Version.parse

    def parse(version: str, *args: Any, **kwargs: Any) -> semver.Version:
        parsed.append(version)
        return real_parse(version, *args, **kwargs)

    monkeypatch.setattr(re, "compile", _forbidden)
    monkeypatch.setattr(semver.Version, "parse", parse)
    monkeypatch.setattr(BaseModel, "__init__", _forbidden)
    monkeypatch.setattr(BaseModel, "model_validate", _forbidden)
    # Attribute strings no earlier test can have put in the semver cache.
    fresh = f"{id(env)}.4.0"
    fresh_rc = f"0.9.{id(env)}-rc.1"
    contexts: list[tuple[dict[str, Any], str]] = [
        ({"ua": "Mozilla/5.0"}, "on"),
        ({"ua": "GoogleBot"}, "on"),
        ({"ua": "curl/8"}, "off"),
        ({"version": fresh}, "on"),
        ({"version": fresh}, "on"),
        ({"version": fresh_rc}, "off"),
        ({"signup": "2019-06-01"}, "on"),
        ({"host": "eu-west-1"}, "on"),
        ({"host": "us-east-1"}, "off"),
    ]

    for context, expected in contexts:
        got = evaluate(env, "compiled", context)
        assert (got.variant, got.error_code) == (expected, None), context

    # Only each fresh attribute, once (cached after); clause values were parsed at compile time.
    assert parsed == [fresh, fresh_rc]


def test_evaluate__compiled_flag__runs_no_pydantic_re_or_semver_code() -> None:
    env = _compiled_once_environment()
    contexts: list[dict[str, Any]] = [
        {"ua": "Mozilla/5.0", "version": "1.0.0"},
        {"version": "2.0.0"},
        {"version": "0.9.0-rc.1", "signup": 1_500_000_000},
        {"host": "eu-1"},
        {},
    ]
    for context in contexts:  # warm the semver cache: attribute parses are cached
        evaluate(env, "compiled", context)
    called: list[str] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            called.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")
        elif event == "c_call":
            called.append(f"{getattr(arg, '__module__', '')}.{getattr(arg, '__qualname__', '')}")

    sys.setprofile(profile)
    try:
        for context in contexts:
            evaluate(env, "compiled", context)
    finally:
        sys.setprofile(None)

    # Comparing versions runs semver code; parsing or building one must not.
    libraries = [os.path.dirname(m.__file__ or "") for m in (pydantic, pydantic_core, re)]
    suspicious = [
        c
        for c in called
        if c.startswith((*libraries, "pydantic", "_sre.compile"))
        or (c.startswith(os.path.dirname(semver.__file__)) and c.endswith((":parse", ":__init__")))
    ]
    assert suspicious == []
    assert called  # the profiler did see the engine
