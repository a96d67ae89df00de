"""``ff tenants ...``: onboard tenants from the registry defaults, override, view, clean up.

Onboarding writes a tenant's explicit state for every registry flag once (a second run
writes nothing), so a default changed later never reaches tenants that already exist.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from ff_core.admin import library_actor
from ff_core.cli_support import (
    EXIT_USAGE,
    JsonOpt,
    NoteOpt,
    ProjectOpt,
    _print,
    _run,
    fail,
    progress,
)
from ff_core.models import Tenant
from ff_core.services import Services
from ff_core.settings import Settings

app = typer.Typer(
    help="Tenants: explicit flag state per tenant, written from the registry defaults.",
    no_args_is_help=True,
)

EnvironmentOpt = Annotated[str, typer.Option("--environment", "-e", help="An environment key")]


def _project(project: str | None, settings: Settings) -> str:
    return project or settings.default_project


def _tenant_data(tenant: Tenant) -> dict[str, Any]:
    return tenant.model_dump(mode="json")


def _state(explicit: bool, overridden: bool) -> str:
    return "overridden" if overridden else "explicit" if explicit else "default"


def _read_keys(path: Path) -> list[str]:
    """One tenant key a line; blank lines and ``#`` comments skipped."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}", EXIT_USAGE)
    return [k for line in lines if (k := line.split("#", 1)[0].strip())]


