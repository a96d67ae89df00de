"""History diffs: dotted paths, compact values, bookkeeping skipped; one-line summaries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ff_admin.logic.diff import DiffLine, diff_values, summarise
from ff_core.models import (
    Action,
    Actor,
    ActorKind,
    Clause,
    EntityKind,
    EnvironmentConfig,
    Flag,
    HistoryEntry,
    Operator,
    Rollout,
    Rule,
    Serve,
    WeightedVariant,
    boolean_variants,
)

AT = datetime(2030, 1, 1, tzinfo=UTC)


def config(**fields: Any) -> EnvironmentConfig:
    return EnvironmentConfig(**{"off_variant": "off", "fallthrough": Serve(variant="on"), **fields})


def flag(**fields: Any) -> Flag:
    data: dict[str, Any] = {
        "key": "checkout",
        "name": "Checkout",
        "salt": "s",
        "variants": boolean_variants(),
        "environments": {"staging": config(), "production": config()},
        "version": 1,
        "created_at": AT,
        "updated_at": AT,
        **fields,
    }
    return Flag(**data)


def doc(f: Flag) -> dict[str, Any]:
    return f.model_dump(mode="json")


def entry(
    action: Action, old: Flag | None, new: Flag | None, *envs: str, **fields: Any
) -> HistoryEntry:
    data: dict[str, Any] = {
        "id": "h2",
        "project": "shop",
        "entity": EntityKind.FLAG,
        "key": "checkout",
        "action": action,
        "actor": Actor(kind=ActorKind.USER, subject="alice"),
        "at": AT,
        "environment": envs[0] if len(envs) == 1 else None,
        "environments": envs,
        "old": None if old is None else doc(old),
        "new": None if new is None else doc(new),
        "version": 2,
        "seq": 2,
        **fields,
    }
    return HistoryEntry(**data)


RULE = Rule(
    clauses=(Clause(attribute="country", operator=Operator.IN, values=("US", "CA")),),
    serve=Serve(variant="on"),
)


# -- diff_values -------------------------------------------------------------------------------


def test_diff_values__nested_change__dotted_path_and_compact_json() -> None:
    old = flag()
    new = flag(
        environments={"staging": config(), "production": config(enabled=True)},
        tags=("web",),
        name="Checkout v2",
    )
    assert diff_values(doc(old), doc(new)) == [
        DiffLine("name", '"Checkout"', '"Checkout v2"', "changed"),
        DiffLine("tags", "[]", '["web"]', "changed"),
        DiffLine("environments.production.enabled", "false", "true", "changed"),
    ]


def test_diff_values__bookkeeping__skipped() -> None:
    old = flag()
    later = datetime(2031, 1, 1, tzinfo=UTC)
    new = flag(
        version=5,
        updated_at=later,
        created_at=later,
        environments={"staging": config(version=3), "production": config(version=9)},
    )
    assert diff_values(doc(old), doc(new)) == []


def test_diff_values__rule_added__one_line_per_leaf_by_index() -> None:
    old = flag()
    new = flag(environments={"staging": config(rules=(RULE,)), "production": config()})
    lines = diff_values(doc(old), doc(new))
    assert {line.change for line in lines} == {"added"}
    assert [(line.path, line.after) for line in lines] == [
        ("environments.staging.rules.0.id", '""'),
        ("environments.staging.rules.0.description", '""'),
        ("environments.staging.rules.0.clauses.0.attribute", '"country"'),
        ("environments.staging.rules.0.clauses.0.operator", '"in"'),
        ("environments.staging.rules.0.clauses.0.values", '["US","CA"]'),
        ("environments.staging.rules.0.clauses.0.negate", "false"),
        ("environments.staging.rules.0.serve.variant", '"on"'),
    ]


def test_diff_values__variant_to_rollout__null_counts_as_absent() -> None:
    rollout = Rollout(
        variants=(
            WeightedVariant(variant="on", weight=10_000),
            WeightedVariant(variant="off", weight=90_000),
        )
    )
    old = flag()
    new = flag(
        environments={"staging": config(fallthrough=Serve(rollout=rollout)), "production": config()}
    )
    lines = diff_values(doc(old), doc(new))
    assert lines[0] == DiffLine("environments.staging.fallthrough.variant", '"on"', "", "removed")
    assert (
        DiffLine("environments.staging.fallthrough.rollout.variants.1.weight", "", "90000", "added")
        in lines
    )
    assert all(line.change in ("removed", "added") for line in lines)


def test_diff_values__created_and_deleted__every_leaf_added_or_removed() -> None:
    added = diff_values(None, doc(flag()))
    removed = diff_values(doc(flag()), None)
    assert {line.change for line in added} == {"added"}
    assert {line.change for line in removed} == {"removed"}
    assert [line.path for line in added] == [line.path for line in removed]
    assert "variants.on.value" in [line.path for line in added]
    assert "version" not in [line.path for line in added]


def test_diff_values__type_changes__shown_as_changed_json() -> None:
    assert diff_values({"value": 1}, {"value": True}) == [DiffLine("value", "1", "true", "changed")]
    assert diff_values({"value": {"a": 1}}, {"value": "x"}) == [
        DiffLine("value", '{"a":1}', '"x"', "changed")
    ]


def test_diff_values__unicode__kept_readable() -> None:
    [line] = diff_values({"name": "Crème"}, {"name": "Brûlée"})
    assert (line.before, line.after) == ('"Crème"', '"Brûlée"')


# -- summarise ---------------------------------------------------------------------------------


def test_summarise__created__created() -> None:
    assert summarise(entry(Action.CREATED, None, flag())) == "created"


def test_summarise__deleted__deleted() -> None:
    assert summarise(entry(Action.DELETED, flag(), None)) == "deleted"


def test_summarise__enabled_set__which_environments_switched_which_way() -> None:
    old = flag(environments={"staging": config(enabled=True), "production": config()})
    new = flag(environments={"staging": config(), "production": config(enabled=True)})
    assert summarise(entry(Action.ENABLED_SET, old, new, "production")) == "enabled in production"
    assert (
        summarise(entry(Action.ENABLED_SET, old, new, "staging", "production"))
        == "enabled in production; disabled in staging"
    )


@pytest.mark.parametrize(
    ("new_config", "summary"),
    [
        (config(rules=(RULE,)), "edited rules in staging"),
        (
            config(rules=(RULE,), fallthrough=Serve(variant="off")),
            "edited rules and the fallthrough in staging",
        ),
        (config(enabled=True), "enabled in staging"),
        (config(version=4), "edited nothing in staging"),
    ],
)
def test_summarise__environment_updated__names_the_parts(
    new_config: EnvironmentConfig, summary: str
) -> None:
    old = flag()
    new = flag(environments={"staging": new_config, "production": config()})
    assert summarise(entry(Action.ENVIRONMENT_UPDATED, old, new, "staging")) == summary


@pytest.mark.parametrize(
    ("changes", "summary"),
    [
        ({"name": "New", "tags": ("a",)}, "edited name and tags"),
        ({"client_visible": True}, "edited client visible"),
        ({"archived": True}, "archived"),
        ({"archived": True, "owner": "bob"}, "archived; edited owner"),
        ({}, "saved, unchanged"),
    ],
)
def test_summarise__updated__the_changed_fields(changes: dict[str, Any], summary: str) -> None:
    old = flag()
    new = flag(**changes)
    assert summarise(entry(Action.UPDATED, old, new)) == summary


def test_summarise__unarchived__restored() -> None:
    assert (
        summarise(entry(Action.UPDATED, flag(archived=True), flag())) == "restored from the archive"
    )


def test_summarise__rolled_back__names_the_entry() -> None:
    rolled = entry(Action.ROLLED_BACK, flag(), flag(name="x"), rolled_back_to="h1")
    assert summarise(rolled) == "rolled back to h1"
    scoped = entry(Action.ROLLED_BACK, flag(), flag(), "production", rolled_back_to="h1")
    assert summarise(scoped) == "rolled back to h1 in production"
