"""`ff projects`, `ff flags` and `ff segments` against moto's DynamoDB: what each command
writes, what it prints, and how it refuses."""

from __future__ import annotations

import asyncio

import pytest

from ff_core.admin import library_actor
from ff_core.models import (
    Clause,
    EnvironmentConfig,
    Operator,
    Prerequisite,
    Segment,
    SegmentRule,
)
from tests.core.cli_runner import Cli, shop


@pytest.fixture
def cli(moto_endpoint: str) -> Cli:
    return shop(moto_endpoint)


def test_projects_create__options__stored_and_shown(cli: Cli) -> None:
    created = cli.json(
        "projects", "create", "web", "--name", "Web shop", "--environments", "dev, qa,prod"
    )
    got = cli.json("projects", "get", "web")
    listed = cli.json("projects", "list")
    shown = cli.ok("projects", "get", "web").stdout

    assert created == got
    assert (got["key"], got["name"], got["version"]) == ("web", "Web shop", 1)
    assert [e["key"] for e in got["environments"]] == ["dev", "qa", "prod"]
    assert [p["key"] for p in listed] == ["shop", "web"]
    assert shown.splitlines()[0] == "web: Web shop"
    assert "qa" in shown


def test_projects_create__existing_or_invalid_key__refused_with_exit_1(cli: Cli) -> None:
    again = cli("projects", "create", "shop")
    invalid = cli("projects", "create", "Not A Key")
    bad_environment = cli("projects", "create", "web", "--environments", "dev,Prod!")

    assert (again.exit_code, invalid.exit_code, bad_environment.exit_code) == (1, 1, 1)
    assert again.stderr == "error: project 'shop' already exists\n"
    assert invalid.stderr.startswith("error: invalid project: key:")
    assert bad_environment.stderr.startswith("error: invalid environment: key:")
    assert [p["key"] for p in cli.json("projects", "list")] == ["shop"]


def test_projects_add_environment__existing_flags_start_disabled_there(cli: Cli) -> None:
    cli.ok("flags", "create", "beta")
    cli.ok("flags", "set-enabled-in", "beta", "development", "production")

    added = cli.json("projects", "add-environment", "staging", "--name", "Staging")
    shown = cli.ok("flags", "get", "beta").stdout
    served = cli.json("eval", "beta", "-e", "staging", "--context", '{"targeting_key": "u1"}')

    assert [e["key"] for e in added["environments"]] == ["development", "production", "staging"]
    assert shown.splitlines()[-1].split()[:2] == ["staging", "off"]
    assert (served["value"], served["reason"]) == (False, "DISABLED")


def test_projects_set__tenant_attribute_and_enforcement__stored_audited_and_refused(
    cli: Cli,
) -> None:
    changed = cli.json(
        "projects", "set", "--tenant-attribute", "org", "--registry-enforced", "-m", "orgs"
    )
    again = cli.json("projects", "set", "--tenant-attribute", "org")
    refused = cli("flags", "create", "adhoc")
    nothing = cli("projects", "set")
    invalid = cli("projects", "set", "--tenant-attribute", "not valid")

    assert (changed["tenant_attribute"], changed["registry_enforced"]) == ("org", True)
    assert again["version"] == changed["version"]  # nothing changed, nothing written
    assert refused.exit_code == 1
    assert "not in the registry" in refused.stderr
    assert nothing.exit_code == 2
    assert invalid.exit_code == 1
    assert "tenant_attribute" in invalid.stderr


def test_flags_create__boolean__disabled_everywhere_and_audited_with_the_note(cli: Cli) -> None:
    created = cli.json("flags", "create", "new-checkout", "-m", "JIRA-12")
    history = cli.json("flags", "history", "new-checkout")

    assert created["name"] == "new-checkout"
    assert created["variants"] == {
        "on": {"value": True, "name": "", "description": ""},
        "off": {"value": False, "name": "", "description": ""},
    }
    assert {e: c["enabled"] for e, c in created["environments"].items()} == {
        "development": False,
        "production": False,
    }
    [entry] = history["items"]
    assert (entry["action"], entry["note"]) == ("created", "JIRA-12")
    assert (entry["actor"]["kind"], entry["actor"]["subject"]) == ("library", "cli-test")


