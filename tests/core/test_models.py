"""Model validation: every limit of ``ff_core.limits`` is enforced with an error that names
the field (pydantic ``loc``) and a message that names the limit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from pydantic import ValidationError

from ff_core import limits
from ff_core.evaluation import CompiledEnvironment, Reason, evaluate
from ff_core.models import (
    Clause,
    EnvironmentConfig,
    Flag,
    Invitation,
    InvitationStatus,
    Role,
    Rollout,
    Rule,
    Segment,
    SegmentRule,
    Serve,
    Target,
    Variant,
    boolean_variants,
)

ENV = ("environments", "production")


def _env(**config: Any) -> dict[str, Any]:
    return {"enabled": True, "off_variant": "off", "fallthrough": {"variant": "on"}, **config}


def _flag(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": "checkout",
        "name": "Checkout",
        "salt": "s",
        "variants": {"on": {"value": True}, "off": {"value": False}},
        "environments": {"production": _env()},
    }
    data.update(fields)
    return data


def _flag_with(**config: Any) -> dict[str, Any]:
    return _flag(environments={"production": _env(**config)})


def _clause(**fields: Any) -> dict[str, Any]:
    return {"attribute": "country", "operator": "eq", "values": ["DE"], **fields}


def _rule(*clauses: dict[str, Any], variant: str = "on") -> dict[str, Any]:
    return {"clauses": list(clauses) or [_clause()], "serve": {"variant": variant}}


def _refused(build: Callable[[], object], loc: tuple[str | int, ...], *words: str) -> None:
    """``build`` raises a ValidationError with an error at ``loc`` whose message has ``words``."""
    with pytest.raises(ValidationError) as caught:
        build()
    errors = caught.value.errors()
    at_loc = [e for e in errors if e["loc"] == loc]
    assert at_loc, f"no error at {loc}: {[(e['loc'], e['msg']) for e in errors]}"
    messages = " / ".join(e["msg"] for e in at_loc)
    for word in words:
        assert word in messages, f"{word!r} not in {messages!r}"


# Keys and names


def test_flag_key__128_characters__accepted() -> None:
    assert Flag.model_validate(_flag(key="a" * 128)).key == "a" * 128


def test_flag_key__129_characters__refused_naming_the_pattern() -> None:
    _refused(lambda: Flag.model_validate(_flag(key="a" * 129)), ("key",), limits.FLAG_KEY_PATTERN)


@pytest.mark.parametrize("key", ["", "Checkout", "-checkout", ".a", "with space", "a/b", "a\n"])
def test_flag_key__outside_the_pattern__refused(key: str) -> None:
    _refused(lambda: Flag.model_validate(_flag(key=key)), ("key",), "pattern")


@pytest.mark.parametrize("key", ["a", "0", "checkout.v2_new-ui", "a" * 128])
def test_flag_key__inside_the_pattern__accepted(key: str) -> None:
    Flag.model_validate(_flag(key=key))


def test_flag_name__empty_or_over_limit__refused() -> None:
    _refused(lambda: Flag.model_validate(_flag(name="")), ("name",), "at least 1")
    Flag.model_validate(_flag(name="n" * limits.MAX_NAME_LENGTH))
    _refused(
        lambda: Flag.model_validate(_flag(name="n" * (limits.MAX_NAME_LENGTH + 1))),
        ("name",),
        f"at most {limits.MAX_NAME_LENGTH}",
    )


def test_flag_tags__over_limit__refused() -> None:
    tags = [f"t{i}" for i in range(limits.MAX_TAGS)]
    Flag.model_validate(_flag(tags=tags))
    _refused(
        lambda: Flag.model_validate(_flag(tags=[*tags, "one-more"])),
        ("tags",),
        f"at most {limits.MAX_TAGS}",
    )


def test_flag_environments__over_limit__refused() -> None:
    envs = {f"env{i}": _env() for i in range(limits.MAX_ENVIRONMENTS)}
    Flag.model_validate(_flag(environments=envs))
    _refused(
        lambda: Flag.model_validate(_flag(environments={**envs, "one-more": _env()})),
        ("environments",),
        f"at most {limits.MAX_ENVIRONMENTS}",
    )


def test_environment_key__outside_the_pattern__refused() -> None:
    _refused(
        lambda: Flag.model_validate(_flag(environments={"Prod": _env()})),
        ("environments", "Prod", "[key]"),
        "pattern",
    )


def test_variant_key__64_characters_ok_65_refused() -> None:
    Flag.model_validate(
        _flag(variants={"v" * 64: {"value": True}, "off": {"value": False}}, environments={})
    )
    _refused(
        lambda: Flag.model_validate(
            _flag(variants={"v" * 65: {"value": True}, "off": {"value": False}}, environments={})
        ),
        ("variants", "v" * 65, "[key]"),
        limits.VARIANT_KEY_PATTERN,
    )


@pytest.mark.parametrize("attribute", ["$now", "user.plan", "a:b-c", "_x", "a" * 128])
def test_clause_attribute__inside_the_pattern__accepted(attribute: str) -> None:
    Clause.model_validate(_clause(attribute=attribute))


@pytest.mark.parametrize("attribute", ["", "1abc", "a b", "a/b", "a" * 129])
def test_clause_attribute__outside_the_pattern__refused(attribute: str) -> None:
    _refused(
        lambda: Clause.model_validate(_clause(attribute=attribute)),
        ("attribute",),
        limits.ATTRIBUTE_PATTERN,
    )


# Counts


def test_environment_rules__100__accepted() -> None:
    rules = [_rule()] * limits.MAX_RULES_PER_ENVIRONMENT
    flag = Flag.model_validate(_flag_with(rules=rules))
    assert len(flag.environments["production"].rules) == 100


def test_environment_rules__101__refused_naming_the_limit() -> None:
    rules = [_rule()] * (limits.MAX_RULES_PER_ENVIRONMENT + 1)
    _refused(
        lambda: Flag.model_validate(_flag_with(rules=rules)),
        (*ENV, "rules"),
        "at most 100 items",
    )


def test_clause_values__1000__accepted() -> None:
    values = [str(i) for i in range(limits.MAX_VALUES_PER_CLAUSE)]
    assert len(Clause.model_validate(_clause(values=values)).values) == 1000


def test_clause_values__1001__refused_naming_the_limit() -> None:
    values = [str(i) for i in range(limits.MAX_VALUES_PER_CLAUSE + 1)]
    _refused(lambda: Clause.model_validate(_clause(values=values)), ("values",), "at most 1000")


def test_flag_variants__64__accepted() -> None:
    variants = {f"v{i}": {"value": i % 2 == 0} for i in range(limits.MAX_VARIANTS)}
    Flag.model_validate(_flag(variants=variants, environments={}))


def test_flag_variants__65__refused_naming_the_limit() -> None:
    variants = {f"v{i}": {"value": True} for i in range(limits.MAX_VARIANTS + 1)}
    _refused(
        lambda: Flag.model_validate(_flag(variants=variants, environments={})),
        ("variants",),
        "at most 64",
    )


def test_flag_variants__none__refused() -> None:
    _refused(lambda: Flag.model_validate(_flag(variants={})), ("variants",), "at least 1")


def test_rollout_variants__65__refused_naming_the_limit() -> None:
    weights = [{"variant": f"v{i}", "weight": 0} for i in range(limits.MAX_VARIANTS + 1)]
    weights[0]["weight"] = limits.ROLLOUT_TOTAL
    _refused(lambda: Rollout.model_validate({"variants": weights}), ("variants",), "at most 64")


def test_rule_clauses__32_ok_33_refused() -> None:
    Rule.model_validate(_rule(*[_clause()] * limits.MAX_CLAUSES_PER_RULE))
    _refused(
        lambda: Rule.model_validate(_rule(*[_clause()] * (limits.MAX_CLAUSES_PER_RULE + 1))),
        ("clauses",),
        "at most 32",
    )


def test_rule_clauses__none__refused() -> None:
    _refused(
        lambda: Rule.model_validate({"clauses": [], "serve": {"variant": "on"}}),
        ("clauses",),
        "at least 1",
    )


def test_environment_targets__64_ok_65_refused() -> None:
    targets = [{"variant": "on", "values": [f"user-{i}"]} for i in range(64)]
    Flag.model_validate(_flag_with(targets=targets))
    _refused(
        lambda: Flag.model_validate(_flag_with(targets=[*targets, targets[0]])),
        (*ENV, "targets"),
        f"at most {limits.MAX_TARGETS_PER_ENVIRONMENT}",
    )


def test_target_values__10000_ok_10001_refused() -> None:
    values = [f"user-{i}" for i in range(limits.MAX_VALUES_PER_TARGET)]
    Target.model_validate({"variant": "on", "values": values})
    _refused(
        lambda: Target.model_validate({"variant": "on", "values": [*values, "one-more"]}),
        ("values",),
        "at most 10000",
    )


def test_target_values__none__refused() -> None:
    _refused(
        lambda: Target.model_validate({"variant": "on", "values": []}), ("values",), "at least 1"
    )


def test_environment_prerequisites__16_ok_17_refused() -> None:
    prerequisites = [{"flag": f"other-{i}", "variant": "on"} for i in range(16)]
    Flag.model_validate(_flag_with(prerequisites=prerequisites))
    _refused(
        lambda: Flag.model_validate(
            _flag_with(prerequisites=[*prerequisites, {"flag": "more", "variant": "on"}])
        ),
        (*ENV, "prerequisites"),
        f"at most {limits.MAX_PREREQUISITES}",
    )


def test_segment_keys__10000_ok_10001_refused() -> None:
    keys = [f"user-{i}" for i in range(limits.MAX_SEGMENT_KEYS)]
    Segment.model_validate({"key": "s", "name": "S", "included": keys, "excluded": keys})
    for field in ("included", "excluded"):
        data = {"key": "s", "name": "S", field: [*keys, "one-more"]}
        _refused(partial(Segment.model_validate, data), (field,), "at most 10000")


def test_segment_rules__100_ok_101_refused() -> None:
    rules = [{"clauses": [_clause()]}] * limits.MAX_SEGMENT_RULES
    Segment.model_validate({"key": "s", "name": "S", "rules": rules})
    _refused(
        lambda: Segment.model_validate({"key": "s", "name": "S", "rules": [*rules, rules[0]]}),
        ("rules",),
        "at most 100",
    )


def test_segment_rule__in_segment_clause__refused() -> None:
    _refused(
        lambda: SegmentRule.model_validate(
            {"clauses": [{"operator": "in_segment", "values": ["other"]}]}
        ),
        (),
        "cannot refer to another segment",
    )


# Clause values


def test_clause_value__1024_characters_ok_1025_refused() -> None:
    Clause.model_validate(_clause(values=["x" * limits.MAX_CLAUSE_VALUE_LENGTH]))
    _refused(
        lambda: Clause.model_validate(_clause(values=["x" * (limits.MAX_CLAUSE_VALUE_LENGTH + 1)])),
        ("values",),
        "at most 1024 characters",
    )


def test_clause_regex__256_characters_ok_257_refused() -> None:
    Clause.model_validate(_clause(operator="matches", values=["a" * limits.MAX_REGEX_LENGTH]))
    _refused(
        lambda: Clause.model_validate(
            _clause(operator="matches", values=["a" * (limits.MAX_REGEX_LENGTH + 1)])
        ),
        (),
        "at most 256 characters",
    )


# Python re syntax RE2 refuses (backreferences, lookaround) is refused too: it could not
# be matched in linear time.
@pytest.mark.parametrize(
    "pattern", ["(", "[a-", "*a", "a{2,1}", r"(a)\1", "a(?=b)", "(?<!x)y", "a{1001}"]
)
def test_clause_regex__invalid__refused_naming_the_pattern(pattern: str) -> None:
    _refused(
        lambda: Clause.model_validate(_clause(operator="matches", values=[pattern])),
        (),
        "invalid regular expression",
        repr(pattern),
    )


def test_clause_regex__invalid_inside_a_flag__error_names_the_clause() -> None:
    bad = _clause(operator="matches", values=["("])
    _refused(
        lambda: Flag.model_validate(_flag_with(rules=[_rule(_clause(), bad)])),
        (*ENV, "rules", 0, "clauses", 1),
        "invalid regular expression",
    )


@pytest.mark.parametrize(
    ("operator", "value", "words"),
    [
        ("contains", 5, "takes string values"),
        ("not_contains", True, "takes string values"),
        ("starts_with", 1.5, "takes string values"),
        ("ends_with", 0, "takes string values"),
        ("matches", 1, "takes string values"),
        ("gt", "5", "takes numbers"),
        ("gte", True, "takes numbers"),
        ("lt", "ten", "takes numbers"),
        ("lte", False, "takes numbers"),
        ("semver_eq", "latest", "takes semantic versions"),
        ("semver_gt", 1, "takes semantic versions"),
        ("semver_lt", "1.2.3.4", "takes semantic versions"),
        ("before", "next tuesday", "takes ISO 8601 dates or epoch seconds"),
        ("after", True, "takes ISO 8601 dates or epoch seconds"),
        ("after", 10**400, "takes ISO 8601 dates or epoch seconds"),
    ],
)
def test_clause_value__wrong_type_for_operator__refused_naming_the_operator(
    operator: str, value: Any, words: str
) -> None:
    _refused(
        lambda: Clause.model_validate(_clause(operator=operator, values=[value])),
        (),
        f"operator {operator!r}",
        words,
    )


def test_clause_in_segment__non_string_value__refused() -> None:
    _refused(
        lambda: Clause.model_validate({"operator": "in_segment", "values": [5]}),
        (),
        "'in_segment' takes string values",
    )


@pytest.mark.parametrize(
    ("operator", "values"),
    [("eq", [1, "1", True, 1.5]), ("in", ["a"]), ("gt", [1, 2.5]), ("semver_gt", ["1", "v1.2"])],
)
def test_clause_value__right_type_for_operator__accepted(operator: str, values: list[Any]) -> None:
    clause = Clause.model_validate(_clause(operator=operator, values=values))
    assert list(clause.values) == values
    assert [type(v) for v in clause.values] == [type(v) for v in values]


def test_clause_value__nan__refused() -> None:
    _refused(
        lambda: Clause.model_validate(_clause(operator="gt", values=[float("nan")])),
        ("values",),
        "NaN",
    )


def test_clause_exists__with_values__refused() -> None:
    _refused(
        lambda: Clause.model_validate(_clause(operator="exists", values=["x"])),
        (),
        "'exists' takes no values",
    )


def test_clause_operator__without_values__refused() -> None:
    _refused(
        lambda: Clause.model_validate(_clause(operator="eq", values=[])),
        (),
        "'eq' needs at least one value",
    )


def test_clause_in_segment__with_attribute__refused() -> None:
    _refused(
        lambda: Clause.model_validate(_clause(operator="in_segment", values=["s"])),
        (),
        "no attribute",
    )


def test_clause_operator__without_attribute__refused() -> None:
    _refused(
        lambda: Clause.model_validate({"operator": "eq", "values": ["x"]}),
        (),
        "'eq' needs an attribute",
    )


def test_clause_operator__unknown__refused() -> None:
    _refused(lambda: Clause.model_validate(_clause(operator="like")), ("operator",), "'eq'")


# Serving


def test_rollout__weights_not_100000__refused_naming_the_total() -> None:
    rollout = {
        "variants": [{"variant": "on", "weight": 50_000}, {"variant": "off", "weight": 49_999}]
    }
    _refused(
        lambda: Flag.model_validate(_flag_with(fallthrough={"rollout": rollout})),
        (*ENV, "fallthrough", "rollout"),
        "must add up to 100000",
        "got 99999",
    )


def test_rollout__weight_out_of_range__refused() -> None:
    _refused(
        lambda: Rollout.model_validate({"variants": [{"variant": "on", "weight": -1}]}),
        ("variants", 0, "weight"),
        "greater than or equal to 0",
    )
    _refused(
        lambda: Rollout.model_validate({"variants": [{"variant": "on", "weight": 100_001}]}),
        ("variants", 0, "weight"),
        "less than or equal to 100000",
    )


def test_rollout__variant_twice__refused() -> None:
    weights = [{"variant": "on", "weight": 50_000}, {"variant": "on", "weight": 50_000}]
    _refused(lambda: Rollout.model_validate({"variants": weights}), (), "at most once")


def test_rollout__weights_in_a_rule__error_names_the_rule() -> None:
    rollout = {"variants": [{"variant": "on", "weight": 1}]}
    rule = {"clauses": [_clause()], "serve": {"rollout": rollout}}
    _refused(
        lambda: Flag.model_validate(_flag_with(rules=[_rule(), rule])),
        (*ENV, "rules", 1, "serve", "rollout"),
        "must add up to 100000",
    )


@pytest.mark.parametrize(
    "serve",
    [{}, {"variant": "on", "rollout": {"variants": [{"variant": "on", "weight": 100_000}]}}],
)
def test_serve__neither_or_both__refused(serve: dict[str, Any]) -> None:
    _refused(
        lambda: Flag.model_validate(_flag_with(fallthrough=serve)),
        (*ENV, "fallthrough"),
        "exactly one of 'variant' or 'rollout'",
    )


@pytest.mark.parametrize(
    ("value_type", "value"),
    [("boolean", "yes"), ("boolean", 1), ("number", True), ("number", "1"), ("string", 1)],
)
def test_flag_variant__value_not_of_value_type__refused_naming_the_variant(
    value_type: str, value: Any
) -> None:
    variants = {"on": {"value": value}, "off": {"value": value}}
    _refused(
        lambda: Flag.model_validate(_flag(value_type=value_type, variants=variants)),
        (),
        "variant 'on'",
        f"value_type {value_type!r}",
    )


def test_flag_variant__json_value_type__accepts_any_json() -> None:
    variants = {"on": {"value": {"a": [1, None]}}, "off": {"value": None}}
    Flag.model_validate(_flag(value_type="json", variants=variants))


@pytest.mark.parametrize(
    "config",
    [
        {"off_variant": "nope"},
        {"fallthrough": {"variant": "nope"}},
        {"targets": [{"variant": "nope", "values": ["u"]}]},
        {"rules": [_rule(variant="nope")]},
        {
            "fallthrough": {
                "rollout": {
                    "variants": [
                        {"variant": "on", "weight": 50_000},
                        {"variant": "nope", "weight": 50_000},
                    ]
                }
            }
        },
    ],
)
def test_environment__serves_unknown_variant__refused_naming_it(config: dict[str, Any]) -> None:
    _refused(
        lambda: Flag.model_validate(_flag_with(**config)),
        (),
        "environment 'production' serves unknown variant(s) ['nope']",
        "['off', 'on']",
    )


def test_environment__self_prerequisite__refused() -> None:
    _refused(
        lambda: Flag.model_validate(
            _flag_with(prerequisites=[{"flag": "checkout", "variant": "on"}])
        ),
        (),
        "cannot be its own prerequisite",
    )


# Shape: unknown fields, frozen, replace


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        (_flag(colour="red"), ("colour",)),
        (_flag_with(kill_switch=True), (*ENV, "kill_switch")),
        (
            _flag_with(rules=[_rule(_clause(ignore_case=True))]),
            (*ENV, "rules", 0, "clauses", 0, "ignore_case"),
        ),
        (_flag(variants={"on": {"value": True, "weight": 1}}), ("variants", "on", "weight")),
    ],
)
def test_models__unknown_field__refused_naming_it(
    data: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    _refused(lambda: Flag.model_validate(data), loc, "Extra inputs are not permitted")


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (Flag.model_validate(_flag()), "key", "other"),
        (Clause.model_validate(_clause()), "negate", True),
        (EnvironmentConfig.model_validate(_env()), "enabled", False),
        (Serve(variant="on"), "variant", "off"),
        (Variant(value=True), "value", False),
    ],
)
def test_models__assignment__refused_as_frozen(model: Any, field: str, value: Any) -> None:
    _refused(lambda: setattr(model, field, value), (field,), "frozen")
    assert getattr(model, field) != value


def test_models__nested_tuples__immutable() -> None:
    flag = Flag.model_validate(_flag_with(rules=[_rule()]))
    rules = flag.environments["production"].rules
    assert isinstance(rules, tuple)
    assert isinstance(rules[0].clauses[0].values, tuple)


def test_replace__valid_change__new_validated_copy() -> None:
    flag = Flag.model_validate(_flag())

    renamed = flag.replace(name="Checkout v2", tags=["web"])

    assert (renamed.name, renamed.tags, renamed.salt) == ("Checkout v2", ("web",), "s")
    assert flag.name == "Checkout"


def test_replace__bad_key__refused() -> None:
    flag = Flag.model_validate(_flag())
    _refused(lambda: flag.replace(key="a" * 129), ("key",), limits.FLAG_KEY_PATTERN)


def test_replace__cross_field_rule_broken__refused() -> None:
    flag = Flag.model_validate(_flag())
    _refused(
        lambda: flag.replace(variants={"yes": {"value": True}, "no": {"value": False}}),
        (),
        "serves unknown variant(s) ['off', 'on']",
    )
    _refused(lambda: flag.replace(value_type="string"), (), "value_type 'string'")


def test_replace__unknown_field__refused() -> None:
    flag = Flag.model_validate(_flag())
    _refused(lambda: flag.replace(colour="red"), ("colour",), "Extra inputs are not permitted")


def test_replace__limit_on_nested_model__refused() -> None:
    config = EnvironmentConfig.model_validate(_env())
    _refused(
        lambda: config.replace(rules=[_rule()] * (limits.MAX_RULES_PER_ENVIRONMENT + 1)),
        ("rules",),
        "at most 100 items",
    )
    clause = Clause.model_validate(_clause())
    _refused(lambda: clause.replace(operator="gt"), (), "'gt' takes numbers")


def test_boolean_variants__shape__on_true_off_false() -> None:
    variants = boolean_variants()
    assert {k: v.value for k, v in variants.items()} == {"on": True, "off": False}
    Flag(key="b", name="B", variants=variants)


def _invitation(**changes: Any) -> Invitation:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    fields: dict[str, Any] = {
        "id": "i1",
        "project": "demo",
        "email": "a@x.io",
        "role": Role.VIEWER,
        "token_hash": "a" * 64,
        "invited_by": "alice",
        "created_at": t0,
        "expires_at": t0 + timedelta(days=7),
    }
    return Invitation(**(fields | changes))


def test_invitation__mixed_case_email__stored_lower_case() -> None:
    assert _invitation(email=" Carol@Example.COM ").email == "carol@example.com"


def test_invitation__inconsistent_times_or_acceptance__refused() -> None:
    t0 = _invitation().created_at
    _refused(lambda: _invitation(expires_at=t0), (), "expires after it is created")
    _refused(lambda: _invitation(accepted_at=t0), (), "set together")
    _refused(lambda: _invitation(email="nobody"), ("email",), "pattern")


def test_invitation_status__each_state__accepted_revoked_expired_pending() -> None:
    pending = _invitation()
    at = pending.created_at + timedelta(days=1)
    expiry = pending.expires_at

    assert pending.status(at) is InvitationStatus.PENDING
    assert pending.status(expiry) is InvitationStatus.EXPIRED
    assert pending.replace(revoked_at=at).status(at) is InvitationStatus.REVOKED
    accepted = pending.replace(accepted_at=at, accepted_by="a@x.io")
    assert accepted.status(expiry + timedelta(days=30)) is InvitationStatus.ACCEPTED


def test_environment__regexes_at_the_limit__accepted_one_more_refused() -> None:
    def rules(regexes: int) -> list[dict[str, Any]]:
        values = [f"^v{i}$" for i in range(regexes)]
        chunks = [values[i : i + 50] for i in range(0, len(values), 50)]
        return [_rule(_clause(operator="matches", values=chunk)) for chunk in chunks]

    Flag.model_validate(_flag_with(rules=rules(limits.MAX_REGEXES)))
    _refused(
        lambda: Flag.model_validate(_flag_with(rules=rules(limits.MAX_REGEXES + 1))),
        ENV,
        f"at most {limits.MAX_REGEXES} regular expressions per environment",
    )


def test_segment__regexes_over_the_limit__refused() -> None:
    rule = {"clauses": [_clause(operator="matches", values=[f"^v{i}$" for i in range(60)])]}

    Segment.model_validate({"key": "s", "name": "S", "rules": [rule]})
    _refused(
        lambda: Segment.model_validate({"key": "s", "name": "S", "rules": [rule, rule]}),
        (),
        f"at most {limits.MAX_REGEXES} regular expressions per segment",
    )


def test_matches__catastrophic_pattern__answers_without_backtracking() -> None:
    # ^(a+)+$ on 'a' * n + '!' takes 2^n steps under Python's re; RE2 is linear. n = 64
    # would not finish in a lifetime with backtracking.
    flag = Flag.model_validate(
        _flag_with(rules=[_rule(_clause(attribute="text", operator="matches", values=["^(a+)+$"]))])
    )
    env = CompiledEnvironment("production", [flag])

    got = evaluate(env, flag.key, {"targeting_key": "u", "text": "a" * 64 + "!"})

    assert got.reason is not Reason.TARGETING_MATCH
    assert got.error_code is None
