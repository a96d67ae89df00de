"""``ff export`` and ``ff import``: a whole project as one JSON document (docs/EXPORT.md).

Registered by ``ff_core/cli.py``. Exit codes: 0 done (or already imported), 1 refused (every
problem listed) or the store failed, 2 bad usage.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ff_core import limits, transfer
from ff_core.admin import library_actor
from ff_core.errors import FFError
from ff_core.runtime import open_store
from ff_core.settings import Settings, read_settings
from ff_core.store import DynamoStore
from ff_core.validation import field_errors

T = TypeVar("T")


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings(**overrides: Any) -> Settings:
    """The ``FF_*`` settings, with command-line options taking precedence."""
    settings = read_settings(Settings)
    if settings is None:
        raise typer.Exit(2)
    wanted = {k: v for k, v in overrides.items() if v is not None}
    if not wanted:
        return settings
    try:
        return Settings(**{**settings.model_dump(), **wanted})
    except ValidationError as exc:
        problems = "; ".join(
            f"--{e['field'].replace('_', '-')}: {e['message']}" for e in field_errors(exc)
        )
        raise _fail(problems, 2) from None


def _run(settings: Settings, work: Callable[[DynamoStore], Awaitable[T]]) -> T:
    async def go() -> T:
        async with open_store(settings) as store:
            return await work(store)

    try:
        return asyncio.run(go())
    except FFError as exc:
        raise _fail(exc.message, 1) from None


def export(
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Default: FF_DEFAULT_PROJECT")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout")
    ] = None,
) -> None:
    """Write a whole project (settings, flags, segments, tenants, history) as one JSON
    document. API keys, members and usage counts are not exported."""
    settings = _settings()
    key = project or settings.default_project
    document = _run(settings, lambda store: transfer.export_project(store, key))
    data = document.to_json()
    if output is None:
        sys.stdout.buffer.write(data + b"\n")
        sys.stdout.flush()
        return
    try:
        output.write_bytes(data + b"\n")
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc.strerror}", 1) from None
    typer.echo(
        f"exported project {key!r} to {output}: {len(document.flags)} flags, "
        f"{len(document.segments)} segments, {len(document.tenants)} tenants, "
        f"{len(document.history)} history entries",
        err=True,
    )


def import_(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="From `ff export`")
    ],
    project: Annotated[
        str | None,
        typer.Option("--project", "-p", help="Target project; default: the exported one"),
    ] = None,
    table: Annotated[str | None, typer.Option(help="Target table; default: FF_TABLE")] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(help="Target DynamoDB endpoint; default: FF_DYNAMODB_ENDPOINT"),
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="Target AWS region (real DynamoDB); default: FF_REGION")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything and say what would be written")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Import a document from `ff export`. Everything is checked before anything is written;
    running it again writes nothing, or finishes an interrupted import."""
    settings = _settings(table=table, dynamodb_endpoint=endpoint_url, region=region)
    if project is not None and not re.match(limits.PROJECT_KEY_PATTERN, project):
        raise _fail(f"--project: {project!r} is not a valid project key", 2)
    try:
        document = transfer.load(file.read_bytes())
    except FFError as exc:
        raise _fail(exc.message, 1) from None
    console = Console(stderr=True)
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("import", total=None)

        def advanced(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = _run(
            settings,
            lambda store: transfer.import_project(
                store,
                document,
                project,
                actor=library_actor(),
                progress=advanced,
                dry_run=dry_run,
            ),
        )
    if as_json:
        data = {
            "target": report.target,
            "outcome": report.outcome.value,
            "written": report.written,
            "present": report.present,
            "dry_run": report.dry_run,
        }
        typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(report.summary())