def test_flags_create__every_option__lands_on_the_flag(cli: Cli) -> None:
    created = cli.json(
        "flags",
        "create",
        "checkout.layout",
        "--name",
        "Checkout layout",
        "--description",
        "Which layout the checkout uses",
        "--type",
        "string",
        "--variants",
        '{"grid": "grid", "list": "list", "classic": "classic"}',
        "--kind",
        "experiment",
        "--owner",
        "team-checkout",
        "--tags",
        "checkout, web,checkout",
        "--client-visible",
        "--permanent",
        "--expires",
        "2027-03-31",
    )
    shown = cli.ok("flags", "get", "checkout.layout").stdout

    assert {k: created[k] for k in ("name", "value_type", "kind", "owner", "tags")} == {
        "name": "Checkout layout",
        "value_type": "string",
        "kind": "experiment",
        "owner": "team-checkout",
        "tags": ["checkout", "web"],
    }
    assert (created["client_visible"], created["internal_only"], created["temporary"]) == (
        True,
        False,
        False,
    )
    assert created["expires_at"] == "2027-03-31T00:00:00Z"
    # The first variant is served when enabled, the last when disabled.
    production = created["environments"]["production"]
    assert (production["fallthrough"], production["off_variant"]) == (
        {"variant": "grid", "rollout": None},
        "classic",
    )
    assert 'variants: grid="grid"  list="list"  classic="classic"' in shown
    assert "experiment, permanent, expires 2027-03-31T00:00:00+00:00, client-visible" in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "number"], "error: --variants is required for a number flag"),
        (["--variants", "{nope"], "error: --variants is not JSON"),
        (["--variants", "[1, 2]"], "error: --variants must be a JSON object"),
        (["--expires", "next week"], "error: --expires: 'next week' is not an ISO 8601 date"),
        (["--type", "colour"], "Invalid value for '--type'"),
        (["--kind", "forever"], "Invalid value for '--kind'"),
    ],
)
def test_flags_create__bad_option__exit_2_before_the_store_is_asked(
    moto_endpoint: str, args: list[str], message: str
) -> None:
    no_table = Cli(moto_endpoint)

    result = no_table("flags", "create", "x", *args)

    assert result.exit_code == 2
    assert message in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--client-visible", "--internal-only"],
            "a flag cannot be both client_visible and internal_only",
        ),
        (
            ["--type", "number", "--variants", '{"low": 1, "high": "2"}'],
            "variant 'high' has value '2', which is not of the flag's value_type 'number'",
        ),
        (["--description", "x" * 4_001], "invalid flag: description:"),
    ],
)
def test_flags_create__invalid_flag__exit_1_naming_the_problem(
    moto_endpoint: str, args: list[str], message: str
) -> None:
    # Checked before the store is opened: no table needed to be refused.
    result = Cli(moto_endpoint)("flags", "create", "x", *args)

    assert result.exit_code == 1
    assert result.stderr.startswith("error: invalid flag")
    assert message in result.stderr


def test_flags_create__existing_key__refused(cli: Cli) -> None:
    cli.ok("flags", "create", "beta")

    again = cli("flags", "create", "beta")

    assert again.exit_code == 1
    assert again.stderr == "error: flag 'beta' already exists in project 'shop'\n"


def test_flags_set_enabled__on_then_off__one_environment_only(cli: Cli) -> None:
    cli.ok("flags", "create", "beta")
    cli.ok("flags", "set-enabled-in", "beta", "development")

    on = cli.ok("flags", "set-enabled", "beta", "production", "on", "-m", "launch")
    off = cli.json("flags", "set-enabled", "beta", "development", "off")
    bad = cli("flags", "set-enabled", "beta", "production", "maybe")
    unknown = cli("flags", "set-enabled", "beta", "moon", "on")

    assert on.stdout == "beta: on in production (version 3)\n"
    assert {e: c["enabled"] for e, c in off["environments"].items()} == {
        "development": False,
        "production": True,
    }
    assert bad.exit_code == 2
    assert unknown.exit_code == 1
    assert "moon" in unknown.stderr
    notes = [e["note"] for e in cli.json("flags", "history", "beta")["items"]]
    assert notes == ["", "launch", "", ""]


def test_flags_archive__several_keys__archived_listed_and_back(cli: Cli) -> None:
    for key in ("a", "b", "c"):
        cli.ok("flags", "create", key)

    archived = cli.json("flags", "archive", "a", "b", "a", "-m", "done with it")
    listed = cli.ok("flags", "list").stdout
    back = cli.json("flags", "archive", "b", "--unarchive")

    assert [(f["key"], f["archived"]) for f in archived] == [("a", True), ("b", True)]
    names = {line.split()[0]: line for line in listed.splitlines()[1:]}
    assert names["a"].endswith("a (archived)")
    assert names["c"].endswith(" c")
    assert [(f["key"], f["archived"]) for f in back] == [("b", False)]
    assert cli.json("flags", "history", "a")["items"][0]["note"] == "done with it"


