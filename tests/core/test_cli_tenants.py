"""`ff tenants` against moto's DynamoDB: what each command writes, prints, and refuses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ff_core.admin import library_actor
from ff_core.models import EntityKind
from tests.core.cli_runner import Cli, shop
from tests.tenants_support import put_registry_flag, registry_flag, unregister

SEARCH = "search.v2"


@pytest.fixture
def cli(moto_endpoint: str) -> Cli:
    """Project ``shop`` (development, production) with one registry flag, default off in
    production and on in development."""
    cli = shop(moto_endpoint)
    put(cli, {"development": "on", "production": "off"})
    return cli


def put(cli: Cli, defaults: dict[str, str]) -> None:
    async def go() -> None:
        async with cli.services() as services:
            flag = registry_flag(SEARCH, defaults)
            await put_registry_flag(services.store, library_actor(), "shop", flag)

    asyncio.run(go())


def evaluated(cli: Cli, tenant: str, environment: str = "production") -> object:
    context = f'{{"targeting_key": "u1", "tenant": "{tenant}"}}'
    return cli.json("eval", SEARCH, "--context", context, "-e", environment)["value"]


def test_onboard__twice__written_once_and_said_so(cli: Cli) -> None:
    first = cli.json("tenants", "onboard", "acme", "--name", "Acme Inc.")
    again = cli.ok("tenants", "onboard", "acme")

    async def history() -> list[str]:
        async with cli.services() as services:
            page = await services.store.list_history("shop", EntityKind.TENANT, "acme")
            return [e.action.value for e in page.items]

    assert first["created"] is True
    assert first["tenant"]["name"] == "Acme Inc."
    assert first["tenant"]["state"][SEARCH]["production"] == {
        "variant": "off",
        "overridden": False,
    }
    assert "already onboarded" in again.stdout
    assert asyncio.run(history()) == ["onboarded"]


def test_onboard_from_file__every_tenant_once__comments_skipped(cli: Cli, tmp_path: Path) -> None:
    listing = tmp_path / "tenants.txt"
    listing.write_text("# customers\nacme\n\nglobex  # since 2024\ninitech\n")
    cli.ok("tenants", "onboard", "acme")

    result = cli.json("tenants", "onboard", "--from-file", str(listing))
    listed = cli.json("tenants", "list")

    assert [(r["tenant"]["key"], r["created"]) for r in result] == [
        ("acme", False),
        ("globex", True),
        ("initech", True),
    ]
    assert [t["key"] for t in listed["items"]] == ["acme", "globex", "initech"]


def test_onboard__no_tenant_or_unreadable_file__usage_error(cli: Cli, tmp_path: Path) -> None:
    neither = cli("tenants", "onboard")
    missing = cli("tenants", "onboard", "--from-file", str(tmp_path / "nope.txt"))
    bad_key = cli("tenants", "onboard", "has space")

    assert neither.exit_code == 2
    assert "--from-file" in neither.stderr
    assert missing.exit_code == 2
    assert "nope.txt" in missing.stderr
    assert bad_key.exit_code == 1
    assert bad_key.stderr.startswith("error: invalid tenant")


def test_set_show_clear__override_shown_and_evaluated(cli: Cli) -> None:
    cli.ok("tenants", "onboard", "acme")
    cli.ok("tenants", "onboard", "globex")

    cli.ok("tenants", "set", "acme", SEARCH, "production", "on", "-m", "pilot")
    shown = cli.ok("tenants", "show", "acme").stdout
    view = cli.json("tenants", "show", "acme")
    across = cli.json("tenants", "flag", SEARCH, "--environment", "production")
    on_for_acme, off_for_globex = evaluated(cli, "acme"), evaluated(cli, "globex")
    cli.ok("tenants", "clear", "acme", SEARCH, "production")
    after = cli.json("tenants", "show", "acme")

    assert shown.splitlines()[0].split() == ["FLAG", "ENVIRONMENT", "VARIANT", "VALUE", "STATE"]
    assert [SEARCH, "production", "on", "true", "overridden"] in [
        line.split() for line in shown.splitlines()
    ]
    assert [SEARCH, "development", "on", "true", "explicit"] in [
        line.split() for line in shown.splitlines()
    ]
    production = next(v for v in view["values"] if v["environment"] == "production")
    assert (production["variant"], production["overridden"]) == ("on", True)
    assert [(v["tenant"], v["variant"]) for v in across["items"]] == [
        ("acme", "on"),
        ("globex", "off"),
    ]
    assert (on_for_acme, off_for_globex) == (True, False)
    cleared = next(v for v in after["values"] if v["environment"] == "production")
    assert (cleared["explicit"], cleared["variant"]) == (False, "off")


def test_set__unknown_variant_or_stale_version__exit_1_with_reason(cli: Cli) -> None:
    version = cli.json("tenants", "onboard", "acme")["tenant"]["version"]

    unknown = cli("tenants", "set", "acme", SEARCH, "production", "maybe")
    stale = cli(
        "tenants", "set", "acme", SEARCH, "production", "on", "--expected-version", str(version + 5)
    )
    no_tenant = cli("tenants", "set", "nobody", SEARCH, "production", "on")

    assert unknown.exit_code == 1
    assert "'maybe'" in unknown.stderr
    assert stale.exit_code == 1
    assert f"not {version + 5}" in stale.stderr
    assert no_tenant.exit_code == 1
    assert "tenant 'nobody' not found" in no_tenant.stderr


def test_changed_default__existing_tenant_keeps_its_value(cli: Cli) -> None:
    cli.ok("tenants", "onboard", "early")
    put(cli, {"development": "on", "production": "on"})
    cli.ok("tenants", "onboard", "late")

    assert evaluated(cli, "early") is False
    assert evaluated(cli, "late") is True
    assert evaluated(cli, "someone-else") is True


def test_cleanup__dry_run_lists__then_removes(cli: Cli) -> None:
    cli.ok("tenants", "onboard", "acme")

    async def drop() -> None:
        async with cli.services() as services:
            await unregister(services.store, library_actor(), "shop", SEARCH)

    asyncio.run(drop())
    shown = cli.ok("tenants", "show", "acme")
    dry = cli.json("tenants", "cleanup", "--dry-run")
    still = cli.json("tenants", "show", "acme")
    done = cli.ok("tenants", "cleanup")
    after = cli.json("tenants", "show", "acme")
    nothing = cli.json("tenants", "cleanup")

    assert "orphaned state" in shown.stderr
    assert SEARCH in shown.stderr
    assert dry == {"dry_run": True, "removed": {"acme": [SEARCH]}}
    assert still["orphaned"] == [SEARCH]
    assert "removed orphaned state of 1 tenant(s)" in done.stdout
    assert after["orphaned"] == []
    assert SEARCH not in after["tenant"]["state"]
    assert nothing == {"dry_run": False, "removed": {}}


def test_remove__tenant_gone__history_kept(cli: Cli) -> None:
    cli.ok("tenants", "onboard", "acme")

    removed = cli.ok("tenants", "remove", "acme")
    listed = cli.json("tenants", "list")
    again = cli("tenants", "remove", "acme")

    assert removed.stdout == "removed tenant acme\n"
    assert listed["items"] == []
    assert again.exit_code == 1
    assert "not found" in again.stderr
