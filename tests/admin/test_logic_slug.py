"""slugify: a valid flag key from any name, or "" when the name has nothing usable."""

from __future__ import annotations

import re

import pytest

from ff_admin.logic.slug import slugify
from ff_core import limits


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("New checkout", "new-checkout"),
        ("  Dark   mode!! ", "dark-mode"),
        ("Crème brûlée: v2.1", "creme-brulee-v2-1"),
        ("Straße & Æther", "strasse-aether"),
        ("snake_case.name", "snake-case-name"),
        ("--Hello--World--", "hello-world"),
        ("\uff21\uff22\uff23 123", "abc-123"),  # full-width letters
    ],
)
def test_slugify__name__lower_case_ascii_joined_by_dashes(name: str, key: str) -> None:
    assert slugify(name) == key


@pytest.mark.parametrize("name", ["", "   ", "!!!", "日本語", "🚀🚀"])
def test_slugify__nothing_usable__empty(name: str) -> None:
    assert slugify(name) == ""


def test_slugify__long_name__cut_to_128_without_trailing_dash() -> None:
    key = slugify("a" * 127 + " b" * 10)
    assert len(key) <= 128
    assert not key.endswith("-")
    assert re.match(limits.FLAG_KEY_PATTERN, key)


@pytest.mark.parametrize(
    "name", ["Ünïcödé flag", "x" * 300, "  9 lives ", "a.b_c-d", "\u216b \u210c"]
)
def test_slugify__any_name__matches_the_key_pattern_or_is_empty(name: str) -> None:
    key = slugify(name)
    assert key == "" or re.match(limits.FLAG_KEY_PATTERN, key)
