from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import re2
import semver
from pydantic import Field, StringConstraints, field_validator, model_validator

from ff_core import limits
from ff_core.models._base import Model

Scalar = str | bool | int | float
AttributeName = Annotated[str, StringConstraints(pattern=limits.ATTRIBUTE_PATTERN)]


class Operator(StrEnum):
    EQ = "eq"
    NEQ = "neq"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    MATCHES = "matches"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    SEMVER_EQ = "semver_eq"
    SEMVER_GT = "semver_gt"
    SEMVER_LT = "semver_lt"
    BEFORE = "before"
    AFTER = "after"
    EXISTS = "exists"
    IN_SEGMENT = "in_segment"


STRING_OPERATORS = frozenset(
    {
        Operator.CONTAINS,
        Operator.NOT_CONTAINS,
        Operator.STARTS_WITH,
        Operator.ENDS_WITH,
        Operator.MATCHES,
    }
)
NUMBER_OPERATORS = frozenset({Operator.GT, Operator.GTE, Operator.LT, Operator.LTE})
SEMVER_OPERATORS = frozenset({Operator.SEMVER_EQ, Operator.SEMVER_GT, Operator.SEMVER_LT})
DATE_OPERATORS = frozenset({Operator.BEFORE, Operator.AFTER})


def parse_semver(value: object) -> semver.Version | None:
    """A semantic version, accepting ``1`` and ``1.2`` as ``1.0.0`` and ``1.2.0``; else None."""
    if not isinstance(value, str) or len(value) > 256:
        return None
    try:
        return semver.Version.parse(value.removeprefix("v"), optional_minor_and_patch=True)
    except (ValueError, TypeError):
        return None


def parse_instant(value: object) -> float | None:
    """Epoch seconds from a number or an ISO 8601 string (naive means UTC); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return float(value) if value == value else None  # NaN never compares
        except OverflowError:  # an int beyond float's range is no instant
            return None
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class Clause(Model):
    """``attribute operator values``: matches when any value matches; ``negate`` inverts.

    ``in_segment`` takes segment keys as values and no attribute.
    """

    attribute: AttributeName | None = None
    operator: Operator
    values: tuple[Scalar, ...] = Field(default=(), max_length=limits.MAX_VALUES_PER_CLAUSE)
    negate: bool = False

    @field_validator("values")
    @classmethod
    def _value_lengths(cls, values: tuple[Scalar, ...]) -> tuple[Scalar, ...]:
        for value in values:
            if isinstance(value, str) and len(value) > limits.MAX_CLAUSE_VALUE_LENGTH:
                raise ValueError(
                    f"a clause value may be at most {limits.MAX_CLAUSE_VALUE_LENGTH} characters"
                )
            if isinstance(value, float) and value != value:
                raise ValueError("a clause value may not be NaN")
        return values

    @model_validator(mode="after")
    def _values_fit_operator(self) -> Clause:
        op = self.operator
        if op is Operator.IN_SEGMENT:
            if self.attribute is not None:
                raise ValueError("an in_segment clause takes segment keys as values, no attribute")
        elif self.attribute is None:
            raise ValueError(f"operator {op.value!r} needs an attribute")
        if op is Operator.EXISTS:
            if self.values:
                raise ValueError("operator 'exists' takes no values")
            return self
        if not self.values:
            raise ValueError(f"operator {op.value!r} needs at least one value")
        for value in self.values:
            _check_value(op, value)
        return self


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the caller's error, not a log line


def compile_regex(pattern: str) -> Any:
    """A ``matches`` pattern compiled by RE2: matching time linear in the input, whatever
    the pattern (no catastrophic backtracking on attributes a browser sends)."""
    return re2.compile(pattern, _RE2_OPTIONS)


def _check_value(op: Operator, value: Scalar) -> None:
    if op in STRING_OPERATORS or op is Operator.IN_SEGMENT:
        if not isinstance(value, str):
            raise ValueError(f"operator {op.value!r} takes string values, got {value!r}")
        if op is Operator.MATCHES:
            if len(value) > limits.MAX_REGEX_LENGTH:
                raise ValueError(
                    f"a regular expression may be at most {limits.MAX_REGEX_LENGTH} characters"
                )
            try:
                compile_regex(value)
            except re2.error as exc:
                detail = exc.args[0] if exc.args else exc
                reason = detail.decode() if isinstance(detail, bytes) else str(detail)
                raise ValueError(
                    f"invalid regular expression {value!r} (RE2 syntax: no backreferences or "
                    f"lookaround): {reason}"
                ) from None
    elif op in NUMBER_OPERATORS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"operator {op.value!r} takes numbers, got {value!r}")
    elif op in SEMVER_OPERATORS:
        if parse_semver(value) is None:
            raise ValueError(f"operator {op.value!r} takes semantic versions, got {value!r}")
    elif op in DATE_OPERATORS and parse_instant(value) is None:
        raise ValueError(
            f"operator {op.value!r} takes ISO 8601 dates or epoch seconds, got {value!r}"
        )


def check_regex_count(clauses: list[Clause] | tuple[Clause, ...], where: str) -> None:
    """At most ``limits.MAX_REGEXES`` ``matches`` values among ``clauses``."""
    count = sum(len(c.values) for c in clauses if c.operator is Operator.MATCHES)
    if count > limits.MAX_REGEXES:
        raise ValueError(
            f"at most {limits.MAX_REGEXES} regular expressions per {where}, got {count}"
        )