def test_flags_delete__without_yes_and_no_terminal__refused_and_nothing_deleted(
    cli: Cli,
) -> None:
    cli.ok("flags", "create", "old")

    refused = cli("flags", "delete", "old", stdin="y\n")

    assert refused.exit_code == 2
    assert "needs --yes" in refused.stderr
    assert [f["key"] for f in cli.json("flags", "list")] == ["old"]


def test_flags_delete__yes__deleted_and_history_kept(cli: Cli) -> None:
    cli.ok("flags", "create", "old")
    cli.ok("flags", "create", "older")

    deleted = cli.json("flags", "delete", "old", "older", "--yes", "-m", "cleanup")
    history = cli.json("flags", "history", "old")

    assert deleted == {"project": "shop", "deleted": ["old", "older"]}
    assert cli.json("flags", "list") == []
    assert [(e["action"], e["note"]) for e in history["items"]] == [
        ("deleted", "cleanup"),
        ("created", ""),
    ]


def test_flags_delete__a_refusal_midway__stops_and_says_what_was_done(cli: Cli) -> None:
    for key in ("first", "base", "last", "needs-base"):
        cli.ok("flags", "create", key)
    flag = cli.json("flags", "get", "needs-base")
    config = flag["environments"]["production"] | {
        "prerequisites": [Prerequisite(flag="base", variant="on").model_dump(mode="json")]
    }

    async def depend() -> None:
        async with cli.services() as services:
            await services.flags.update_environment(
                library_actor(),
                "shop",
                "needs-base",
                "production",
                EnvironmentConfig.model_validate(config),
            )

    asyncio.run(depend())

    result = cli("flags", "delete", "first", "base", "last", "--yes")

    assert result.exit_code == 1
    first_line, done = result.stderr.splitlines()
    assert first_line.startswith("error: ")
    assert "needs-base" in first_line
    assert done == "done before the error: first"
    assert [f["key"] for f in cli.json("flags", "list")] == ["base", "last", "needs-base"]


def test_flags_get__human__metadata_and_one_row_per_environment(cli: Cli) -> None:
    cli.ok("flags", "create", "beta", "--name", "[beta] Beta", "--description", "For testers")
    cli.ok("flags", "set-enabled-in", "beta", "production")

    shown = cli.ok("flags", "get", "beta").stdout.splitlines()

    assert shown[0] == "beta: [beta] Beta"
    assert shown[1] == "  For testers"
    assert shown[-3].split() == [
        "ENVIRONMENT",
        "ENABLED",
        "TARGETS",
        "RULES",
        "FALLTHROUGH",
        "OFF",
        "VERSION",
    ]
    assert shown[-2].split() == ["development", "off", "0", "0", "on", "off", "1"]
    assert shown[-1].split() == ["production", "on", "0", "0", "on", "off", "2"]


def test_flags_get__unknown_key_or_project__exit_1(cli: Cli) -> None:
    unknown_flag = cli("flags", "get", "nope")
    unknown_project = cli("flags", "list", "-p", "nowhere")

    assert (unknown_flag.exit_code, unknown_project.exit_code) == (1, 1)
    assert unknown_flag.stderr == "error: flag 'nope' not found in project 'shop'\n"
    assert "nowhere" in unknown_project.stderr


def test_segments__list_and_get__as_stored(cli: Cli) -> None:
    segment = Segment(
        key="staff",
        name="Staff",
        included=("u1", "u2"),
        rules=(
            SegmentRule(
                clauses=(
                    Clause(attribute="email", operator=Operator.ENDS_WITH, values=("@ff.dev",)),
                    Clause(attribute="plan", operator=Operator.EQ, values=("free",), negate=True),
                )
            ),
        ),
    )

    async def save() -> None:
        async with cli.services() as services:
            await services.segments.save_segment(library_actor(), "shop", segment)

    asyncio.run(save())

    listed = cli.json("segments", "list")
    got = cli.json("segments", "get", "staff")
    table = cli.ok("segments", "list").stdout.splitlines()
    shown = cli.ok("segments", "get", "staff").stdout
    missing = cli("segments", "get", "nope")

    assert [s["key"] for s in listed] == ["staff"]
    assert got == listed[0]
    assert got["included"] == ["u1", "u2"]
    assert table[1].split() == ["staff", "Staff", "1", "2", "0", "1"]
    assert "included: u1, u2" in shown
    assert "email ends_with ['@ff.dev'] and plan not eq ['free']" in shown
    assert missing.exit_code == 1
    assert "staff" not in missing.stderr
