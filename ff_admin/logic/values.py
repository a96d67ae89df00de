"""Typed values from form text and back: numbers, clause values, rollout percentages.

Clause values (``values_text``):
- ``matches``: one regular expression per line, taken as typed (trimmed).
- every other operator: one value per line when the text has a line break, else
  comma-separated. A value in double quotes is a JSON string, taken as is (commas,
  quotes, spaces and all).
- ``eq``, ``neq``, ``in``, ``not_in``: ``true``/``false`` are booleans and JSON number
  literals (``42``, ``-1.5``; not ``007``) are numbers, because the engine never matches
  a number against a string: ``"42"`` in quotes is the string. Anything else is a string.
- ``gt``, ``gte``, ``lt``, ``lte``: numbers (``1e3``, ``.5`` and ``+2`` accepted).
- ``before``/``after``: a JSON number is epoch seconds; anything else an ISO 8601 string.
- other operators: strings.
``render_values`` writes values back so that parsing gives the same values and types.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

from ff_core import limits
from ff_core.models import Operator, Scalar
from ff_core.models.clause import DATE_OPERATORS, NUMBER_OPERATORS

TYPED_OPERATORS = frozenset({Operator.EQ, Operator.NEQ, Operator.IN, Operator.NOT_IN})

_LENIENT_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_JSON_NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$")
_LINES = re.compile(r"\r\n|\r|\n")
_PERCENT = re.compile(r"^(\d{1,3})(?:[.,](\d+))?$")
# Digits beyond this are no real quantity, and int() of a huge string is slow.
_MAX_DIGITS = 30


def parse_number(text: str) -> int | float:
    """An int or a finite float from a number literal; ValueError with a message otherwise."""
    raw = text.strip()
    if len(raw) <= _MAX_DIGITS:
        if _INTEGER.match(raw):
            return int(raw)
        if _LENIENT_NUMBER.match(raw):
            number = float(raw)
            if math.isfinite(number):
                return number
    raise ValueError(f"{raw!r} is not a number" if raw else "enter a number")


def _json_number(token: str) -> int | float | None:
    if len(token) > _MAX_DIGITS or not _JSON_NUMBER.match(token):
        return None
    number: int | float = json.loads(token)
    return number if math.isfinite(number) else None


# -- clause values -----------------------------------------------------------------------------


def parse_values(operator: str, text: str) -> list[Scalar]:
    """The values of a clause with ``operator`` from its text; ValueError for a bad number."""
    if operator == Operator.MATCHES:
        return [line.strip() for line in _LINES.split(text) if line.strip()]
    return [parse_token(operator, token) for token in split_values(text)]


def split_values(text: str) -> list[str]:
    """Lines if there is a line break, else comma-separated tokens (commas in quotes kept)."""
    if "\n" in text or "\r" in text:
        return [line.strip() for line in _LINES.split(text) if line.strip()]
    tokens: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ",":
            tokens.append("".join(current))
            current = []
            continue
        current.append(char)
    tokens.append("".join(current))
    return [t.strip() for t in tokens if t.strip()]


def parse_token(operator: str, token: str) -> Scalar:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        try:
            decoded = json.loads(token)
        except ValueError:
            decoded = None
        if isinstance(decoded, str):
            return decoded
    if operator in NUMBER_OPERATORS:
        return parse_number(token)
    if operator in TYPED_OPERATORS:
        if token in ("true", "false"):
            return token == "true"
        number = _json_number(token)
        return token if number is None else number
    if operator in DATE_OPERATORS:
        number = _json_number(token)
        return token if number is None else number
    return token


def render_values(operator: str, values: Sequence[Scalar]) -> str:
    """The text ``parse_values(operator, text)`` reads back as ``values``."""
    if operator == Operator.MATCHES:
        return "\n".join(str(v) for v in values)
    return ", ".join(render_value(operator, v) for v in values)


def render_value(operator: str, value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if _needs_quotes(operator, value):
        return json.dumps(value, ensure_ascii=False)
    return value


def _needs_quotes(operator: str, value: str) -> bool:
    if not value or value != value.strip() or any(c in value for c in ',"\n\r'):
        return True
    try:
        parsed = parse_token(operator, value)
    except ValueError:
        return False  # a string where a number is due: shown as is, refused on save
    return not (isinstance(parsed, str) and parsed == value)


# -- rollout percentages -----------------------------------------------------------------------


def parse_percent(text: str) -> int:
    """Thousandths of a percent (the model's unit) from ``25``, ``33.333`` or ``12,5 %``.

    Blank is 0. ValueError with a message for anything else than 0 to 100 with at most
    three decimals.
    """
    raw = text.strip().removesuffix("%").strip()
    if not raw:
        return 0
    match = _PERCENT.match(raw)
    if match is None:
        raise ValueError("a percentage from 0 to 100")
    whole, decimals = match.group(1), (match.group(2) or "").rstrip("0")
    if len(decimals) > 3:
        raise ValueError("at most three decimals (0.001 %)")
    thousandths = int(whole) * 1000 + int(decimals.ljust(3, "0"))
    if thousandths > limits.ROLLOUT_TOTAL:
        raise ValueError("a percentage from 0 to 100")
    return thousandths


def render_percent(thousandths: int) -> str:
    whole, rest = divmod(thousandths, 1000)
    return f"{whole}.{rest:03d}".rstrip("0") if rest else str(whole)
