"""The create-flag form: text fields in, a valid ``Flag`` or per-field messages out.

Error keys are the form's field names: ``name``, ``key``, ``kind``, ``value_type``,
``description``, ``tags``, ``variants`` (the list as a whole), ``variants.<i>.key``,
``variants.<i>.value``, ``initial_rollout``; ``form`` for anything else.

The initial rollout is written into every environment of the project: the service fills
environments the flag has no config for with ``default_environment_config`` (serving the
"on" variant), which would silently drop a rollout below 100 %. Each environment starts
disabled as usual (serving its off variant); the rollout applies once it is switched on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue, ValidationError

from ff_admin.logic.slug import slugify
from ff_admin.logic.values import parse_number
from ff_core import limits
from ff_core.evaluation import default_environment_config
from ff_core.models import Flag, FlagKind, Rollout, Serve, ValueType, WeightedVariant
from ff_core.validation import field_errors

VALUE_TYPES = tuple(t.value for t in ValueType)
KINDS = tuple(k.value for k in FlagKind)

KEY_HINT = (
    "lower-case letters, digits, '.', '_' or '-', starting with a letter or digit, "
    "at most 128 characters"
)
VARIANT_KEY_HINT = (
    "letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64 characters"
)

_KEY = re.compile(limits.FLAG_KEY_PATTERN)
_VARIANT_KEY = re.compile(limits.VARIANT_KEY_PATTERN)


@dataclass
class VariantRow:
    key: str = ""
    value: str = ""


@dataclass
class NewFlagForm:
    name: str = ""
    # Left blank, the key is ``slugify(name)``.
    key: str = ""
    kind: str = FlagKind.RELEASE.value
    value_type: str = ValueType.BOOLEAN.value
    description: str = ""
    # Comma-separated.
    tags: str = ""
    # Ignored for boolean flags, which always get on=true / off=false.
    variants: list[VariantRow] = field(default_factory=list)
    # Percent of the "on" variant on fallthrough; the rest gets the off variant.
    initial_rollout: int = 100
    client_visible: bool = False
    temporary: bool = True


def parse_new_flag(
    form: NewFlagForm, environments: Sequence[str]
) -> tuple[Flag | None, dict[str, str]]:
    """The flag to hand to ``FlagService.create_flag``, or the messages to show.

    ``environments`` are the project's environment keys: each gets a config serving
    ``initial_rollout``. The "on" variant is ``on`` if present, else the first one; the
    off variant ``off`` if present, else the last one (as ``default_environment_config``).
    """
    errors: dict[str, str] = {}
    name = form.name.strip()
    if not name:
        errors["name"] = "enter a name"
    key = form.key.strip() or slugify(name)
    if not key:
        errors["key"] = "enter a key, or a name with letters or digits to derive it from"
    elif not _KEY.match(key):
        errors["key"] = KEY_HINT
    if not 0 <= form.initial_rollout <= 100:
        errors["initial_rollout"] = "a percentage from 0 to 100"
    variants = _variants(form, errors)
    data: dict[str, Any] = {
        "key": key,
        "name": name,
        "description": form.description,
        "tags": parse_tags(form.tags),
        "kind": form.kind,
        "value_type": form.value_type,
        "client_visible": form.client_visible,
        "temporary": form.temporary,
        "variants": variants,
    }
    try:
        flag = Flag.model_validate(data)
    except ValidationError as exc:
        _map_errors(exc, list(variants), errors)
        return None, errors
    if errors:
        return None, errors
    default = default_environment_config(flag)
    config = default.replace(fallthrough=initial_serve(flag, form.initial_rollout))
    return flag.replace(environments={env: config for env in environments}), {}


def initial_serve(flag: Flag, percent: int) -> Serve:
    """``percent`` of the on variant, the rest the off one; first the on variant, so that
    raising its share later keeps everyone who already had it."""
    default = default_environment_config(flag)
    on, off = default.fallthrough.variant, default.off_variant
    assert on is not None
    if percent >= 100 or on == off:
        return Serve(variant=on)
    if percent <= 0:
        return Serve(variant=off)
    weight = percent * limits.ROLLOUT_TOTAL // 100
    return Serve(
        rollout=Rollout(
            variants=(
                WeightedVariant(variant=on, weight=weight),
                WeightedVariant(variant=off, weight=limits.ROLLOUT_TOTAL - weight),
            )
        )
    )


def parse_tags(text: str) -> list[str]:
    """Comma-separated, trimmed, blanks and repeats dropped, order kept."""
    return list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))


def parse_value(value_type: str, text: str) -> JsonValue:
    """A variant's value from its text; raises ValueError with a message for the user."""
    if value_type == ValueType.BOOLEAN:
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError("true or false")
    if value_type == ValueType.NUMBER:
        return parse_number(text)
    if value_type == ValueType.JSON:
        try:
            value: JsonValue = json.loads(text, parse_constant=_no_constant)
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
        return value
    return text


_PLACEHOLDERS: dict[str, JsonValue] = {"number": 0, "string": ""}


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _variants(form: NewFlagForm, errors: dict[str, str]) -> dict[str, dict[str, JsonValue]]:
    if form.value_type == ValueType.BOOLEAN:
        return {"on": {"value": True}, "off": {"value": False}}
    if not form.variants:
        errors["variants"] = "add at least one variant"
    variants: dict[str, dict[str, JsonValue]] = {}
    for i, row in enumerate(form.variants):
        key = row.key.strip()
        if not key:
            errors[f"variants.{i}.key"] = "enter a key"
        elif not _VARIANT_KEY.match(key):
            errors[f"variants.{i}.key"] = VARIANT_KEY_HINT
        elif key in variants:
            errors[f"variants.{i}.key"] = f"variant {key!r} is already above"
        try:
            value = parse_value(form.value_type, row.value)
        except ValueError as exc:
            errors[f"variants.{i}.value"] = str(exc)
            # A stand-in of the right type, so the model reports only the other fields.
            value = _PLACEHOLDERS.get(form.value_type)
        if key and key not in variants:
            variants[key] = {"value": value}
    return variants


def _map_errors(exc: ValidationError, variant_keys: list[str], errors: dict[str, str]) -> None:
    for error in field_errors(exc):
        parts = error["field"].split(".")
        name = _form_field(parts, variant_keys)
        if name == "variants" and any(k.startswith("variants.") for k in errors):
            continue  # "no variants" because each row was refused: the rows say why
        # A message from our own parsing is more precise than the model's: keep it.
        errors.setdefault(name, _message(error["message"]))


def _form_field(parts: list[str], variant_keys: list[str]) -> str:
    head = parts[0]
    if head == "variants" and len(parts) >= 2 and parts[1] in variant_keys:
        index = variant_keys.index(parts[1])
        return f"variants.{index}.key" if parts[-1] == "[key]" else f"variants.{index}.value"
    if head in {"key", "name", "description", "tags", "kind", "value_type", "variants"}:
        return head
    return "form"


def _message(message: str) -> str:
    # pydantic prefixes a validator's own message with "Value error, ".
    return message.removeprefix("Value error, ")
