"""`ff eval` as scripts and migration gates use it: the answer, --json, --expect and the
exit status (0 evaluated, 1 evaluation error, 2 bad context, 3 not the expected value)."""

from __future__ import annotations

import asyncio
import json

import pytest

from ff_core.admin import library_actor
from ff_core.models import EnvironmentConfig, Flag, Serve, Target, boolean_variants
from tests.core.cli_runner import Cli, shop

USER = '{"targeting_key": "u1"}'


@pytest.fixture(scope="module")
def cli(moto_endpoint: str) -> Cli:
    """One table for the module: every test but the last only reads, and that one writes a
    flag of its own."""
    cli = shop(moto_endpoint)
    cli.ok("flags", "create", "beta")
    cli.ok("flags", "set-enabled-in", "beta", "production")
    cli.ok("flags", "create", "layout", "--type", "string", "--variants", '{"grid": "g"}')
    cli.ok("flags", "set-enabled-in", "layout", "production")
    return cli


def test_eval__enabled_flag__prints_value_variant_reason(cli: Cli) -> None:
    human = cli("eval", "beta", "-e", "production", "--context", USER)
    machine = cli.json("eval", "beta", "-e", "production", "--context", USER)
    default_environment = cli.json("eval", "beta", "--context", USER)

    assert human.exit_code == 0
    assert human.stdout == "beta = true  (variant on, reason STATIC)\n"
    assert machine == {
        "key": "beta",
        "value": True,
        "variant": "on",
        "reason": "STATIC",
        "error_code": None,
    }
    # FF_ENVIRONMENT (development) when -e is not given: disabled there.
    assert (default_environment["value"], default_environment["reason"]) == (False, "DISABLED")


def test_eval__expect__exit_0_when_equal_3_when_not(cli: Cli) -> None:
    met = cli("eval", "beta", "-e", "production", "--context", USER, "--expect", "true")
    unmet = cli("eval", "beta", "-e", "production", "--context", USER, "--expect", "false")
    number = cli("eval", "beta", "-e", "production", "--context", USER, "--expect", "1")
    string = cli("eval", "layout", "-e", "production", "--context", USER, "--expect", "g")
    as_json = cli(
        "eval", "beta", "-e", "development", "--context", USER, "--expect", "true", "--json"
    )

    assert (met.exit_code, unmet.exit_code, number.exit_code, string.exit_code) == (0, 3, 3, 0)
    assert met.stdout.endswith("; as expected\n")
    assert unmet.stdout.endswith("; NOT as expected\n")
    assert as_json.exit_code == 3
    assert json.loads(as_json.stdout) == {
        "key": "beta",
        "value": False,
        "variant": "off",
        "reason": "DISABLED",
        "error_code": None,
        "expected": True,
        "matched": False,
    }


def test_eval__missing_flag__exit_1_even_with_expect(cli: Cli) -> None:
    result = cli("eval", "nope", "--context", USER, "--json", "--expect", "null")

    assert result.exit_code == 1
    assert json.loads(result.stdout)["error_code"] == "FLAG_NOT_FOUND"


def test_eval__unknown_environment__exit_1_naming_the_project_s(cli: Cli) -> None:
    result = cli("eval", "beta", "-e", "moon", "--context", USER)

    assert result.exit_code == 1
    assert result.stderr == (
        "error: unknown environment 'moon'; project 'shop' has ['development', 'production']\n"
    )


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ("{not json", "error: --context is not JSON"),
        ('["u1"]', "error: --context must be a JSON object"),
        ('{"targeting_key": 7}', "error: --context: targeting_key must be a string"),
        ('{"org": {"id": 1}}', "error: --context: attribute 'org' must be a string, number"),
        ('{"ids": [1, [2]]}', "error: --context: attribute 'ids' must be"),
    ],
)
def test_eval__invalid_context__exit_2_before_the_store_is_asked(
    moto_endpoint: str, context: str, message: str
) -> None:
    result = Cli(moto_endpoint)("eval", "beta", "--context", context)

    assert result.exit_code == 2
    assert result.stderr.startswith(message)


def test_eval__openfeature_targeting_key_spelling__targets_the_user(cli: Cli) -> None:
    config = EnvironmentConfig(
        enabled=True,
        off_variant="off",
        fallthrough=Serve(variant="off"),
        targets=(Target(variant="on", values=("u1",)),),
    )
    flag = Flag(key="targeted", name="Targeted", variants=boolean_variants())

    async def target_u1() -> None:
        async with cli.services() as services:
            await services.flags.create_flag(
                library_actor(), "shop", flag.replace(environments={"production": config})
            )

    asyncio.run(target_u1())

    hit = cli.json("eval", "targeted", "-e", "production", "--context", '{"targetingKey": "u1"}')
    miss = cli.json("eval", "targeted", "-e", "production", "--context", '{"targetingKey": "u2"}')

    assert (hit["value"], hit["reason"]) == (True, "TARGETING_MATCH")
    assert (miss["value"], miss["reason"]) == (False, "DEFAULT")
