"""pydantic's validation errors as ff's InvalidDefinition, naming each field."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from ff_core.errors import InvalidDefinition

T = TypeVar("T")


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(part) for part in error["loc"]) or "(body)", "message": error["msg"]}
        for error in exc.errors(include_url=False)
    ]


def summarise(errors: list[dict[str, str]]) -> str:
    """The first few field errors in one line, for a message."""
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])


def invalid(exc: ValidationError, what: str) -> InvalidDefinition:
    errors = field_errors(exc)
    return InvalidDefinition(f"invalid {what}: {summarise(errors)}", errors=errors)


def validated(build: Callable[[], T], what: str) -> T:
    """Run ``build`` (which validates a model) and turn a refusal into InvalidDefinition."""
    try:
        return build()
    except ValidationError as exc:
        raise invalid(exc, what) from None
