"""`ff registry check|sync|export` against moto's DynamoDB server, as a CI pipeline runs
them: tables for people, --json for scripts, and exit codes 0 / 1 / 2 / 3."""

from __future__ import annotations

import json
from pathlib import Path

from tests.core.cli_runner import Cli, shop

FILE = """
[flags.new-checkout]
description = "The one-page checkout"
owner = "payments"
default = { development = true, "*" = false }

[flags.page-size]
type = "number"
variants = { small = 10, large = 50 }
default = "small"
"""


def write(tmp_path: Path, text: str = FILE, name: str = "ff-registry.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def actions(table: str) -> list[tuple[str, str]]:
    """ACTION and FLAG of each row of a sync's table (the plain one: output is not a TTY)."""
    lines = table.splitlines()
    if not lines or not lines[0].startswith("ACTION"):
        return []
    return [(row.split()[0], row.split()[1]) for row in lines[1:] if not row.startswith("shop: ")]


def test_check__valid_and_invalid_files__exit_0_and_1_with_every_problem(
    moto_endpoint: str, tmp_path: Path
) -> None:
    cli = Cli(moto_endpoint)  # no table: check needs no store
    bad = write(
        tmp_path, FILE.replace('default = "small"', 'default = "huge"') + "[flags.x]\n", "bad.toml"
    )

    valid = cli("registry", "check", write(tmp_path))
    invalid = cli("registry", "check", bad)
    as_json = cli("registry", "check", bad, "--json")
    missing = cli("registry", "check", str(tmp_path / "nope.toml"))

    assert (valid.exit_code, invalid.exit_code, as_json.exit_code, missing.exit_code) == (
        0,
        1,
        1,
        2,
    )
    assert "ok (2 flags)" in valid.stdout
    assert "error: registry: 2 problems:" in invalid.stderr
    assert "line 7: flags.page-size.default: 'huge' is not one of the variants" in invalid.stderr
    assert "line 11: flags.x.default: Field required" in invalid.stderr
    assert [(p["flag"], p["field"]) for p in json.loads(as_json.stdout)["problems"]] == [
        ("page-size", "default"),
        ("x", "default"),
    ]


def test_sync__twice__creates_then_nothing_to_do(moto_endpoint: str, tmp_path: Path) -> None:
    cli = shop(moto_endpoint)
    path = write(tmp_path)

    first = cli.ok("registry", "sync", path)
    second = cli.ok("registry", "sync", path)
    flags = cli.json("flags", "list")

    assert actions(first.stdout) == [
        ("create", "new-checkout"),
        ("create", "page-size"),
        ("enforce", "shop"),
    ]
    assert "wrote 3 change(s)" in first.stdout
    assert "wrote 0 change(s)" in second.stdout
    assert "(nothing to do)" in second.stdout
    assert [f["key"] for f in flags] == ["new-checkout", "page-size"]
    assert flags[0]["registry"]["defaults"] == {"development": "on", "production": "off"}


def test_sync__dry_run_with_drift__exit_3_and_nothing_written(
    moto_endpoint: str, tmp_path: Path
) -> None:
    cli = shop(moto_endpoint)
    cli.ok("registry", "sync", write(tmp_path))
    changed = write(tmp_path, FILE.replace('default = "small"', 'default = "large"'), "new.toml")

    drift = cli("registry", "sync", changed, "--dry-run", "--json")
    human = cli("registry", "sync", changed, "--dry-run")
    stored = cli.json("flags", "get", "page-size")

    assert drift.exit_code == 3, drift.stderr
    plan = json.loads(drift.stdout)
    assert (plan["pending"], plan["dry_run"], plan["written"]) == (True, True, 0)
    assert plan["update"] == [
        {"key": "page-size", "fields": ["default"], "environments": ["development", "production"]}
    ]
    assert human.exit_code == 3
    assert "would write 1 change(s)" in human.stdout
    assert stored["registry"]["defaults"]["production"] == "small"


def test_sync__refused__exit_1_every_problem_no_traceback(
    moto_endpoint: str, tmp_path: Path
) -> None:
    cli = shop(moto_endpoint)  # environments: development, production
    staging = write(tmp_path, FILE.replace("development = true", "staging = true"))
    invalid = write(tmp_path, "[flags.a]\ndefault = 'yes'\n", "invalid.toml")

    unknown_env = cli("registry", "sync", staging)
    bad_file = cli("registry", "sync", invalid)
    no_project = cli("registry", "sync", write(tmp_path), "--project", "nope")

    assert (unknown_env.exit_code, bad_file.exit_code, no_project.exit_code) == (1, 1, 1)
    assert "flags.new-checkout.default.staging: unknown environment" in unknown_env.stderr
    assert "flags.a.default: a boolean flag's default is true or false" in bad_file.stderr
    assert "nope" in no_project.stderr
    assert cli.json("flags", "list") == []


def test_enforced__cli_write_to_unknown_key__refused_pointing_at_the_registry(
    moto_endpoint: str, tmp_path: Path
) -> None:
    cli = shop(moto_endpoint)
    cli.ok("registry", "sync", write(tmp_path))

    refused = cli("flags", "create", "side-project")

    assert refused.exit_code == 1
    assert "not in the registry of project 'shop'" in refused.stderr
    assert "ff registry sync" in refused.stderr


def test_prune__orphan__deleted_and_audited_with_the_actor(
    moto_endpoint: str, tmp_path: Path
) -> None:
    cli = shop(moto_endpoint)
    cli.ok("flags", "create", "legacy")
    path = write(tmp_path)

    kept = cli.ok("registry", "sync", path)
    pruned = cli.ok("registry", "sync", path, "--prune", "-m", "drop legacy")
    history = cli.json("flags", "history", "legacy")

    assert ("orphan", "legacy") in actions(kept.stdout)
    assert actions(pruned.stdout) == [("prune", "legacy")]
    newest = history["items"][0]
    assert (newest["action"], newest["actor"]["subject"], newest["note"]) == (
        "deleted",
        "cli-test",
        "drop legacy",
    )
    assert [f["key"] for f in cli.json("flags", "list")] == ["new-checkout", "page-size"]


def test_export__then_sync__round_trips_with_nothing_to_do(
    moto_endpoint: str, tmp_path: Path
) -> None:
    cli = shop(moto_endpoint)
    cli.ok("registry", "sync", write(tmp_path))
    exported = tmp_path / "exported.toml"

    cli.ok("registry", "export", "--output", str(exported))
    checked = cli("registry", "check", str(exported))
    synced = cli("registry", "sync", str(exported), "--dry-run")

    assert checked.exit_code == 0, checked.stderr
    assert synced.exit_code == 0, synced.stdout
    assert "(nothing to do)" in synced.stdout


def test_executable__dry_run_drift__exit_3(moto_endpoint: str, tmp_path: Path) -> None:
    cli = shop(moto_endpoint)

    drift = cli.executable("registry", "sync", write(tmp_path), "--dry-run")

    assert drift.returncode == 3, drift.stderr
    assert "would write 3 change(s)" in drift.stdout
    assert "Traceback" not in drift.stderr
