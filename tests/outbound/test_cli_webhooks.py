"""`ff webhooks` against moto's DynamoDB: create (secret once), list, deliveries, delete."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from ff_core import cli_webhooks
from ff_core.outbound import webhook_secret
from tests.core.cli_runner import Cli, shop

KEY_SECRET = "cli-webhook-secret-" + "s" * 32
# The sub-app as `ff` mounts it (`app.add_typer(cli_webhooks.app, name="webhooks")`).
ff = typer.Typer()
ff.add_typer(cli_webhooks.app, name="webhooks")


class Webhooks:
    def __init__(self, cli: Cli) -> None:
        self.env = {**cli.env, "FF_KEY_SECRET": KEY_SECRET}
        self._runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        result = self._runner.invoke(ff, ["webhooks", *args], env=self.env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""
        return json.loads(result.stdout)


@pytest.fixture
def webhooks(moto_endpoint: str) -> Webhooks:
    return Webhooks(shop(moto_endpoint))


def test_create_list_deliveries_delete__secret_printed_once(webhooks: Webhooks) -> None:
    created = webhooks.json("create", "https://hooks.example.com/ff", "--events", "flag")
    hook_id = created["webhook"]["id"]
    listed = webhooks("list")
    log = webhooks.json("deliveries", hook_id)
    deleted = webhooks("delete", hook_id)
    again = webhooks("delete", hook_id)

    assert created["secret"] == webhook_secret(KEY_SECRET.encode(), hook_id)
    assert created["webhook"]["events"] == ["flag"]
    assert listed.exit_code == 0
    assert hook_id in listed.stdout
    assert "https://hooks.example.com/ff" in listed.stdout
    assert created["secret"] not in listed.stdout
    assert log == {"items": [], "next": None}
    assert deleted.exit_code == 0
    assert webhooks.json("list") == []
    assert again.exit_code == 1
    assert again.stderr.strip() == f"error: webhook {hook_id!r} not found in project 'shop'"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.com/x", "only http:// and https://"),
        ("https://me:pw@example.com/", "credentials in the URL are refused"),
    ],
)
def test_create__bad_url__exit_1_naming_the_problem_nothing_stored(
    webhooks: Webhooks, url: str, says: str
) -> None:
    result = webhooks("create", url)

    assert result.exit_code == 1
    assert result.stderr.startswith("error: url: ")
    assert says in result.stderr
    assert webhooks.json("list") == []
