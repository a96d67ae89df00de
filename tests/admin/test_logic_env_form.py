"""The environment editor: config → form → config round trips; text parsing; list edits."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ff_admin.logic.env_edits import (
    add_clause,
    add_fallthrough_weight,
    add_prerequisite,
    add_rule,
    add_rule_weight,
    add_target,
    move_rule,
    remove_clause,
    remove_fallthrough_weight,
    remove_prerequisite,
    remove_rule,
    remove_rule_weight,
    remove_target,
    update_clause,
    update_fallthrough_weight,
    update_prerequisite,
    update_rule,
    update_rule_weight,
    update_target,
)
from ff_admin.logic.env_form import (
    OPERATORS,
    ClauseRow,
    EnvForm,
    PrereqRow,
    RuleRow,
    TargetRow,
    WeightRow,
    from_form,
    to_form,
)
from ff_admin.logic.values import parse_values, render_values
from ff_core.models import (
    Clause,
    EnvironmentConfig,
    Flag,
    Operator,
    Prerequisite,
    Rollout,
    Rule,
    Serve,
    Target,
    ValueType,
    Variant,
    WeightedVariant,
)


def flag() -> Flag:
    return Flag(
        key="checkout",
        name="Checkout",
        value_type=ValueType.STRING,
        variants={
            "control": Variant(value="old"),
            "blue": Variant(value="blue"),
            "green": Variant(value="green"),
            "off": Variant(value=""),
        },
    )


def rollout(*weights: tuple[str, int], bucket_by: str = "targeting_key") -> Rollout:
    return Rollout(
        variants=tuple(WeightedVariant(variant=v, weight=w) for v, w in weights),
        bucket_by=bucket_by,
    )


def clause(attribute: str | None, operator: Operator, *values: Any, negate: bool = False) -> Clause:
    return Clause(attribute=attribute, operator=operator, values=values, negate=negate)


RICH = EnvironmentConfig(
    enabled=True,
    off_variant="off",
    targets=(
        Target(variant="blue", values=("alice", "bob")),
        Target(variant="green", values=("acme", "initech"), attribute="tenant"),
    ),
    rules=(
        Rule(
            id="r1",
            description="Beta testers in North America",
            clauses=(
                clause("country", Operator.IN, "US", "CA", "Acme, Inc.", ' "quoted" ', "true"),
                clause("beta", Operator.EQ, True),
                clause("seats", Operator.GTE, 10, 2.5),
                clause("age", Operator.NEQ, 42, "42", 0.5),
                clause(None, Operator.IN_SEGMENT, "staff", "partners", negate=True),
            ),
            serve=Serve(variant="blue"),
        ),
        Rule(
            clauses=(
                clause("email", Operator.MATCHES, r"^a{1,3}@example\.com$", r"\d+,\d+"),
                clause("app_version", Operator.SEMVER_GT, "1.2.3"),
                clause("$now", Operator.AFTER, "2030-01-01T00:00:00Z", 1_900_000_000),
                clause("plan", Operator.EXISTS),
                clause("name", Operator.STARTS_WITH, "Dr.", "007"),
            ),
            serve=Serve(rollout=rollout(("green", 33_333), ("blue", 66_667), bucket_by="tenant")),
        ),
    ),
    fallthrough=Serve(rollout=rollout(("blue", 12_500), ("control", 87_500))),
    prerequisites=(Prerequisite(flag="new-login", variant="on"),),
    version=7,
)


def saved(form: EnvForm) -> EnvironmentConfig:
    config, errors = from_form(form, flag())
    assert errors == {}
    assert config is not None
    return config


def errors_of(form: EnvForm) -> dict[str, str]:
    config, errors = from_form(form, flag())
    assert config is None
    assert errors
    return errors


def simple() -> EnvForm:
    return to_form(
        EnvironmentConfig(
            enabled=True,
            off_variant="off",
            rules=(
                Rule(clauses=(clause("country", Operator.EQ, "US"),), serve=Serve(variant="blue")),
            ),
            fallthrough=Serve(variant="control"),
        ),
        flag(),
    )


# -- round trips -------------------------------------------------------------------------------


def test_from_form__rich_config_to_form__equal_config() -> None:
    assert saved(to_form(RICH, flag())) == RICH


@pytest.mark.parametrize(
    "config",
    [
        EnvironmentConfig(off_variant="off", fallthrough=Serve(variant="control")),
        EnvironmentConfig(
            enabled=True,
            off_variant="control",
            fallthrough=Serve(rollout=rollout(("green", 100_000))),
            version=1,
        ),
    ],
)
def test_from_form__plain_configs__equal_config(config: EnvironmentConfig) -> None:
    assert saved(to_form(config, flag())) == config


def test_to_form__rich_config__readable_text() -> None:
    form = to_form(RICH, flag())
    assert form.variants == ["control", "blue", "green", "off"]
    assert form.targets[1] == TargetRow("green", "acme, initech", "tenant")
    first, second = form.rules
    assert [c.values_text for c in first.clauses] == [
        'US, CA, "Acme, Inc.", " \\"quoted\\" ", "true"',
        "true",
        "10, 2.5",
        '42, "42", 0.5',
        "",
    ]
    assert first.clauses[4] == ClauseRow("", "in_segment", "", True, "staff, partners")
    assert second.clauses[0].values_text == "^a{1,3}@example\\.com$\n\\d+,\\d+"
    assert (second.mode, second.bucket_by) == ("rollout", "tenant")
    assert second.rollout == [
        WeightRow("green", "33.333"),
        WeightRow("blue", "66.667"),
        WeightRow("control", "0"),
        WeightRow("off", "0"),
    ]
    assert form.fallthrough_mode == "rollout"
    assert form.fallthrough_rollout[:2] == [WeightRow("blue", "12.5"), WeightRow("control", "87.5")]
    assert form.prerequisites == [PrereqRow("new-login", "on")]
    assert form.version == 7


def test_to_form__variant_serve__weights_ready_at_100_for_it() -> None:
    form = simple()
    assert (form.fallthrough_mode, form.fallthrough_variant) == ("variant", "control")
    assert form.fallthrough_rollout == [
        WeightRow("control", "100"),
        WeightRow("blue", "0"),
        WeightRow("green", "0"),
        WeightRow("off", "0"),
    ]


# -- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "text", "values"),
    [
        ("in", "US, CA ,,", ("US", "CA")),
        ("in", "US\nCA, MX\n", ("US", "CA, MX")),
        ("eq", 'true, 42, -1.5, 007, "42", True', (True, 42, -1.5, "007", "42", "True")),
        ("gt", "1e3, .5, +2", (1000.0, 0.5, 2)),
        ("contains", "a, 42, true", ("a", "42", "true")),
        ("matches", "a{1,3}\n  b  \n\n", ("a{1,3}", "b")),
        ("before", "2030-01-01, 1700000000", ("2030-01-01", 1_700_000_000)),
        ("semver_eq", "1.2.3, 2", ("1.2.3", "2")),
    ],
)
def test_from_form__values_text__typed_by_operator(
    operator: str, text: str, values: tuple[Any, ...]
) -> None:
    form = update_clause(simple(), 0, 0, operator=operator, values_text=text)
    parsed = saved(form).rules[0].clauses[0].values
    assert parsed == values
    assert [type(v) for v in parsed] == [type(v) for v in values]


def test_from_form__exists__values_text_ignored() -> None:
    form = update_clause(simple(), 0, 0, operator="exists", values_text="left over")
    assert saved(form).rules[0].clauses[0] == Clause(attribute="country", operator=Operator.EXISTS)


def test_from_form__segment_clause__segment_field_used_attribute_ignored() -> None:
    form = update_clause(simple(), 0, 0, operator="in_segment", segment="staff", values_text="x")
    assert saved(form).rules[0].clauses[0] == Clause(
        operator=Operator.IN_SEGMENT, values=("staff",)
    )


def test_from_form__target_keys__commas_and_lines_trimmed_and_deduplicated() -> None:
    form = add_target(simple())
    form = update_target(form, 0, variant="green", keys_text="a, b\nc,,a\n")
    assert saved(form).targets == (Target(variant="green", values=("a", "b", "c")),)


def test_from_form__rollout_rows_at_zero__left_out() -> None:
    form = update_rule(simple(), 0, mode="rollout")
    form = update_rule_weight(form, 0, 0, weight="40")  # control
    form = update_rule_weight(form, 0, 1, weight="60 %")  # blue
    assert saved(form).rules[0].serve == Serve(
        rollout=rollout(("control", 40_000), ("blue", 60_000))
    )


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (
            lambda f: update_clause(f, 0, 0, operator="gt", values_text="1, ten"),
            "rules.0.clauses.0.values",
        ),
        (lambda f: update_clause(f, 0, 0, values_text=" , "), "rules.0.clauses.0.values"),
        (lambda f: update_clause(f, 0, 0, attribute=""), "rules.0.clauses.0.attribute"),
        (lambda f: update_clause(f, 0, 0, attribute="bad attr"), "rules.0.clauses.0.attribute"),
        (lambda f: update_clause(f, 0, 0, operator="like"), "rules.0.clauses.0.operator"),
        (
            lambda f: update_clause(f, 0, 0, operator="matches", values_text="(unclosed"),
            "rules.0.clauses.0.values",
        ),
        (
            lambda f: update_clause(f, 0, 0, operator="semver_gt", values_text="not.a.version"),
            "rules.0.clauses.0.values",
        ),
        (
            lambda f: update_clause(f, 0, 0, operator="after", values_text="yesterday"),
            "rules.0.clauses.0.values",
        ),
        (lambda f: update_clause(f, 0, 0, operator="in_segment"), "rules.0.clauses.0.segment"),
        (lambda f: remove_clause(f, 0, 0), "rules.0.clauses"),
        (lambda f: update_rule(f, 0, serve_variant="purple"), "rules.0.serve_variant"),
        (lambda f: update_rule(f, 0, description="d" * 4001), "rules.0.description"),
        (lambda f: update_rule(f, 0, mode="rollout", bucket_by="no way"), "rules.0.bucket_by"),
        (lambda f: update_target(add_target(f), 0, keys_text=" ,\n"), "targets.0.keys"),
        (lambda f: update_target(add_target(f), 0, variant=""), "targets.0.variant"),
        (lambda f: EnvForm(**{**f.__dict__, "off_variant": "nope"}), "off_variant"),
        (
            lambda f: update_prerequisite(add_prerequisite(f), 0, flag="checkout", variant="on"),
            "prerequisites.0.flag",
        ),
        (
            lambda f: update_prerequisite(add_prerequisite(f), 0, flag="Bad Key", variant="on"),
            "prerequisites.0.flag",
        ),
        (
            lambda f: update_prerequisite(add_prerequisite(f), 0, flag="other"),
            "prerequisites.0.variant",
        ),
    ],
)
def test_from_form__bad_field__error_keyed_by_form_path(edit: Any, key: str) -> None:
    errors = errors_of(edit(simple()))
    assert key in errors, errors
    assert errors[key]


def test_from_form__weights_not_adding_up__error_on_the_rollout() -> None:
    form = EnvForm(**{**simple().__dict__, "fallthrough_mode": "rollout"})
    form = update_fallthrough_weight(form, 0, weight="50")
    form = update_fallthrough_weight(form, 1, weight="45")
    errors = errors_of(form)
    assert errors == {
        "fallthrough.rollout": "the weights add up to 95 %; they must add up to 100 %"
    }


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        ("abc", "a percentage from 0 to 100"),
        ("100.5", "a percentage from 0 to 100"),
        ("1.2345", "three decimals"),
    ],
)
def test_from_form__bad_weight__error_on_that_row(weight: str, message: str) -> None:
    form = update_rule(simple(), 0, mode="rollout")
    form = update_rule_weight(form, 0, 2, weight=weight)
    assert message in errors_of(form)["rules.0.rollout.2.weight"]


def test_from_form__same_variant_twice_in_a_rollout__error_on_the_second() -> None:
    form = EnvForm(**{**simple().__dict__, "fallthrough_mode": "rollout"})
    form = add_fallthrough_weight(form)
    form = update_fallthrough_weight(form, 0, weight="50")
    form = update_fallthrough_weight(form, 4, variant="control", weight="50")
    assert "fallthrough.rollout.4.variant" in errors_of(form)


def test_from_form__too_many_rules__error_on_rules() -> None:
    form = simple()
    form.rules = form.rules * 101
    assert "rules" in errors_of(form)


# -- list edits --------------------------------------------------------------------------------


def test_add_rule__form__one_empty_condition_serving_the_fallthrough_variant() -> None:
    form = add_rule(simple())
    assert form.rules[1] == RuleRow(
        clauses=[ClauseRow()],
        serve_variant="control",
        rollout=[
            WeightRow("control", "100"),
            WeightRow("blue", "0"),
            WeightRow("green", "0"),
            WeightRow("off", "0"),
        ],
    )


def test_list_edits__any__argument_left_unchanged() -> None:
    form = simple()
    before = to_form(saved(form), flag())
    for edited in [
        add_rule(form),
        remove_rule(form, 0),
        move_rule(form, 0, 1),
        update_rule(form, 0, description="x"),
        add_clause(form, 0),
        remove_clause(form, 0, 0),
        update_clause(form, 0, 0, attribute="plan"),
        add_rule_weight(form, 0),
        remove_rule_weight(form, 0, 0),
        update_rule_weight(form, 0, 0, weight="1"),
        add_fallthrough_weight(form),
        remove_fallthrough_weight(form, 0),
        update_fallthrough_weight(form, 0, weight="1"),
        add_target(form),
        remove_target(form, 0),
        update_target(form, 0, keys_text="x"),
        add_prerequisite(form),
        remove_prerequisite(form, 0),
        update_prerequisite(form, 0, flag="x"),
    ]:
        assert edited is not form
    assert form == before


def test_move_rule__delta__moves_and_stops_at_the_ends() -> None:
    form = add_rule(add_rule(simple()))
    form = update_rule(update_rule(update_rule(form, 0, id="a"), 1, id="b"), 2, id="c")
    assert [r.id for r in move_rule(form, 0, 1).rules] == ["b", "a", "c"]
    assert [r.id for r in move_rule(form, 2, -1).rules] == ["a", "c", "b"]
    assert [r.id for r in move_rule(form, 0, -1).rules] == ["a", "b", "c"]
    assert [r.id for r in move_rule(form, 1, 5).rules] == ["a", "c", "b"]
    assert [r.id for r in move_rule(form, 9, 1).rules] == ["a", "b", "c"]


def test_add_and_remove_clause__rule__conditions_follow() -> None:
    form = update_clause(add_clause(simple(), 0), 0, 1, attribute="plan", values_text="pro")
    assert [c.attribute for c in form.rules[0].clauses] == ["country", "plan"]
    assert [c.attribute for c in remove_clause(form, 0, 0).rules[0].clauses] == ["plan"]
    assert saved(form).rules[0].clauses[1] == Clause(
        attribute="plan", operator=Operator.EQ, values=("pro",)
    )


def test_remove__index_out_of_range__form_unchanged() -> None:
    form = simple()
    assert remove_rule(form, 5) == form
    assert remove_clause(form, 0, 5) == form
    assert remove_target(form, 0) == form
    assert remove_fallthrough_weight(form, -1) == form


def test_operators__core_operators__all_listed() -> None:
    assert [op.value for op in Operator] == OPERATORS
    assert {"eq", "in_segment", "semver_gt", "exists", "before"} <= set(OPERATORS)


# -- values text, generated --------------------------------------------------------------------

scalars = st.one_of(
    st.text(max_size=20),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
)


@given(values=st.lists(scalars, min_size=1, max_size=5), operator=st.sampled_from(["eq", "not_in"]))
def test_render_values__typed_operator__parse_values_reads_the_same_values_and_types(
    values: list[Any], operator: str
) -> None:
    parsed = parse_values(operator, render_values(operator, values))
    assert [(type(v), v) for v in parsed] == [(type(v), v) for v in values]


@given(values=st.lists(st.text(max_size=20), min_size=1, max_size=5))
def test_render_values__string_operator__parse_values_reads_the_same_strings(
    values: list[str],
) -> None:
    assert parse_values("contains", render_values("contains", values)) == values