@app.command("onboard")
def onboard(
    tenant: Annotated[str | None, typer.Argument(help="The tenant id")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name")] = None,
    from_file: Annotated[
        Path | None, typer.Option("--from-file", help="Tenant ids, one a line")
    ] = None,
    project: ProjectOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Onboard TENANT (or every tenant in --from-file) from the current registry defaults."""
    if (tenant is None) == (from_file is None):
        fail("name one TENANT or pass --from-file FILE", EXIT_USAGE)
    if from_file is not None and name is not None:
        fail("--name names one tenant; it cannot go with --from-file", EXIT_USAGE)
    wanted = _read_keys(from_file) if from_file is not None else [tenant or ""]

    async def work(services: Services, settings: Settings) -> list[tuple[Tenant, bool]]:
        key = _project(project, settings)
        done = []
        with progress("onboarding", len(wanted) if len(wanted) > 1 else None) as advance:
            for each in wanted:
                done.append(
                    await services.tenants.onboard(library_actor(), key, each, name, note=note)
                )
                advance(1)
        return done

    results = _run(work)
    data = [{"tenant": _tenant_data(t), "created": created} for t, created in results]
    rows = [["TENANT", "RESULT", "FLAGS"]] + [
        [t.key, "onboarded" if created else "already onboarded", str(len(t.state))]
        for t, created in results
    ]
    _print(data[0] if tenant is not None else data, as_json, rows)


@app.command("list")
def list_tenants(
    project: ProjectOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="Tenants per page (1-500)")] = 500,
    after: Annotated[str | None, typer.Option("--after", help="Start after this key")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Tenants by key."""

    async def work(services: Services, settings: Settings) -> tuple[list[Tenant], str | None]:
        page = await services.tenants.list_tenants(
            _project(project, settings), limit=limit, after=after
        )
        return page.items, page.next_cursor

    items, cursor = _run(work)
    rows = [["TENANT", "NAME", "FLAGS", "VERSION"]] + [
        [t.key, t.name, str(len(t.state)), str(t.version)] for t in items
    ]
    _print(
        {"items": [_tenant_data(t) for t in items], "next_cursor": cursor},
        as_json,
        rows,
        title=None if cursor is None else f"(more: --after {cursor})",
    )


@app.command("show")
def show(tenant: str, project: ProjectOpt = None, as_json: JsonOpt = False) -> None:
    """Every registry flag in every environment for TENANT: explicit, default or overridden."""

    async def work(services: Services, settings: Settings) -> Any:
        return await services.tenants.view(_project(project, settings), tenant)

    view = _run(work)
    rows = [["FLAG", "ENVIRONMENT", "VARIANT", "VALUE", "STATE"]] + [
        [v.flag, v.environment, v.variant, _json(v.value), _state(v.explicit, v.overridden)]
        for v in view.values
    ]
    data = {
        "tenant": _tenant_data(view.tenant),
        "values": [dataclasses.asdict(v) for v in view.values],
        "orphaned": view.orphaned,
    }
    _print(data, as_json, rows)
    if view.orphaned and not as_json:
        orphans = ", ".join(view.orphaned)
        typer.echo(f"orphaned state (ignored; `ff tenants cleanup`): {orphans}", err=True)


@app.command("flag")
def flag(
    key: str,
    environment: EnvironmentOpt,
    project: ProjectOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="Tenants per page (1-500)")] = 500,
    after: Annotated[str | None, typer.Option("--after", help="Start after this tenant")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One registry flag across tenants in one environment."""

    async def work(services: Services, settings: Settings) -> Any:
        return await services.tenants.across(
            _project(project, settings), key, environment, limit=limit, after=after
        )

    page = _run(work)
    rows = [["TENANT", "VARIANT", "VALUE", "STATE"]] + [
        [v.tenant, v.variant, _json(v.value), _state(v.explicit, v.overridden)] for v in page.items
    ]
    data = {
        "flag": key,
        "environment": environment,
        "items": [dataclasses.asdict(v) for v in page.items],
        "next_cursor": page.next_cursor,
    }
    more = None if page.next_cursor is None else f"(more: --after {page.next_cursor})"
    _print(data, as_json, rows, title=more)


@app.command("set")
def set_override(
    tenant: str,
    key: str,
    environment: str,
    variant: str,
    project: ProjectOpt = None,
    expected_version: Annotated[
        int | None, typer.Option("--expected-version", help="Refuse unless at this version")
    ] = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Give TENANT VARIANT of flag KEY in ENVIRONMENT (an override)."""

    async def work(services: Services, settings: Settings) -> Tenant:
        return await services.tenants.set_override(
            library_actor(),
            _project(project, settings),
            tenant,
            key,
            environment,
            variant,
            expected_version=expected_version,
            note=note,
        )

    updated = _run(work)
    _print(
        _tenant_data(updated),
        as_json,
        title=f"{tenant}: {key} = {variant} in {environment} (version {updated.version})",
    )


@app.command("clear")
def clear(
    tenant: str,
    key: str,
    environment: str,
    project: ProjectOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Remove TENANT's value of KEY in ENVIRONMENT: it then gets the flag's default."""

    async def work(services: Services, settings: Settings) -> Tenant:
        return await services.tenants.clear_override(
            library_actor(), _project(project, settings), tenant, key, environment, note=note
        )

    updated = _run(work)
    _print(
        _tenant_data(updated),
        as_json,
        title=f"{tenant}: {key} in {environment} follows the flag's default",
    )


@app.command("remove")
def remove(tenant: str, project: ProjectOpt = None, note: NoteOpt = "") -> None:
    """Offboard TENANT: its state goes, its history stays."""

    async def work(services: Services, settings: Settings) -> None:
        await services.tenants.remove(
            library_actor(), _project(project, settings), tenant, note=note
        )

    _run(work)
    typer.echo(f"removed tenant {tenant}")


@app.command("cleanup")
def cleanup(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be removed")
    ] = False,
    project: ProjectOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Remove tenant state for flags no longer in the registry (orphaned, ignored on read)."""

    async def work(services: Services, settings: Settings) -> dict[str, list[str]]:
        return await services.tenants.cleanup(
            library_actor(), _project(project, settings), dry_run=dry_run, note=note
        )

    removed = _run(work)
    verb = "would remove" if dry_run else "removed"
    rows = [["TENANT", "FLAGS"]] + [[t, ", ".join(keys)] for t, keys in sorted(removed.items())]
    title = f"{verb} orphaned state of {len(removed)} tenant(s)"
    _print(
        {"dry_run": dry_run, "removed": removed}, as_json, rows if removed else None, title=title
    )


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
