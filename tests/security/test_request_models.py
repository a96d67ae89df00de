"""Every request model the routes validate, fed arbitrary JSON: only a field-naming refusal.

The routes turn a body into a model with ``ff_core.validation.validated``; whatever a
client sends, that must either build the model or raise ``InvalidDefinition`` whose
errors each name a field (and never another exception, which would be a 500). Bodies are
drawn three ways: any JSON at all; objects with the model's own field names and any JSON
values; and the seeded example with one field replaced by any JSON.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ff_api import schemas
from ff_api.usage import UsageReport
from ff_core.errors import InvalidDefinition
from ff_core.models import Clause, Environment, EnvironmentConfig, Flag, Rule, Segment
from ff_core.validation import validated

BOUNDED = settings(
    max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "on", "off", "production", "(a+)+$", "1.2.3", "2026-01-01", "x" * 300])
    | st.sampled_from(["eq", "in", "matches", "semver_gt", "before", "exists", "segment"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=25,
)

_FLAG: dict[str, Any] = {
    "key": "f",
    "name": "F",
    "variants": {"on": {"value": True}, "off": {"value": False}},
    "environments": {
        "production": {
            "enabled": True,
            "off_variant": "off",
            "fallthrough": {"variant": "on"},
            "rules": [
                {
                    "clauses": [{"attribute": "email", "operator": "ends_with", "values": ["@x"]}],
                    "serve": {"variant": "on"},
                }
            ],
        }
    },
}
# (model, a valid body): the valid one is the starting point for single-field mutations.
MODELS: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (Flag, _FLAG),
    (EnvironmentConfig, _FLAG["environments"]["production"]),
    (Rule, _FLAG["environments"]["production"]["rules"][0]),
    (Clause, {"attribute": "version", "operator": "semver_gt", "values": ["1.2.3"]}),
    (Segment, {"key": "s", "name": "S", "included": ["a"]}),
    (Environment, {"key": "qa", "name": "QA"}),
    (schemas.ProjectCreate, {"key": "p", "name": "P"}),
    (schemas.SetEnabledIn, {"environments": ["production"], "enabled": True}),
    (schemas.Rollback, {"history_id": "h1"}),
    (schemas.KeyCreate, {"kind": "server", "name": "k", "environment": "production"}),
    (schemas.MemberSet, {"role": "editor"}),
    (schemas.EvaluationRequest, {"context": {"targeting_key": "u"}, "flags": ["f"]}),
    (schemas.OfrepRequest, {"context": {"targetingKey": "u"}}),
    (UsageReport, {"counts": {"f": 1}}),
]
IDS = [model.__name__ for model, _ in MODELS]


def accept_or_name_fields(model: type[BaseModel], raw: Any) -> None:
    refusal: InvalidDefinition | None = None
    try:
        validated(lambda: model.model_validate(raw), model.__name__)
    except InvalidDefinition as exc:
        refusal = exc
    if refusal is None:
        return
    errors = refusal.details["errors"]
    assert errors, refusal.message
    assert all(isinstance(e["field"], str) and e["field"] and e["message"] for e in errors), errors


@pytest.mark.parametrize(("model", "valid"), MODELS, ids=IDS)
def test_model__its_example__accepted(model: type[BaseModel], valid: dict[str, Any]) -> None:
    validated(lambda: model.model_validate(valid), model.__name__)


@pytest.mark.parametrize(("model", "valid"), MODELS, ids=IDS)
@BOUNDED
@given(raw=json_values)
def test_model__any_json__accepted_or_refused_naming_fields(
    model: type[BaseModel], valid: dict[str, Any], raw: Any
) -> None:
    accept_or_name_fields(model, raw)


@pytest.mark.parametrize(("model", "valid"), MODELS, ids=IDS)
@BOUNDED
@given(data=st.data())
def test_model__its_fields_with_any_values__accepted_or_refused_naming_fields(
    model: type[BaseModel], valid: dict[str, Any], data: st.DataObject
) -> None:
    fields = sorted(model.model_fields)
    raw = data.draw(st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields)))
    accept_or_name_fields(model, raw)


@pytest.mark.parametrize(("model", "valid"), MODELS, ids=IDS)
@BOUNDED
@given(data=st.data())
def test_model__one_field_of_its_example_replaced__accepted_or_refused_naming_fields(
    model: type[BaseModel], valid: dict[str, Any], data: st.DataObject
) -> None:
    field = data.draw(st.sampled_from(sorted(model.model_fields)))
    accept_or_name_fields(model, {**valid, field: data.draw(json_values)})
