"""The segment form: text fields in, a valid ``Segment`` or per-field messages out.

Error keys are the form's field names: ``key``, ``name``, ``description``, ``included``,
``excluded``; ``form`` for anything else. Key lists are typed one per line or comma
separated; blanks and repeats are dropped, the order is kept.

Editing keeps what the form does not show (the rules and the key attribute) from the
segment being edited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from ff_admin.logic.flag_form import KEY_HINT
from ff_core import limits
from ff_core.models import Segment
from ff_core.validation import field_errors

_KEY = re.compile(limits.FLAG_KEY_PATTERN)
_SEPARATORS = re.compile(r"[,\n\r]+")
_FIELDS = ("key", "name", "description", "included", "excluded")


@dataclass
class SegmentForm:
    key: str = ""
    name: str = ""
    description: str = ""
    # One key per line, or comma-separated.
    included: str = ""
    excluded: str = ""


@dataclass
class SegmentRow:
    key: str
    name: str
    description: str
    included: int
    excluded: int
    rules: int
    version: int
    # The flags whose rules refer to it (a segment in use cannot be deleted).
    used_by: list[str] = field(default_factory=list)


def parse_keys(text: str) -> tuple[str, ...]:
    """Keys separated by commas or line breaks, trimmed; blanks and repeats dropped."""
    return tuple(dict.fromkeys(k.strip() for k in _SEPARATORS.split(text) if k.strip()))


def to_form(segment: Segment) -> SegmentForm:
    return SegmentForm(
        key=segment.key,
        name=segment.name,
        description=segment.description,
        included="\n".join(segment.included),
        excluded="\n".join(segment.excluded),
    )


def to_row(segment: Segment, used_by: Sequence[str] = ()) -> SegmentRow:
    return SegmentRow(
        key=segment.key,
        name=segment.name,
        description=segment.description,
        included=len(segment.included),
        excluded=len(segment.excluded),
        rules=len(segment.rules),
        version=segment.version,
        used_by=list(used_by),
    )


def parse_segment(
    form: SegmentForm, editing: Segment | None = None
) -> tuple[Segment | None, dict[str, str]]:
    """The segment to hand to ``SegmentService.save_segment``, or the messages to show."""
    errors: dict[str, str] = {}
    key = editing.key if editing is not None else form.key.strip()
    if not key:
        errors["key"] = "enter a key"
    elif not _KEY.match(key):
        errors["key"] = KEY_HINT
    name = form.name.strip()
    if not name:
        errors["name"] = "enter a name"
    included, excluded = parse_keys(form.included), parse_keys(form.excluded)
    both = [k for k in excluded if k in included]
    if both:
        errors["excluded"] = f"also included: {', '.join(both[:5])}; a key is one or the other"
    for name_of, keys in (("included", included), ("excluded", excluded)):
        if len(keys) > limits.MAX_SEGMENT_KEYS:
            errors[name_of] = f"at most {limits.MAX_SEGMENT_KEYS:,} keys (got {len(keys):,})"
    if errors:
        return None, errors
    fields = {
        "key": key,
        "name": name,
        "description": form.description.strip(),
        "included": included,
        "excluded": excluded,
    }
    try:
        if editing is None:
            segment = Segment.model_validate(fields)
        else:
            segment = Segment.model_validate({**editing.model_dump(), **fields})
    except ValidationError as exc:
        for error in field_errors(exc):
            head = error["field"].split(".")[0]
            errors.setdefault(head if head in _FIELDS else "form", _message(error["message"]))
        return None, errors
    return segment, {}


def _message(message: str) -> str:
    return message.removeprefix("Value error, ")
