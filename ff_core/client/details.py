"""What the SDK hands back: status, evaluation details, and the evaluation context."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Generic, TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ff_core.evaluation import TARGETING_KEY, ErrorCode, Reason

T = TypeVar("T")


class Status(StrEnum):
    """READY: current with its source. STALE: serving the last known snapshot while the
    source cannot be reached. ERROR: no snapshot at all, or the source refused the key."""

    READY = "READY"
    STALE = "STALE"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class EvaluationDetails(Generic[T]):
    """One answer: the value (the caller's default on any error) and why."""

    key: str
    value: T
    variant: str | None
    reason: Reason
    error_code: ErrorCode | None = None
    error_message: str | None = None
    # The flag definition's version that answered (0 when none did).
    version: int = 0

    @property
    def is_error(self) -> bool:
        return self.error_code is not None


Attribute: TypeAlias = str | int | float | bool | datetime | list[str | int | float | bool] | None


class Context(BaseModel):
    """A ready-made context model: ``Context(targeting_key="u-1", attributes={"plan": "pro"})``.

    Any pydantic model works as a context: its fields become attributes, and a field named
    ``attributes`` holding a dict is merged in flat.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    targeting_key: str | None = None
    attributes: dict[str, Attribute] = Field(default_factory=dict)


ContextLike: TypeAlias = Mapping[str, Any] | BaseModel


def as_context(context: ContextLike | None) -> Mapping[str, Any] | None:
    """The engine's view of a context: a flat mapping. Raises TypeError for anything else."""
    if context is None or isinstance(context, Mapping):
        return context
    if isinstance(context, BaseModel):
        data = context.model_dump(exclude_none=True)
        attributes = data.pop("attributes", None)
        if isinstance(attributes, dict):
            data = {**attributes, **data}
        return {name: _instant(value) for name, value in data.items()}
    raise TypeError(f"a context is a dict or a pydantic model, not {type(context).__name__}")


def from_attributes(targeting_key: str | None, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenFeature-shaped context (a targeting key and attributes) as a flat mapping."""
    data = {name: _instant(value) for name, value in attributes.items()}
    if targeting_key is not None:
        data[TARGETING_KEY] = targeting_key
    return data


def _instant(value: Any) -> Any:
    # The engine compares instants as epoch seconds or ISO strings; a datetime becomes one.
    return value.isoformat() if isinstance(value, datetime) else value


# -- value kinds: the value as asked for, or MISMATCH -----------------------------------------

MISMATCH: Final = object()


def as_bool(value: Any) -> Any:
    return value if value.__class__ is bool else MISMATCH


def as_str(value: Any) -> Any:
    return value if value.__class__ is str else MISMATCH


def as_int(value: Any) -> Any:
    return value if value.__class__ is int else MISMATCH


def as_float(value: Any) -> Any:
    return float(value) if value.__class__ is int or value.__class__ is float else MISMATCH


def as_object(value: Any) -> Any:
    return copy_json(value) if value.__class__ is dict or value.__class__ is list else MISMATCH


def as_json(value: Any) -> Any:
    return copy_json(value) if value.__class__ is dict or value.__class__ is list else value


KINDS: dict[type, Callable[[Any], Any]] = {
    bool: as_bool,
    str: as_str,
    int: as_int,
    float: as_float,
    dict: as_object,
    list: as_object,
}


def kind_of(default: object) -> Callable[[Any], Any]:
    return KINDS.get(default.__class__, as_json)


def copy_json(value: Any) -> Any:
    # Compiled answers are shared between evaluations: the caller gets its own copy.
    if value.__class__ is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if value.__class__ is list:
        return [copy_json(v) for v in value]
    return value
