"""Each limit through the HTTP API: the maximum is accepted, one more is refused with a 4xx.

tests/core/test_models.py holds the model-level limits; here the same limits are met the
way a client meets them, on the real API over moto: 422 naming the field for a definition
over a limit, 413 for a body or an evaluation context over its size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from ff_core import limits
from tests.security.conftest import World

P = "/api/v1/projects/demo"


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.url, timeout=30) as client:
        yield client


def admin(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.demo.admin}"}


def server(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.demo.server}", "Content-Type": "application/json"}


def flag(key: str, **config: Any) -> dict[str, Any]:
    environment = {"enabled": True, "off_variant": "off", "fallthrough": {"variant": "on"}}
    return {
        "key": key,
        "name": key,
        "variants": config.pop("variants", {"on": {"value": True}, "off": {"value": False}}),
        "environments": {"production": {**environment, **config}},
    }


def rule(values: list[str], operator: str = "in") -> dict[str, Any]:
    clause = {"attribute": "email", "operator": operator, "values": values}
    return {"clauses": [clause], "serve": {"variant": "on"}}


def fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_definition"
    return [error["field"] for error in body.get("errors", [{"field": body.get("field")}])]


_made = iter(range(1_000_000))


def create(http: httpx.Client, world: World, body: dict[str, Any]) -> httpx.Response:
    return http.post(f"{P}/flags", json=body, headers=admin(world))


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_made)}"


# -- definitions: 422 naming the field ------------------------------------------------------


def test_flag_key__128_accepted__129_refused_naming_key(http: httpx.Client, world: World) -> None:
    longest = unique("k").ljust(128, "x")

    accepted = create(http, world, flag(longest))
    refused = create(http, world, flag(longest + "x"))

    assert accepted.status_code == 201, accepted.text
    assert fields(refused) == ["key"]


def test_rules__100_accepted__101_refused_naming_rules(http: httpx.Client, world: World) -> None:
    rules = [rule(["a@example.com"])] * limits.MAX_RULES_PER_ENVIRONMENT

    accepted = create(http, world, flag(unique("rules"), rules=rules))
    refused = create(http, world, flag(unique("rules"), rules=[*rules, rule(["b"])]))

    assert accepted.status_code == 201, accepted.text
    assert fields(refused) == ["environments.production.rules"]


def test_clause_values__1000_accepted__1001_refused_naming_values(
    http: httpx.Client, world: World
) -> None:
    values = [f"user-{i}" for i in range(limits.MAX_VALUES_PER_CLAUSE)]

    accepted = create(http, world, flag(unique("values"), rules=[rule(values)]))
    refused = create(http, world, flag(unique("values"), rules=[rule([*values, "one-more"])]))

    assert accepted.status_code == 201, accepted.text
    assert fields(refused)[0] == "environments.production.rules.0.clauses.0.values"


def test_clause_value_length__1024_accepted__1025_refused(http: httpx.Client, world: World) -> None:
    longest = "v" * limits.MAX_CLAUSE_VALUE_LENGTH

    accepted = create(http, world, flag(unique("vlen"), rules=[rule([longest])]))
    refused = create(http, world, flag(unique("vlen"), rules=[rule([longest + "v"])]))

    assert accepted.status_code == 201, accepted.text
    assert fields(refused)[0] == "environments.production.rules.0.clauses.0.values"


def test_regex__256_accepted__257_refused(http: httpx.Client, world: World) -> None:
    longest = "^" + "a" * (limits.MAX_REGEX_LENGTH - 1)

    accepted = create(http, world, flag(unique("re"), rules=[rule([longest], "matches")]))
    refused = create(http, world, flag(unique("re"), rules=[rule([longest + "a"], "matches")]))

    assert accepted.status_code == 201, accepted.text
    assert fields(refused)[0] == "environments.production.rules.0.clauses.0"
    assert "a regular expression may be at most 256 characters" in refused.json()["message"]


def test_variants__64_accepted__65_refused_naming_variants(
    http: httpx.Client, world: World
) -> None:
    variants = {"on": {"value": True}, "off": {"value": False}}
    variants |= {f"v{i}": {"value": i % 2 == 0} for i in range(limits.MAX_VARIANTS - 2)}

    accepted = create(http, world, flag(unique("var"), variants=variants))
    refused = create(http, world, flag(unique("var"), variants={**variants, "v99": {"value": 1}}))

    assert accepted.status_code == 201, accepted.text
    assert fields(refused) == ["variants"]


def test_segment_keys__10000_accepted__10001_refused(http: httpx.Client, world: World) -> None:
    included = [f"u{i}" for i in range(limits.MAX_SEGMENT_KEYS)]

    def segment(keys: list[str]) -> httpx.Response:
        key = unique("seg")
        body = {"key": key, "name": key, "included": keys}
        return http.post(f"{P}/segments", json=body, headers=admin(world))

    accepted = segment(included)
    refused = segment([*included, "one-more"])

    assert accepted.status_code == 201, accepted.text
    assert fields(refused) == ["included"]


def test_flag_size__exactly_the_limit_accepted__one_byte_more_refused(
    http: httpx.Client, world: World
) -> None:
    """The stored flag's JSON is what is limited: measure one, then fill it to the byte."""
    value = "v" * limits.MAX_CLAUSE_VALUE_LENGTH
    per_value = len(orjson.dumps([value, value])) - len(orjson.dumps([value]))

    def padded(key: str, values: int, description: int) -> dict[str, Any]:
        body = flag(key, rules=[rule([value] * values)])
        return {**body, "description": "d" * description}

    keys = [unique("big").ljust(20, "x") for _ in range(3)]  # equal lengths, equal sizes
    probe = create(http, world, padded(keys[0], 140, 1_000))
    assert probe.status_code == 201, probe.text
    room = limits.MAX_FLAG_BYTES - len(orjson.dumps(probe.json()))
    values = 140 + max(0, (room - 1_500) // per_value)
    description = 1_000 + room - (values - 140) * per_value

    exact = create(http, world, padded(keys[1], values, description))
    over = create(http, world, padded(keys[2], values, description + 1))

    assert exact.status_code == 201, exact.text
    assert len(orjson.dumps(exact.json())) == limits.MAX_FLAG_BYTES
    assert fields(over) == ["flag"]
    assert over.json()["limit"] == limits.MAX_FLAG_BYTES


# -- sizes: 413 ------------------------------------------------------------------------------


def test_management_body__limit_accepted__one_byte_more_413(
    http: httpx.Client, world: World
) -> None:
    limit = world.settings.max_management_body_bytes

    def sized(size: int) -> httpx.Response:
        body = orjson.dumps(flag(unique("body")))
        padded = body[:-1] + b" " * (size - len(body)) + b"}"
        headers = {**admin(world), "Content-Type": "application/json"}
        return http.post(f"{P}/flags", content=padded, headers=headers)

    accepted, refused = sized(limit), sized(limit + 1)

    assert accepted.status_code == 201, accepted.text
    assert refused.status_code == 413
    assert refused.json()["limit"] == limit


def test_evaluation_body__limit_accepted__one_byte_more_413(
    http: httpx.Client, world: World
) -> None:
    limit = world.settings.max_body_bytes

    def sized(size: int) -> httpx.Response:
        body = b'{"context": {"targetingKey": "u"}}'
        padded = body[:-1] + b" " * (size - len(body)) + b"}"
        return http.post("/api/v1/evaluate", content=padded, headers=server(world))

    accepted, refused = sized(limit), sized(limit + 1)

    assert accepted.status_code == 200, accepted.text
    assert refused.status_code == 413
    assert refused.json()["limit"] == limit


@pytest.mark.parametrize(
    "path",
    ["/api/v1/evaluate", "/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/new-checkout"],
)
def test_context__limit_accepted__one_byte_more_413(
    http: httpx.Client, world: World, path: str
) -> None:
    limit = world.settings.max_context_bytes

    def sized(size: int) -> httpx.Response:
        context = {"targetingKey": "u", "blob": ""}
        context["blob"] = "x" * (size - len(orjson.dumps(context)))
        assert len(orjson.dumps(context)) == size
        return http.post(path, json={"context": context}, headers=server(world))

    accepted, refused = sized(limit), sized(limit + 1)

    assert accepted.status_code == 200, accepted.text
    assert refused.status_code == 413
    assert refused.json()["limit"] == limit
    assert "context" in refused.json()["message"]
