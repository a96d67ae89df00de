"""Clause compilation: each clause becomes one closure ``match(context) -> bool``.

Semantics (DESIGN 3): a clause matches when any of its values matches; ``negate`` inverts
that. A missing attribute, or one of a type the operator cannot compare, never matches,
negated or not (``exists`` is the exception: it is about presence). A list attribute
matches when any element does. Nothing here raises on any context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import semver

from ff_core import limits
from ff_core.models.clause import (
    Clause,
    Operator,
    Scalar,
    compile_regex,
    parse_instant,
    parse_semver,
)

Context = Mapping[str, Any]
Match = Callable[[Context], bool]
# A test answers True/False, or None when the attribute's type does not fit the operator.
Test = Callable[[Any], bool | None]

NEVER: Match = lambda _ctx: False  # noqa: E731

# neq, not_in and not_contains are eq, in and contains with negate flipped.
_INVERSES = {
    Operator.NEQ: Operator.EQ,
    Operator.NOT_IN: Operator.IN,
    Operator.NOT_CONTAINS: Operator.CONTAINS,
}


def compile_clause(clause: Clause, segments: Mapping[str, Match]) -> Match:
    op, negate = clause.operator, clause.negate
    if op in _INVERSES:
        op, negate = _INVERSES[op], not negate
    if op is Operator.IN_SEGMENT:
        return _segment_clause([segments.get(str(k), NEVER) for k in clause.values], negate)
    attribute = clause.attribute
    assert attribute is not None  # the model guarantees it for every other operator
    if op is Operator.EXISTS:
        return lambda ctx: (ctx.get(attribute) is not None) is not negate
    spec = _string_set_spec(clause)
    if spec is not None:
        return _string_set_clause(*spec)
    return _generic_clause(attribute, _TESTS[op](clause.values), negate)


def _string_set_spec(clause: Clause) -> tuple[str, frozenset[Any], bool] | None:
    """(attribute, strings, negate) of an eq/in clause over strings (negated forms too)."""
    op, negate = clause.operator, clause.negate
    if op in _INVERSES:
        op, negate = _INVERSES[op], not negate
    if op not in (Operator.EQ, Operator.IN) or clause.attribute is None:
        return None
    if not all(type(v) is str for v in clause.values):
        return None
    return clause.attribute, frozenset(clause.values), negate


def _two_string_sets(
    first: tuple[str, frozenset[Any], bool],
    second: tuple[str, frozenset[Any], bool],
    first_match: Match,
    second_match: Match,
) -> Match:
    # ``country in [US, CA] AND plan == pro`` in one call: a string attribute is tested
    # inline; any other value (a list, a number, missing) goes to the clause's own closure.
    attribute_1, strings_1, negate_1 = first
    attribute_2, strings_2, negate_2 = second

    def match(ctx: Context) -> bool:
        value = ctx.get(attribute_1)
        if value.__class__ is str:
            if (value in strings_1) is negate_1:
                return False
        elif not first_match(ctx):
            return False
        value = ctx.get(attribute_2)
        if value.__class__ is str:
            return (value in strings_2) is not negate_2
        return second_match(ctx)

    return match


def _string_set_clause(attribute: str, strings: frozenset[Any], negate: bool) -> Match:
    # The common case (country in [US, CA]) without a second call.
    def match(ctx: Context) -> bool:
        value = ctx.get(attribute)
        if value.__class__ is str:
            return (value in strings) is not negate
        if value.__class__ is list or value.__class__ is tuple:
            found = _any(_equals_string(strings), value)
            return found is not None and found is not negate
        return False

    return match


def _generic_clause(attribute: str, test: Test, negate: bool) -> Match:
    def match(ctx: Context) -> bool:
        value = ctx.get(attribute)
        if value is None:
            return False
        if value.__class__ is list or value.__class__ is tuple:
            found = _any(test, value)
        else:
            found = test(value)
        return found is not None and found is not negate

    return match


def _segment_clause(members: list[Match], negate: bool) -> Match:
    def match(ctx: Context) -> bool:
        return any(member(ctx) for member in members) is not negate

    return match


def _any(test: Test, values: Sequence[Any]) -> bool | None:
    found: bool | None = None
    for value in values:
        result = test(value)
        if result:
            return True
        if result is False:
            found = False
    return found


def _equals_string(strings: frozenset[Any]) -> Test:
    return lambda v: (v in strings) if v.__class__ is str else None


def _is_number(value: object) -> bool:
    return (value.__class__ is int or value.__class__ is float) and value == value


def _equals(values: tuple[Scalar, ...]) -> Test:
    strings = frozenset(v for v in values if type(v) is str)
    numbers = frozenset(v for v in values if _is_number(v))
    booleans = frozenset(v for v in values if type(v) is bool)

    def test(v: Any) -> bool | None:
        kind = v.__class__
        if kind is str:
            return v in strings if strings else None
        if kind is bool:
            return v in booleans if booleans else None
        if kind is int or kind is float:
            # NaN is no number to compare, as for gt/lt: no match, even negated.
            return v in numbers if numbers and v == v else None
        return None

    return test


def _strings(values: tuple[Scalar, ...]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def _contains(values: tuple[Scalar, ...]) -> Test:
    needles = _strings(values)
    return lambda v: any(n in v for n in needles) if v.__class__ is str else None


def _starts_with(values: tuple[Scalar, ...]) -> Test:
    prefixes = _strings(values)
    return lambda v: v.startswith(prefixes) if v.__class__ is str else None


def _ends_with(values: tuple[Scalar, ...]) -> Test:
    suffixes = _strings(values)
    return lambda v: v.endswith(suffixes) if v.__class__ is str else None


def _matches(values: tuple[Scalar, ...]) -> Test:
    # RE2: linear in the input whatever the pattern (Python's re backtracks exponentially
    # on patterns like ^(a+)+$, and attributes come from browsers).
    patterns = [compile_regex(p) for p in _strings(values)]

    def test(v: Any) -> bool | None:
        if v.__class__ is not str or len(v) > limits.MAX_MATCHED_STRING_LENGTH:
            return None
        return any(p.search(v) is not None for p in patterns)

    return test


def _compare(values: tuple[Scalar, ...], op: Operator) -> Test:
    # Kept as given: float() of an int beyond float's range would raise at compile time.
    numbers = [v for v in values if not isinstance(v, str | bool)]
    # "any value matches": gt any value is gt the smallest, lt any is lt the largest.
    if op is Operator.GT:
        low = min(numbers)
        return lambda v: v > low if _is_number(v) else None
    if op is Operator.GTE:
        low = min(numbers)
        return lambda v: v >= low if _is_number(v) else None
    high = max(numbers)
    if op is Operator.LT:
        return lambda v: v < high if _is_number(v) else None
    return lambda v: v <= high if _is_number(v) else None


@lru_cache(maxsize=4096)
def _cached_semver(value: str) -> semver.Version | None:
    return parse_semver(value)


def _semver(values: tuple[Scalar, ...], op: Operator) -> Test:
    versions = [v for v in (parse_semver(x) for x in values) if v is not None]
    low, high = min(versions), max(versions)

    def test(v: Any) -> bool | None:
        parsed = _cached_semver(v) if v.__class__ is str else None
        if parsed is None:
            return None
        if op is Operator.SEMVER_EQ:
            return any(parsed.compare(x) == 0 for x in versions)
        if op is Operator.SEMVER_GT:
            return parsed.compare(low) > 0
        return parsed.compare(high) < 0

    return test


def _date(values: tuple[Scalar, ...], op: Operator) -> Test:
    instants = [t for t in (parse_instant(x) for x in values) if t is not None]
    if op is Operator.BEFORE:
        latest = max(instants)

        def before(v: Any) -> bool | None:
            t = parse_instant(v)
            return None if t is None else t < latest

        return before
    earliest = min(instants)

    def after(v: Any) -> bool | None:
        t = parse_instant(v)
        return None if t is None else t > earliest

    return after


_TESTS: dict[Operator, Callable[[tuple[Scalar, ...]], Test]] = {
    Operator.EQ: _equals,
    Operator.IN: _equals,
    Operator.CONTAINS: _contains,
    Operator.STARTS_WITH: _starts_with,
    Operator.ENDS_WITH: _ends_with,
    Operator.MATCHES: _matches,
    Operator.GT: lambda vs: _compare(vs, Operator.GT),
    Operator.GTE: lambda vs: _compare(vs, Operator.GTE),
    Operator.LT: lambda vs: _compare(vs, Operator.LT),
    Operator.LTE: lambda vs: _compare(vs, Operator.LTE),
    Operator.SEMVER_EQ: lambda vs: _semver(vs, Operator.SEMVER_EQ),
    Operator.SEMVER_GT: lambda vs: _semver(vs, Operator.SEMVER_GT),
    Operator.SEMVER_LT: lambda vs: _semver(vs, Operator.SEMVER_LT),
    Operator.BEFORE: lambda vs: _date(vs, Operator.BEFORE),
    Operator.AFTER: lambda vs: _date(vs, Operator.AFTER),
}


def compile_all(clauses: Sequence[Clause], segments: Mapping[str, Match]) -> Match:
    """Clauses ANDed into one closure."""
    compiled = [compile_clause(c, segments) for c in clauses]
    if len(compiled) == 1:
        return compiled[0]
    if len(compiled) == 2:
        specs = [_string_set_spec(c) for c in clauses]
        if specs[0] is not None and specs[1] is not None:
            return _two_string_sets(specs[0], specs[1], compiled[0], compiled[1])
        first, second = compiled
        return lambda ctx: first(ctx) and second(ctx)

    def all_match(ctx: Context) -> bool:
        # A loop, not all(<generator>): the generator costs more than the clauses on this path.
        for clause in compiled:  # noqa: SIM110
            if not clause(ctx):
                return False
        return True

    return all_match
