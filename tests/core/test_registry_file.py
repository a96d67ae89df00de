"""The registry file format: parsing, defaults per environment, and every problem `check`
names (flag key, field, and the line)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ff_core import registry
from ff_core.models import FlagKind, ValueType
from ff_core.registry import RegistryInvalid

ENVS = ["development", "staging", "production"]
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "registry.example.toml"


def problems(text: str) -> list[str]:
    return [str(p) for p in registry.check(text)]


def test_example_file__in_docs__passes_check() -> None:
    assert registry.check(EXAMPLE) == []
    assert registry.load(EXAMPLE).keys() == [
        "banner-text",
        "billing-v2-backend",
        "new-checkout",
        "search-max-results",
    ]


def test_parse__boolean_flag__defaults_map_to_on_off_with_star_fallback() -> None:
    text = """
[flags.new-checkout]
description = "The one-page checkout"
owner = "payments"
client_visible = true
expires = 2027-03-01
default = { development = true, "*" = false }
"""
    flag = registry.parse(text).flags(ENVS)["new-checkout"]

    assert flag.registry is not None
    assert flag.registry.defaults == {"development": "on", "staging": "off", "production": "off"}
    assert {k: v.value for k, v in flag.variants.items()} == {"on": True, "off": False}
    assert (flag.value_type, flag.kind, flag.owner) == (
        ValueType.BOOLEAN,
        FlagKind.RELEASE,
        "payments",
    )
    assert flag.expires_at == datetime(2027, 3, 1, tzinfo=UTC)
    assert (flag.name, flag.client_visible, flag.temporary) == ("new-checkout", True, True)


def test_parse__number_flag__one_default_for_every_environment() -> None:
    text = """
[flags.page-size]
type = "number"
variants = { small = 10, large = 50 }
default = "large"
"""
    flag = registry.parse(text).flags(ENVS)["page-size"]

    assert flag.registry is not None
    assert flag.registry.defaults == dict.fromkeys(ENVS, "large")
    assert flag.variants["small"].value == 10


def test_default_config__registry_flag__enabled_serving_the_default_to_everyone() -> None:
    flag = registry.parse('[flags.a]\ndefault = { production = true, "*" = false }').flags(ENVS)[
        "a"
    ]

    production = registry.default_config(flag, "production")

    assert production is not None
    assert (production.enabled, production.off_variant) == (True, "off")
    assert production.fallthrough.variant == "on"
    assert (production.targets, production.rules) == ((), ())


def test_check__syntax_error__names_the_line() -> None:
    assert problems("[flags.a]\ndefault = true\n\n[flags.b]\ndefault = = 1\n") == [
        "line 5: (file): not valid TOML: Invalid value (at line 5, column 11)"
    ]


def test_check__unknown_field_and_bad_key__named_with_flag_and_line() -> None:
    text = (
        '[flags.ok]\ndefault = true\n\n[flags."Bad Key"]\ndefault = true\n\n'
        "[flags.typo]\ndefualt = true\n"
    )

    found = problems(text)

    assert (
        "line 4: flags.Bad Key.(key): String should match pattern '^[a-z0-9][a-z0-9._-]{0,127}$'"
        in found
    )
    assert "line 7: flags.typo.defualt: Extra inputs are not permitted" in found
    assert "line 7: flags.typo.default: Field required" in found
    assert len(found) == 3


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("default = 1", "flags.x.default: true/false (booleans), a variant key"),
        ('default = "on"', "flags.x.default: a boolean flag's default is true or false, not 'on'"),
        (
            'type = "string"\nvariants = { a = "A" }\ndefault = "b"',
            "flags.x.default: 'b' is not one of the variants ['a']",
        ),
        ('type = "string"\ndefault = "a"', "a string flag lists its 'variants'"),
        ("variants = { a = true }\ndefault = true", "boolean flags have the variants on/off"),
        (
            'type = "number"\nvariants = { a = "ten" }\ndefault = "a"',
            "variant 'a' has value 'ten', which is not of the flag's value_type 'number'",
        ),
        (
            "client_visible = true\ninternal_only = true\ndefault = true",
            "a flag cannot be both client_visible and internal_only",
        ),
        ("temporary = false\nexpires = 2027-01-01\ndefault = true", "'expires' is for temporary"),
        ('kind = "feature"\ndefault = true', "flags.x.kind: Input should be 'release'"),
        (
            f'description = "{"d" * 4001}"\ndefault = true',
            "flags.x.description: String should have at most 4000",
        ),
        (
            "default = { development = true }",
            "flags.x.default: no default for ['staging', 'production']",
        ),
    ],
)
def test_check__invalid_flag__problem_names_flag_and_field(entry: str, expected: str) -> None:
    text = f'environments = ["development", "staging", "production"]\n[flags.x]\n{entry}\n'

    found = problems(text)

    assert len(found) == 1, found
    assert expected in found[0]
    assert found[0].startswith("line 2: ")


def test_check__no_environments_listed__tables_must_agree_with_each_other() -> None:
    text = (
        "[flags.a]\ndefault = { dev = true, prod = false }\n[flags.b]\ndefault = { dev = true }\n"
    )

    assert problems(text) == [
        "line 3: flags.b.default: no default for ['prod']: name them or add \"*\" = ..."
    ]


def test_flags__environment_the_project_lacks__named() -> None:
    parsed = registry.parse("[flags.a]\ndefault = { moon = true, '*' = false }")

    with pytest.raises(RegistryInvalid) as refused:
        parsed.flags(ENVS)

    assert [(p.flag, p.field) for p in refused.value.problems] == [("a", "default.moon")]


def test_load__unreadable_file__one_problem_not_an_exception(tmp_path: Path) -> None:
    [problem] = registry.check(tmp_path / "missing.toml")

    assert problem.field == "(file)"
    assert "cannot read" in problem.message
