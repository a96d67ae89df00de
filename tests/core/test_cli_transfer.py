"""`ff export` / `ff import` as a user runs them: moving a project from one DynamoDB server
to another (the embedded store is moto's server too; the second stands in for real DynamoDB).

The commands run in-process through Typer's runner, registered as ff_core/cli.py does.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ff_core import transfer
from ff_core.cli import app
from ff_core.models import Actor, ActorKind
from ff_core.settings import Settings
from ff_core.store import DynamoStore
from tests.conftest import TEST_CREDENTIALS, moto_server
from tests.core.transfer_support import SOURCE, answers, histories, project_items, seed

runner = CliRunner()


@pytest.fixture(scope="module")
def other_endpoint() -> Iterator[str]:
    """A second DynamoDB server: where the project moves to."""
    with moto_server() as endpoint:
        yield endpoint


def env_for(settings: Settings) -> dict[str, str]:
    assert settings.dynamodb_endpoint is not None
    return {
        "FF_DYNAMODB_ENDPOINT": settings.dynamodb_endpoint,
        "FF_TABLE": settings.table,
        "FF_DEFAULT_PROJECT": "nothing-here",
        "FF_ACTOR": "mover",
    }


ALICE = Actor(kind=ActorKind.USER, subject="alice")


async def _seeded(settings: Settings) -> None:
    async with DynamoStore.open(settings, credentials=TEST_CREDENTIALS) as store:
        await store.ensure_table()
        await seed(store, ALICE)


async def _empty_table(settings: Settings) -> None:
    async with DynamoStore.open(settings, credentials=TEST_CREDENTIALS) as store:
        await store.ensure_table()


async def _read(settings: Settings, project: str) -> tuple[list[Any], list[Any], list[Any]]:
    """Evaluation answers, histories and raw items of ``project``."""
    async with DynamoStore.open(settings, credentials=TEST_CREDENTIALS) as store:
        return (
            await answers(store, project) if await project_items(store, project) else [],
            await histories(store, project),
            await project_items(store, project),
        )


@pytest.fixture(scope="module")
def source(moto_endpoint: str) -> Settings:
    """The seeded project, made once: the tests here only read it."""
    settings = Settings(dynamodb_endpoint=moto_endpoint, table=f"ff-src-{uuid.uuid4().hex[:12]}")
    asyncio.run(_seeded(settings))
    return settings


@pytest.fixture(scope="module")
def exported(source: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ff export`` of the seeded project, made once."""
    path = tmp_path_factory.mktemp("export") / "shop.json"
    result = runner.invoke(app, ["export", "-p", SOURCE, "-o", str(path)], env=env_for(source))
    assert result.exit_code == 0, result.stderr
    return path


@pytest.fixture
def target(other_endpoint: str) -> Settings:
    settings = Settings(dynamodb_endpoint=other_endpoint, table=f"ff-dst-{uuid.uuid4().hex[:12]}")
    asyncio.run(_empty_table(settings))
    return settings


def import_args(path: Path, target: Settings, *extra: str) -> list[str]:
    assert target.dynamodb_endpoint is not None
    return [
        "import",
        str(path),
        "--table",
        target.table,
        "--endpoint-url",
        target.dynamodb_endpoint,
        *extra,
    ]


def test_export_import__other_server_and_project__same_answers_then_already_imported(
    source: Settings, target: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "shop.json"
    exported = runner.invoke(
        app, ["export", "--project", SOURCE, "-o", str(path)], env=env_for(source)
    )
    assert exported.exit_code == 0, exported.stderr
    assert "exported project 'shop' to" in exported.stderr

    # The source's settings, pointed elsewhere by the options: as when moving off the
    # embedded store.
    first = runner.invoke(app, import_args(path, target, "-p", "moved"), env=env_for(source))
    again = runner.invoke(app, import_args(path, target, "-p", "moved"), env=env_for(source))

    assert first.exit_code == 0, first.stderr
    assert first.stdout.strip() == (
        "project 'moved' (created): wrote 1 project, 4 flags, 1 segments, 1 tenants, 12 history"
    )
    assert again.exit_code == 0, again.stderr
    assert "already holds this export: nothing written" in again.stdout
    moved_answers, moved_history, _ = asyncio.run(_read(target, "moved"))
    source_answers, source_history, _ = asyncio.run(_read(source, SOURCE))
    assert moved_answers == source_answers
    assert moved_history == source_history


def test_export__stdout__a_document_import_reads(source: Settings) -> None:
    result = runner.invoke(app, ["export", "-p", SOURCE], env=env_for(source))

    assert result.exit_code == 0, result.stderr
    document = transfer.load(result.stdout_bytes)
    assert (document.source_project, len(document.flags)) == (SOURCE, 4)


def test_export__unknown_project__exit_1_naming_it(source: Settings) -> None:
    result = runner.invoke(app, ["export", "-p", "nope"], env=env_for(source))

    assert result.exit_code == 1
    assert result.stderr.strip() == "error: project 'nope' not found"
    assert result.stdout == ""


def test_import__damaged_file__exit_1_every_problem_listed_nothing_written(
    source: Settings, exported: Path, target: Settings, tmp_path: Path
) -> None:
    data = json.loads(exported.read_bytes())
    del data["flags"][0]["name"]
    data["segments"] = []
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))

    result = runner.invoke(app, import_args(path, target), env=env_for(source))

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "error: the export document was refused (3 problems); nothing was written:"
    assert lines[1:] == [
        "  flags[0] ('banner'): name: Field required",
        "  flags[1] ('checkout'): environments.production.rules: segment(s) ['beta'] not in "
        "the document",
        "  history[1] ('" + data["history"][1]["id"] + "'): segment 'beta' is not in the document, "
        "and its history does not end with its deletion",
    ]
    assert asyncio.run(_read(target, SOURCE))[2] == []


def test_import__truncated_file__exit_1_and_nothing_written(
    source: Settings, exported: Path, target: Settings, tmp_path: Path
) -> None:
    text = exported.read_text()
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) * 2 // 3])

    result = runner.invoke(app, import_args(path, target), env=env_for(source))

    assert result.exit_code == 1
    assert result.stderr.startswith("error: the export document was refused (1 problem)")
    assert "not valid JSON (a corrupted or truncated file?)" in result.stderr
    assert asyncio.run(_read(target, SOURCE))[2] == []


def test_import__dry_run_json__says_what_and_writes_nothing(
    source: Settings, exported: Path, target: Settings
) -> None:
    result = runner.invoke(
        app, import_args(exported, target, "--dry-run", "--json"), env=env_for(source)
    )

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "target": SOURCE,
        "outcome": "created",
        "written": {"project": 1, "flags": 4, "segments": 1, "tenants": 1, "history": 12},
        "present": {"project": 0, "flags": 0, "segments": 0, "tenants": 0, "history": 0},
        "dry_run": True,
    }
    assert asyncio.run(_read(target, SOURCE))[2] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "missing.json"], "does not exist"),
        (["import", "{file}", "--table", "x"], "--table: String should match pattern"),
        (["import", "{file}", "--project", "Not A Key"], "is not a valid project key"),
    ],
)
def test_import__bad_usage__exit_2(
    source: Settings, exported: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(
        app, [a.replace("{file}", str(exported)) for a in args], env=env_for(source)
    )

    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
