"""Pure edits of the environment editor's lists: each returns a new form, argument untouched.

An index out of range changes nothing (the page may be a click behind the state). The
``update_*`` functions set fields by name, as ``dataclasses.replace`` does.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from ff_admin.logic.env_form import ClauseRow, EnvForm, PrereqRow, RuleRow, TargetRow, WeightRow


def _copy(form: EnvForm) -> EnvForm:
    return copy.deepcopy(form)


def _in(items: list[Any], i: int) -> bool:
    return 0 <= i < len(items)


def new_weights(form: EnvForm, variant: str) -> list[WeightRow]:
    """100 % to ``variant``, 0 to every other variant of the flag."""
    return [WeightRow(v, "100" if v == variant else "0") for v in form.variants]


def add_target(form: EnvForm) -> EnvForm:
    new = _copy(form)
    new.targets.append(TargetRow(variant=form.variants[0] if form.variants else ""))
    return new


def remove_target(form: EnvForm, i: int) -> EnvForm:
    new = _copy(form)
    if _in(new.targets, i):
        del new.targets[i]
    return new


def update_target(form: EnvForm, i: int, **changes: Any) -> EnvForm:
    new = _copy(form)
    if _in(new.targets, i):
        new.targets[i] = dataclasses.replace(new.targets[i], **changes)
    return new


def add_rule(form: EnvForm) -> EnvForm:
    """A rule with one empty condition, serving what the fallthrough serves."""
    new = _copy(form)
    variant = form.fallthrough_variant or (form.variants[0] if form.variants else "")
    new.rules.append(
        RuleRow(
            clauses=[ClauseRow()],
            mode="variant",
            serve_variant=variant,
            rollout=new_weights(form, variant),
        )
    )
    return new


def remove_rule(form: EnvForm, i: int) -> EnvForm:
    new = _copy(form)
    if _in(new.rules, i):
        del new.rules[i]
    return new


def move_rule(form: EnvForm, i: int, delta: int) -> EnvForm:
    """Move rule ``i`` by ``delta`` places (-1: up), stopping at either end."""
    new = _copy(form)
    if _in(new.rules, i):
        target = min(max(i + delta, 0), len(new.rules) - 1)
        new.rules.insert(target, new.rules.pop(i))
    return new


def update_rule(form: EnvForm, i: int, **changes: Any) -> EnvForm:
    """Set fields of rule ``i`` (``description``, ``mode``, ``serve_variant``, ``bucket_by``)."""
    new = _copy(form)
    if _in(new.rules, i):
        new.rules[i] = dataclasses.replace(new.rules[i], **changes)
    return new


def add_clause(form: EnvForm, rule_i: int) -> EnvForm:
    new = _copy(form)
    if _in(new.rules, rule_i):
        new.rules[rule_i].clauses.append(ClauseRow())
    return new


def remove_clause(form: EnvForm, rule_i: int, clause_i: int) -> EnvForm:
    new = _copy(form)
    if _in(new.rules, rule_i) and _in(new.rules[rule_i].clauses, clause_i):
        del new.rules[rule_i].clauses[clause_i]
    return new


def update_clause(form: EnvForm, rule_i: int, clause_i: int, **changes: Any) -> EnvForm:
    """Set fields of a condition (``attribute``, ``operator``, ``values_text``, ...)."""
    new = _copy(form)
    if _in(new.rules, rule_i) and _in(new.rules[rule_i].clauses, clause_i):
        clauses = new.rules[rule_i].clauses
        clauses[clause_i] = dataclasses.replace(clauses[clause_i], **changes)
    return new


def add_rule_weight(form: EnvForm, rule_i: int) -> EnvForm:
    new = _copy(form)
    if _in(new.rules, rule_i):
        new.rules[rule_i].rollout.append(WeightRow())
    return new


def remove_rule_weight(form: EnvForm, rule_i: int, i: int) -> EnvForm:
    new = _copy(form)
    if _in(new.rules, rule_i) and _in(new.rules[rule_i].rollout, i):
        del new.rules[rule_i].rollout[i]
    return new


def update_rule_weight(form: EnvForm, rule_i: int, i: int, **changes: Any) -> EnvForm:
    new = _copy(form)
    if _in(new.rules, rule_i) and _in(new.rules[rule_i].rollout, i):
        rollout = new.rules[rule_i].rollout
        rollout[i] = dataclasses.replace(rollout[i], **changes)
    return new


def add_fallthrough_weight(form: EnvForm) -> EnvForm:
    new = _copy(form)
    new.fallthrough_rollout.append(WeightRow())
    return new


def remove_fallthrough_weight(form: EnvForm, i: int) -> EnvForm:
    new = _copy(form)
    if _in(new.fallthrough_rollout, i):
        del new.fallthrough_rollout[i]
    return new


def update_fallthrough_weight(form: EnvForm, i: int, **changes: Any) -> EnvForm:
    new = _copy(form)
    if _in(new.fallthrough_rollout, i):
        new.fallthrough_rollout[i] = dataclasses.replace(new.fallthrough_rollout[i], **changes)
    return new


def add_prerequisite(form: EnvForm) -> EnvForm:
    new = _copy(form)
    new.prerequisites.append(PrereqRow())
    return new


def remove_prerequisite(form: EnvForm, i: int) -> EnvForm:
    new = _copy(form)
    if _in(new.prerequisites, i):
        del new.prerequisites[i]
    return new


def update_prerequisite(form: EnvForm, i: int, **changes: Any) -> EnvForm:
    new = _copy(form)
    if _in(new.prerequisites, i):
        new.prerequisites[i] = dataclasses.replace(new.prerequisites[i], **changes)
    return new
