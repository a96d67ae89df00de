"""`ff registry check|sync|export`: the registry file in CI pipelines (docs/REGISTRY.md).

Exit codes: 0 valid / synced / nothing to do; 1 invalid file or refused write (every
problem listed); 2 bad usage; 3 ``--dry-run`` found changes pending (drift).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from ff_core import registry
from ff_core.admin import library_actor
from ff_core.cli_support import EXIT_FAILED, JsonOpt, ProjectOpt, _print, _run, progress
from ff_core.registry import RegistryInvalid
from ff_core.registry_export import export
from ff_core.services import Services
from ff_core.services.registry import NOTE, SyncPlan, SyncReport
from ff_core.settings import Settings

app = typer.Typer(
    help="The registry file: flag definitions kept in your app's repository.",
    epilog="Exit codes: 0 valid, synced or nothing to do; 1 invalid file or refused write "
    "(every problem listed); 2 bad usage; 3 --dry-run found changes pending. "
    "See docs/REGISTRY.md.",
    no_args_is_help=True,
)
# `--dry-run` found changes pending: the store has drifted from the file.
EXIT_DRIFT = 3

FileArg = Annotated[
    Path,
    typer.Argument(exists=True, dir_okay=False, readable=True, help="The registry file (TOML)"),
]


@app.command("check")
def check(file: FileArg, as_json: JsonOpt = False) -> None:
    """Validate FILE without a store: exit 0 when valid, 1 with every problem listed."""
    problems = registry.check(file)
    if as_json:
        flags = 0 if problems else len(registry.load(file).keys())
        data = {"ok": not problems, "flags": flags, "problems": [p.to_dict() for p in problems]}
        _print(data, True)
    elif problems:
        _print_problems(problems)
    else:
        typer.echo(f"{file}: ok ({len(registry.load(file).keys())} flags)")
    if problems:
        raise typer.Exit(EXIT_FAILED)


@app.command("sync")
def sync(
    file: FileArg,
    project: ProjectOpt = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete stored flags the file does not list")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write nothing; exit 3 when changes are pending")
    ] = False,
    note: Annotated[str, typer.Option("--note", "-m", help="Recorded in the history")] = NOTE,
    as_json: JsonOpt = False,
) -> None:
    """Create and update the flags FILE lists in a project, un-register orphans (delete
    them with --prune) and enforce the registry there."""
    try:
        parsed = registry.load(file)
    except RegistryInvalid as exc:
        _print_problems(exc.problems)
        raise typer.Exit(EXIT_FAILED) from None

    async def work(services: Services, settings: Settings) -> SyncReport:
        key = project or settings.default_project
        plan = await services.registry.plan(key, parsed, prune=prune)
        if dry_run or not plan.pending:
            return SyncReport(plan, dry_run, 0)
        with progress("registry sync", plan.writes) as advance:
            return await services.registry.sync(
                library_actor(), key, parsed, prune=prune, note=note, progress=lambda _: advance(1)
            )

    report = _run(work)
    if as_json:
        data = {**dataclasses.asdict(report.plan), "pending": report.plan.pending}
        _print({**data, "dry_run": report.dry_run, "written": report.written}, True)
    else:
        _print_report(report)
    if report.dry_run and report.plan.pending:
        raise typer.Exit(EXIT_DRIFT)


@app.command("export")
def export_command(
    project: ProjectOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout")
    ] = None,
) -> None:
    """Write a registry file from a project's current flags (a start for adopting one)."""

    async def work(services: Services, settings: Settings) -> tuple[str, list[str]]:
        state = await services.store.load_project(project or settings.default_project)
        return export(state)

    text, skipped = _run(work)
    for line in skipped:
        typer.echo(f"skipped: {line}", err=True)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


def _print_problems(problems: list[registry.Problem]) -> None:
    noun = "problem" if len(problems) == 1 else "problems"
    typer.echo(f"error: registry: {len(problems)} {noun}:", err=True)
    for problem in problems:
        typer.echo(f"  - {problem}", err=True)


def _print_report(report: SyncReport) -> None:
    plan = report.plan
    rows = _rows(plan)
    if len(rows) > 1:
        _print(None, False, rows)
    verb = "would write" if report.dry_run else "wrote"
    count = plan.writes if report.dry_run else report.written
    typer.echo(
        f"{plan.project}: {verb} {count} change(s); {len(plan.create)} to create, "
        f"{len(plan.update)} to update, {len(plan.unchanged)} unchanged, "
        f"{len(plan.orphans)} orphan(s)" + ("" if plan.pending else " (nothing to do)")
    )


def _rows(plan: SyncPlan) -> list[list[str]]:
    rows = [["ACTION", "FLAG", "DETAIL"]]
    rows += [["create", key, "every environment at its default"] for key in plan.create]
    for update in plan.update:
        parts = [f"changes {', '.join(update.fields)}"] if update.fields else []
        if update.environments:
            parts.append(f"new default served in {', '.join(update.environments)}")
        rows.append(["update", update.key, "; ".join(parts)])
    for kept in plan.kept:
        rows.append(
            [
                "keep",
                kept.key,
                f"{kept.environment}: changed by an admin; new default {kept.default!r} "
                "not applied (new tenants get it)",
            ]
        )
    for orphan in plan.orphans:
        action = "prune" if plan.prune else ("unregister" if orphan.registered else "orphan")
        detail = "not in the file"
        if orphan.dependents:
            detail += f"; prerequisite of {', '.join(orphan.dependents)}"
        rows.append([action, orphan.key, detail])
    if plan.enforce:
        rows.append(["enforce", plan.project, "writes to flags not in the registry refused"])
    return rows
