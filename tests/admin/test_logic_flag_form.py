"""The create-flag form: a valid Flag with its initial rollout, or messages by form field."""

from __future__ import annotations

from typing import Any

import pytest

from ff_admin.logic.flag_form import NewFlagForm, VariantRow, parse_new_flag, parse_tags
from ff_core.evaluation import CompiledEnvironment, Reason, evaluate
from ff_core.models import EnvironmentConfig, Flag, Rollout, Serve, WeightedVariant

ENVS = ("development", "staging", "production")


def form(**fields: Any) -> NewFlagForm:
    return NewFlagForm(**{"name": "New checkout", **fields})


def parsed(f: NewFlagForm) -> Flag:
    flag, errors = parse_new_flag(f, ENVS)
    assert errors == {}
    assert flag is not None
    return flag


def errors_of(f: NewFlagForm) -> dict[str, str]:
    flag, errors = parse_new_flag(f, ENVS)
    assert flag is None
    return errors


def test_parse_new_flag__boolean__on_off_variants_and_fields() -> None:
    flag = parsed(
        form(
            key="",
            description="The new flow",
            tags="web, payments, ,web",
            kind="experiment",
            client_visible=True,
            temporary=False,
            variants=[VariantRow("ignored", "1")],
        )
    )
    assert flag.key == "new-checkout"
    assert flag.name == "New checkout"
    assert (flag.description, flag.tags, flag.kind.value) == (
        "The new flow",
        ("web", "payments"),
        "experiment",
    )
    assert (flag.client_visible, flag.temporary) == (True, False)
    assert {k: v.value for k, v in flag.variants.items()} == {"on": True, "off": False}


def test_parse_new_flag__full_rollout__every_environment_disabled_serving_on() -> None:
    flag = parsed(form(initial_rollout=100))
    expected = EnvironmentConfig(enabled=False, off_variant="off", fallthrough=Serve(variant="on"))
    assert flag.environments == dict.fromkeys(ENVS, expected)


def test_parse_new_flag__zero_rollout__fallthrough_serves_off() -> None:
    flag = parsed(form(initial_rollout=0))
    assert {c.fallthrough.variant for c in flag.environments.values()} == {"off"}


def test_parse_new_flag__partial_rollout__on_first_then_off() -> None:
    flag = parsed(form(initial_rollout=10))
    rollout = Rollout(
        variants=(
            WeightedVariant(variant="on", weight=10_000),
            WeightedVariant(variant="off", weight=90_000),
        )
    )
    assert {env: c.fallthrough for env, c in flag.environments.items()} == dict.fromkeys(
        ENVS, Serve(rollout=rollout)
    )


def test_parse_new_flag__partial_rollout__takes_effect_once_enabled() -> None:
    flag = parsed(form(initial_rollout=30))
    config = flag.environments["production"].replace(enabled=True)
    env = CompiledEnvironment("production", [flag.replace(environments={"production": config})])
    results = [evaluate(env, flag.key, {"targeting_key": f"u{i}"}) for i in range(2000)]
    on = sum(r.value is True for r in results)
    assert {r.reason for r in results} == {Reason.SPLIT}
    assert 500 < on < 700


def test_parse_new_flag__string_variants__values_as_typed_off_is_last() -> None:
    flag = parsed(
        form(
            value_type="string",
            variants=[VariantRow("blue", " Blue "), VariantRow("green", "")],
            initial_rollout=50,
        )
    )
    assert {k: v.value for k, v in flag.variants.items()} == {"blue": " Blue ", "green": ""}
    rollout = flag.environments["staging"].fallthrough.rollout
    assert rollout is not None
    assert [(w.variant, w.weight) for w in rollout.variants] == [
        ("blue", 50_000),
        ("green", 50_000),
    ]
    assert flag.environments["staging"].off_variant == "green"


def test_parse_new_flag__number_and_json__parsed() -> None:
    numbers = parsed(
        form(value_type="number", variants=[VariantRow("low", "1"), VariantRow("high", "2.5e3")])
    )
    assert [v.value for v in numbers.variants.values()] == [1, 2500.0]
    config = parsed(
        form(
            value_type="json",
            variants=[VariantRow("a", '{"x": [1, null]}'), VariantRow("b", '"s"')],
        )
    )
    assert [v.value for v in config.variants.values()] == [{"x": [1, None]}, "s"]


def test_parse_new_flag__explicit_key__kept() -> None:
    assert parsed(form(key=" checkout.v2 ")).key == "checkout.v2"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "!!!", "key": ""}, "key"),
        ({"key": "Bad Key"}, "key"),
        ({"name": "x" * 201}, "name"),
        ({"description": "d" * 4001}, "description"),
        ({"tags": "t" * 65}, "tags"),
        ({"kind": "bogus"}, "kind"),
        ({"value_type": "date", "variants": [VariantRow("a", "1")]}, "value_type"),
        ({"initial_rollout": 101}, "initial_rollout"),
        ({"value_type": "string"}, "variants"),
        ({"value_type": "string", "variants": [VariantRow("", "x")]}, "variants.0.key"),
        ({"value_type": "string", "variants": [VariantRow("a b", "x")]}, "variants.0.key"),
        (
            {"value_type": "string", "variants": [VariantRow("a", "x"), VariantRow("a", "y")]},
            "variants.1.key",
        ),
        (
            {"value_type": "number", "variants": [VariantRow("a", "1"), VariantRow("b", "ten")]},
            "variants.1.value",
        ),
        ({"value_type": "number", "variants": [VariantRow("a", "NaN")]}, "variants.0.value"),
        ({"value_type": "json", "variants": [VariantRow("a", "{oops")]}, "variants.0.value"),
        ({"value_type": "json", "variants": [VariantRow("a", "NaN")]}, "variants.0.value"),
    ],
)
def test_parse_new_flag__bad_field__error_keyed_by_that_field(
    fields: dict[str, Any], field: str
) -> None:
    errors = errors_of(form(**fields))
    assert field in errors
    assert errors[field]


def test_parse_new_flag__bad_value__no_error_on_other_fields() -> None:
    errors = errors_of(
        form(value_type="number", variants=[VariantRow("a", "x"), VariantRow("b", "2")])
    )
    assert errors.keys() == {"variants.0.value"}


def test_parse_new_flag__several_problems__all_reported() -> None:
    errors = errors_of(
        form(name="", key="", kind="nope", value_type="string", variants=[VariantRow("", "")])
    )
    assert {"name", "key", "kind", "variants.0.key"} <= errors.keys()


def test_parse_tags__text__trimmed_deduplicated_in_order() -> None:
    assert parse_tags(" b, a ,, b,c ") == ["b", "a", "c"]
