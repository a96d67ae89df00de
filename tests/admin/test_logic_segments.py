"""The segment form: key lists from text, a valid Segment or messages by form field."""

from __future__ import annotations

from typing import Any

import pytest

from ff_admin.logic.segment_form import (
    SegmentForm,
    parse_keys,
    parse_segment,
    to_form,
    to_row,
)
from ff_core import limits
from ff_core.models import Clause, Operator, Segment, SegmentRule

RULED = Segment(
    key="pro-users",
    name="Pro users",
    description="Paying",
    key_attribute="user_id",
    included=("alice",),
    excluded=("mallory",),
    rules=(
        SegmentRule(clauses=(Clause(attribute="plan", operator=Operator.EQ, values=("pro",)),)),
    ),
    version=3,
)


def form(**fields: Any) -> SegmentForm:
    return SegmentForm(**{"key": "beta", "name": "Beta testers", **fields})


def errors_of(f: SegmentForm, editing: Segment | None = None) -> dict[str, str]:
    segment, errors = parse_segment(f, editing)
    assert segment is None
    return errors


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("", ()),
        ("   \n , ,\n", ()),
        ("alice", ("alice",)),
        ("alice, bob,carol", ("alice", "bob", "carol")),
        ("alice\nbob\r\ncarol\n", ("alice", "bob", "carol")),
        ("alice,\n bob ,\n\nalice, carol", ("alice", "bob", "carol")),
        ("user 1, user 2", ("user 1", "user 2")),
    ],
)
def test_parse_keys__commas_and_lines__trimmed_unique_in_order(
    text: str, keys: tuple[str, ...]
) -> None:
    assert parse_keys(text) == keys


def test_parse_segment__new__fields_and_key_lists() -> None:
    segment, errors = parse_segment(
        form(
            key=" beta ",
            name=" Beta testers ",
            description=" early ",
            included="alice\nbob, carol",
            excluded="dave",
        )
    )
    assert errors == {}
    assert segment == Segment(
        key="beta",
        name="Beta testers",
        description="early",
        included=("alice", "bob", "carol"),
        excluded=("dave",),
    )


def test_parse_segment__edit__keeps_rules_key_attribute_and_key() -> None:
    segment, errors = parse_segment(
        form(key="ignored", name="Pro", included="zoe", excluded=""), RULED
    )
    assert errors == {}
    assert segment is not None
    assert (segment.key, segment.name, segment.description) == ("pro-users", "Pro", "")
    assert (segment.included, segment.excluded) == (("zoe",), ())
    assert (segment.rules, segment.key_attribute, segment.version) == (RULED.rules, "user_id", 3)


def test_to_form__round_trip__same_segment() -> None:
    segment, errors = parse_segment(to_form(RULED), RULED)
    assert errors == {}
    assert segment == RULED


def test_to_row__counts_and_users() -> None:
    row = to_row(RULED, ("checkout", "search"))
    assert row.used_by == ["checkout", "search"]
    assert (row.key, row.name, row.included, row.excluded, row.rules, row.version) == (
        "pro-users",
        "Pro users",
        1,
        1,
        1,
        3,
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"key": ""}, "key"),
        ({"key": "Beta Testers"}, "key"),
        ({"key": "x" * 129}, "key"),
        ({"name": "  "}, "name"),
        ({"name": "n" * (limits.MAX_NAME_LENGTH + 1)}, "name"),
        ({"description": "d" * (limits.MAX_DESCRIPTION_LENGTH + 1)}, "description"),
    ],
)
def test_parse_segment__bad_field__message_on_that_field(
    fields: dict[str, str], field: str
) -> None:
    errors = errors_of(form(**fields))
    assert list(errors) == [field]
    assert errors[field]


def test_parse_segment__key_in_both_lists__message_on_excluded() -> None:
    errors = errors_of(form(included="alice, bob", excluded="bob\ncarol"))
    assert list(errors) == ["excluded"]
    assert "bob" in errors["excluded"]


def test_parse_segment__too_many_keys__message_on_that_list() -> None:
    many = ",".join(f"u{i}" for i in range(limits.MAX_SEGMENT_KEYS + 1))
    errors = errors_of(form(included=many))
    assert list(errors) == ["included"]
    assert f"{limits.MAX_SEGMENT_KEYS:,}" in errors["included"]


def test_parse_segment__several_problems__each_field_says_its_own() -> None:
    errors = errors_of(form(key="", name="", included="a", excluded="a"))
    assert set(errors) == {"key", "name", "excluded"}
