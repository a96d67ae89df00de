"""The flag-detail editor for one environment: ``EnvironmentConfig`` ⇄ an editable form.

``to_form`` then ``from_form`` gives back an equal config. Values are text as typed (see
``ff_admin.logic.values`` for clause values and percentages). Adding, removing, moving
and updating rows: ``ff_admin.logic.env_edits``.

Error keys follow the form, ``_text`` dropped and the fallthrough as ``fallthrough.*``:
``off_variant``, ``targets``, ``targets.<i>.variant|keys|attribute``, ``rules``,
``rules.<i>.description|clauses|serve_variant|rollout|bucket_by``,
``rules.<i>.rollout.<j>.variant|weight``,
``rules.<i>.clauses.<j>.attribute|operator|values|segment``, ``fallthrough.variant``,
``fallthrough.rollout``, ``fallthrough.rollout.<j>.variant|weight``,
``fallthrough.bucket_by``, ``prerequisites``, ``prerequisites.<i>.flag|variant``; ``form``
for anything else. A rollout's weights are percentages that must add up to 100; rows at
0 are left out of the saved rollout (they take no bucket), so the editor can list every
variant of the flag.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import ValidationError

from ff_admin.logic.values import (
    parse_percent,
    parse_values,
    render_percent,
    render_values,
)
from ff_core import limits
from ff_core.models import (
    Clause,
    EnvironmentConfig,
    Flag,
    Operator,
    Prerequisite,
    Rollout,
    Rule,
    Scalar,
    Serve,
    Target,
    WeightedVariant,
)
from ff_core.validation import field_errors

OPERATORS: list[str] = [op.value for op in Operator]
SEGMENT_OPERATOR = Operator.IN_SEGMENT.value
# Operators that take no values: the values field can be hidden.
NO_VALUE_OPERATORS: list[str] = [Operator.EXISTS.value]
MODES = ("variant", "rollout")
DEFAULT_BUCKET_BY = "targeting_key"

_ATTRIBUTE = re.compile(limits.ATTRIBUTE_PATTERN)
_FLAG_KEY = re.compile(limits.FLAG_KEY_PATTERN)
_KEYS_SEPARATOR = re.compile(r"[,\n\r]+")

T = TypeVar("T")


@dataclass
class TargetRow:
    variant: str = ""
    # Comma- or newline-separated keys.
    keys_text: str = ""
    attribute: str = DEFAULT_BUCKET_BY


@dataclass
class ClauseRow:
    attribute: str = ""
    operator: str = Operator.EQ.value
    values_text: str = ""
    negate: bool = False
    # For ``in_segment``: the segment key (several: comma-separated); attribute and values
    # are then ignored.
    segment: str = ""


@dataclass
class WeightRow:
    variant: str = ""
    # A percentage as typed: "25", "33.333".
    weight: str = "0"


@dataclass
class RuleRow:
    id: str = ""
    description: str = ""
    clauses: list[ClauseRow] = field(default_factory=list)
    # "variant": serve ``serve_variant``; "rollout": serve ``rollout``. The other is kept,
    # so switching back and forth loses nothing.
    mode: str = "variant"
    serve_variant: str = ""
    rollout: list[WeightRow] = field(default_factory=list)
    bucket_by: str = DEFAULT_BUCKET_BY


@dataclass
class PrereqRow:
    flag: str = ""
    variant: str = ""


@dataclass
class EnvForm:
    enabled: bool = False
    off_variant: str = ""
    targets: list[TargetRow] = field(default_factory=list)
    rules: list[RuleRow] = field(default_factory=list)
    fallthrough_mode: str = "variant"
    fallthrough_variant: str = ""
    fallthrough_rollout: list[WeightRow] = field(default_factory=list)
    fallthrough_bucket_by: str = DEFAULT_BUCKET_BY
    prerequisites: list[PrereqRow] = field(default_factory=list)
    # The config's version: pass it as ``expected_version`` when saving.
    version: int = 0
    # The flag's variant keys, for the pickers; not part of the config.
    variants: list[str] = field(default_factory=list)


# -- config -> form ----------------------------------------------------------------------------


def to_form(config: EnvironmentConfig, flag: Flag) -> EnvForm:
    variants = list(flag.variants)
    mode, variant, rollout, bucket_by = _serve_fields(config.fallthrough, variants)
    return EnvForm(
        enabled=config.enabled,
        off_variant=config.off_variant,
        targets=[TargetRow(t.variant, ", ".join(t.values), t.attribute) for t in config.targets],
        rules=[_rule_row(rule, variants) for rule in config.rules],
        fallthrough_mode=mode,
        fallthrough_variant=variant,
        fallthrough_rollout=rollout,
        fallthrough_bucket_by=bucket_by,
        prerequisites=[PrereqRow(p.flag, p.variant) for p in config.prerequisites],
        version=config.version,
        variants=variants,
    )


def _rule_row(rule: Rule, variants: list[str]) -> RuleRow:
    mode, variant, rollout, bucket_by = _serve_fields(rule.serve, variants)
    return RuleRow(
        id=rule.id,
        description=rule.description,
        clauses=[_clause_row(c) for c in rule.clauses],
        mode=mode,
        serve_variant=variant,
        rollout=rollout,
        bucket_by=bucket_by,
    )


def _clause_row(clause: Clause) -> ClauseRow:
    if clause.operator is Operator.IN_SEGMENT:
        segments = ", ".join(str(v) for v in clause.values)
        return ClauseRow("", clause.operator.value, "", clause.negate, segments)
    return ClauseRow(
        clause.attribute or "",
        clause.operator.value,
        render_values(clause.operator, clause.values),
        clause.negate,
    )


def _serve_fields(serve: Serve, variants: list[str]) -> tuple[str, str, list[WeightRow], str]:
    """mode, variant, weights, bucket_by. Every variant of the flag has a weight row, ready
    to be raised: a variant gets 100 % and the rest 0; a rollout lists its own variants
    first, in its order (which decides the buckets), then the others at 0."""
    if serve.rollout is not None:
        rows = [WeightRow(w.variant, render_percent(w.weight)) for w in serve.rollout.variants]
        listed = {w.variant for w in serve.rollout.variants}
        rows += [WeightRow(v, "0") for v in variants if v not in listed]
        return "rollout", serve.rollout.variants[0].variant, rows, serve.rollout.bucket_by
    variant = serve.variant or ""
    rows = [WeightRow(v, "100" if v == variant else "0") for v in variants]
    return "variant", variant, rows, DEFAULT_BUCKET_BY


# -- form -> config ----------------------------------------------------------------------------


def from_form(form: EnvForm, flag: Flag) -> tuple[EnvironmentConfig | None, dict[str, str]]:
    """The config to save with ``FlagService.update_environment``, or messages by field."""
    errors: dict[str, str] = {}
    known = set(flag.variants)
    _variant(form.off_variant, known, "off_variant", errors)
    targets = [_target(row, known, f"targets.{i}", errors) for i, row in enumerate(form.targets)]
    rules = [_rule(row, known, f"rules.{i}", errors) for i, row in enumerate(form.rules)]
    fallthrough = _serve(
        form.fallthrough_mode,
        form.fallthrough_variant,
        form.fallthrough_rollout,
        form.fallthrough_bucket_by,
        known,
        "fallthrough",
        "fallthrough.variant",
        errors,
    )
    prerequisites = [
        _prerequisite(row, flag.key, f"prerequisites.{i}", errors)
        for i, row in enumerate(form.prerequisites)
    ]
    if errors or fallthrough is None:
        return None, errors
    config = _build(
        lambda: EnvironmentConfig(
            enabled=form.enabled,
            off_variant=form.off_variant,
            targets=tuple(t for t in targets if t is not None),
            rules=tuple(r for r in rules if r is not None),
            fallthrough=fallthrough,
            prerequisites=tuple(p for p in prerequisites if p is not None),
            version=form.version,
        ),
        "",
        {"targets": "targets", "rules": "rules", "prerequisites": "prerequisites"},
        errors,
    )
    return (config, {}) if config is not None and not errors else (None, errors)


def _variant(key: str, known: set[str], where: str, errors: dict[str, str]) -> bool:
    if not key:
        errors[where] = "choose a variant"
    elif key not in known:
        errors[where] = f"the flag has no variant {key!r}"
    else:
        return True
    return False


def _target(row: TargetRow, known: set[str], where: str, errors: dict[str, str]) -> Target | None:
    before = len(errors)
    _variant(row.variant, known, f"{where}.variant", errors)
    keys = list(dict.fromkeys(k.strip() for k in _KEYS_SEPARATOR.split(row.keys_text)))
    keys = [k for k in keys if k]
    if not keys:
        errors[f"{where}.keys"] = "enter at least one key"
    attribute = row.attribute.strip() or DEFAULT_BUCKET_BY
    _attribute(attribute, f"{where}.attribute", errors)
    if len(errors) > before:
        return None
    return _build(
        lambda: Target(variant=row.variant, values=tuple(keys), attribute=attribute),
        where,
        {"values": "keys", "attribute": "attribute", "variant": "variant"},
        errors,
    )


def _rule(row: RuleRow, known: set[str], where: str, errors: dict[str, str]) -> Rule | None:
    before = len(errors)
    if not row.clauses:
        errors[f"{where}.clauses"] = "add at least one condition"
    clauses = [_clause(c, f"{where}.clauses.{j}", errors) for j, c in enumerate(row.clauses)]
    serve = _serve(
        row.mode,
        row.serve_variant,
        row.rollout,
        row.bucket_by,
        known,
        where,
        f"{where}.serve_variant",
        errors,
    )
    if len(errors) > before or serve is None:
        return None
    return _build(
        lambda: Rule(
            id=row.id,
            description=row.description,
            clauses=tuple(c for c in clauses if c is not None),
            serve=serve,
        ),
        where,
        {"id": "form", "description": "description", "clauses": "clauses"},
        errors,
    )


def _clause(row: ClauseRow, where: str, errors: dict[str, str]) -> Clause | None:
    if row.operator not in OPERATORS:
        errors[f"{where}.operator"] = "choose an operator"
        return None
    if row.operator == SEGMENT_OPERATOR:
        segments = [s.strip() for s in row.segment.split(",") if s.strip()]
        if not segments:
            errors[f"{where}.segment"] = "choose a segment"
            return None
        return _build(
            lambda: Clause(operator=Operator.IN_SEGMENT, values=tuple(segments), negate=row.negate),
            where,
            {"values": "segment", "": "segment"},
            errors,
        )
    attribute = row.attribute.strip()
    ok = _attribute(attribute, f"{where}.attribute", errors)
    values: list[Scalar] = []
    if row.operator not in NO_VALUE_OPERATORS:
        try:
            values = parse_values(row.operator, row.values_text)
        except ValueError as exc:
            errors[f"{where}.values"] = str(exc)
            return None
        if not values:
            errors[f"{where}.values"] = "enter at least one value"
            return None
    if not ok:
        return None
    return _build(
        lambda: Clause(
            attribute=attribute,
            operator=Operator(row.operator),
            values=tuple(values),
            negate=row.negate,
        ),
        where,
        {"attribute": "attribute", "values": "values", "": "values"},
        errors,
    )


def _attribute(attribute: str, where: str, errors: dict[str, str]) -> bool:
    if not attribute:
        errors[where] = "enter an attribute"
    elif not _ATTRIBUTE.match(attribute):
        errors[where] = "letters, digits, '_', '.', ':' or '-', starting with a letter, '_' or '$'"
    else:
        return True
    return False


def _serve(
    mode: str,
    variant: str,
    weights: list[WeightRow],
    bucket_by: str,
    known: set[str],
    where: str,
    variant_field: str,
    errors: dict[str, str],
) -> Serve | None:
    if mode != "rollout":
        return Serve(variant=variant) if _variant(variant, known, variant_field, errors) else None
    before = len(errors)
    parsed: list[tuple[str, int]] = []
    for j, row in enumerate(weights):
        try:
            weight = parse_percent(row.weight)
        except ValueError as exc:
            errors[f"{where}.rollout.{j}.weight"] = str(exc)
            continue
        if weight == 0:
            continue  # takes no bucket: left out of the rollout
        if _variant(row.variant, known, f"{where}.rollout.{j}.variant", errors):
            if any(row.variant == seen for seen, _ in parsed):
                errors[f"{where}.rollout.{j}.variant"] = f"{row.variant!r} is already above"
            parsed.append((row.variant, weight))
    bucket = bucket_by.strip() or DEFAULT_BUCKET_BY
    _attribute(bucket, f"{where}.bucket_by", errors)
    if len(errors) > before:
        return None
    total = sum(w for _, w in parsed)
    if total != limits.ROLLOUT_TOTAL:
        errors[f"{where}.rollout"] = (
            f"the weights add up to {render_percent(total)} %; they must add up to 100 %"
        )
        return None
    return _build(
        lambda: Serve(
            rollout=Rollout(
                variants=tuple(WeightedVariant(variant=v, weight=w) for v, w in parsed),
                bucket_by=bucket,
            )
        ),
        where,
        {"": "rollout", "rollout": "rollout"},
        errors,
    )


def _prerequisite(
    row: PrereqRow, own_key: str, where: str, errors: dict[str, str]
) -> Prerequisite | None:
    flag = row.flag.strip()
    variant = row.variant.strip()
    if not flag:
        errors[f"{where}.flag"] = "choose a flag"
    elif flag == own_key:
        errors[f"{where}.flag"] = "a flag cannot be its own prerequisite"
    elif not _FLAG_KEY.match(flag):
        errors[f"{where}.flag"] = "not a flag key"
    if not variant:
        errors[f"{where}.variant"] = "choose a variant"
    if f"{where}.flag" in errors or f"{where}.variant" in errors:
        return None
    return _build(
        lambda: Prerequisite(flag=flag, variant=variant),
        where,
        {"flag": "flag", "variant": "variant"},
        errors,
    )


def _build(
    make: Callable[[], T], where: str, fields: dict[str, str], errors: dict[str, str]
) -> T | None:
    """``make()``, or None with the model's messages filed under the form's field names.

    ``fields`` maps the model's first ``loc`` part (``""`` for the model itself) to the form's
    field; unmapped errors go to ``where`` itself (``form`` at the top).
    """
    try:
        return make()
    except ValidationError as exc:
        for error in field_errors(exc):
            head = error["field"].split(".")[0] if error["field"] != "(body)" else ""
            name = fields.get(head)
            if name == "form" or (name is None and not where):
                key = "form"
            elif name is None:
                key = where
            else:
                key = f"{where}.{name}" if where else name
            errors.setdefault(key, error["message"].removeprefix("Value error, "))
        return None
