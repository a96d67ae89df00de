"""The ``ff`` command line. Human-readable tables by default, ``--json`` for machines.

The command groups live in their own modules (``cli_flags``, ``cli_projects``,
``cli_access``, ``cli_registry``, ``cli_tenants``); what they share is in ``cli_support``
and re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Annotated, Any

import orjson
import typer

from ff_core import demo, embedded, logs
from ff_core.cli_support import (
    EXIT_EXPECTATION,
    EXIT_FAILED,
    EXIT_USAGE,
    JsonOpt,
    NoteOpt,
    ProjectOpt,
    _log_settings,
    _print,
    _run,
    _settings,
    checked,
    confirm,
    fail,
    interactive,
    progress,
)
from ff_core.errors import NotFound
from ff_core.evaluation import CompiledEnvironment, Resolution, evaluate
from ff_core.services import Services
from ff_core.settings import Settings
from ff_core.store import DynamoStore
from ff_core.tenancy import served_flags

# What command-group modules import from here (they may import cli_support directly).
__all__ = [
    "JsonOpt",
    "NoteOpt",
    "ProjectOpt",
    "_print",
    "_run",
    "_settings",
    "app",
    "checked",
    "confirm",
    "fail",
    "interactive",
    "main",
    "progress",
]

EXIT_CODES = (
    "Exit codes: 0 done; 1 refused or failed (a message on stderr: not found, conflict, "
    "invalid definition, store unreachable, an evaluation error); 2 bad usage (options, "
    "arguments, FF_* settings); 3 a gate did not pass (`ff eval --expect` got another value, "
    "`ff registry sync --dry-run` found changes pending)."
)
app = typer.Typer(
    help="ff: self-hosted feature flags. Every command takes --json for machines.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
)
table_app = typer.Typer(help="The DynamoDB table.", no_args_is_help=True)


def main() -> None:
    """The ``ff`` executable. A failure nobody foresaw still ends in one line naming it, and
    status 1: a script reads the status, a person the line; a traceback helps neither."""
    try:
        app()
    except Exception as exc:
        typer.echo(f"error: unexpected {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_FAILED)


@app.command()
def serve(
    with_api: Annotated[
        bool, typer.Option("--api/--no-api", help="Also run the API (`ff api`)")
    ] = True,
    with_dashboard: Annotated[
        bool,
        typer.Option("--dashboard/--no-dashboard", help="Also run the dashboard (`ff dashboard`)"),
    ] = True,
) -> None:
    """Run ff locally: embedded DynamoDB with a demo project, the API and the dashboard.

    The data is kept in FF_DATA_DIR.
    """
    settings = _settings()
    if not settings.embedded:
        typer.echo(
            "error: `ff serve` runs the embedded store; unset FF_DYNAMODB_ENDPOINT "
            "and FF_REGION, or use `ff table create` for a real table",
            err=True,
        )
        raise typer.Exit(2)
    logs.configure(_log_settings())
    children = [c for c, wanted in (("api", with_api), ("dashboard", with_dashboard)) if wanted]
    failed = asyncio.run(_serve(settings, children))
    if failed:
        raise typer.Exit(failed)


def _start_children(commands: list[str]) -> list[subprocess.Popen[bytes]]:
    """`ff api` / `ff dashboard` beside the embedded store; they find it by its data dir."""
    return [
        subprocess.Popen([sys.executable, "-m", "ff_core", command], start_new_session=True)
        for command in commands
    ]


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
    for child in children:
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)


async def _watch_children(
    commands: list[str], children: list[subprocess.Popen[bytes]], stop: asyncio.Task[None]
) -> int:
    """A child that exits (say, on an invalid FF_API_PORT: it printed why) stops ff serve."""
    while True:
        await asyncio.sleep(0.25)
        for command, child in zip(commands, children, strict=True):
            if (code := child.poll()) is not None:
                typer.echo(f"error: `ff {command}` exited (status {code}); stopping", err=True)
                stop.cancel()
                return code or 1


async def _serve(settings: Settings, children: list[str]) -> int:
    """Runs until a signal (returns 0) or a child's exit (returns its status)."""
    server = embedded.EmbeddedDynamo(settings.data_dir, settings.embedded_port)
    try:
        endpoint = server.start()
    except OSError as exc:
        typer.echo(f"error: cannot listen on 127.0.0.1:{settings.embedded_port}: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        async with DynamoStore.open(
            server.settings(settings), credentials=embedded.CREDENTIALS
        ) as store:
            await store.ensure_table()
            saved = embedded.read_table_file(settings.data_dir)
            if saved and not await store.list_projects():
                await store.load_items(saved)
            seeded = await demo.seed(Services(store))
            _banner(settings, endpoint, seeded, len(saved), children)
            started = _start_children(children)
            persist = asyncio.create_task(embedded.persist_forever(store, settings.data_dir))
            watch = asyncio.create_task(_watch_children(children, started, persist))
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, persist.cancel)
            try:
                with contextlib.suppress(asyncio.CancelledError):
                    await persist
            finally:
                watch.cancel()
                _stop_children(started)
            failed = watch.result() if watch.done() and not watch.cancelled() else 0
            embedded.write_table_file(settings.data_dir, await store.dump_items())
    finally:
        server.stop()
    typer.echo("ff stopped; data kept in " + str(settings.data_dir))
    return failed


def _banner(
    settings: Settings, endpoint: str, seeded: bool, restored: int, children: list[str]
) -> None:
    what = "seeded the demo project" if seeded else f"restored {restored} items"
    urls = {
        "api": "  API:       http://{}:{}\n".format(
            os.environ.get("FF_API_HOST", "127.0.0.1"), os.environ.get("FF_API_PORT", "8080")
        ),
        "dashboard": "  Dashboard: {} (the first start builds it: about a minute)\n".format(
            os.environ.get("FF_PUBLIC_URL", "http://127.0.0.1:3000")
        ),
    }
    typer.echo(
        f"ff is running: embedded DynamoDB at {endpoint} ({what}; data in {settings.data_dir})\n"
        + "".join(urls[c] for c in children)
        + "In another terminal (`. .venv/bin/activate` first):\n"
        "  ff flags list --project demo\n"
        "  ff eval new-checkout --project demo --environment production "
        '--context \'{"targeting_key": "u1", "country": "US", "plan": "pro"}\'\n'
        "  ff flags set-enabled-in new-checkout staging production --project demo -m 'launch'\n"
        "  ff flags history new-checkout --project demo\n"
        "Stop with Ctrl-C.",
    )
    sys.stdout.flush()


@app.command()
def api() -> None:
    """Run the evaluation and management API (FF_API_HOST, FF_API_PORT; logs: FF_LOG_FORMAT)."""
    # Replaced by ff_api's launcher (settings checked, logs set up, uvicorn): ff_core
    # imports nothing of the API layer.
    os.execv(sys.executable, [sys.executable, "-m", "ff_api.run"])


@app.command()
def dashboard() -> None:
    """Build and run the dashboard (FF_ADMIN_HOST, FF_ADMIN_PORT; sign-in: FF_AUTH)."""
    # Replaced by ff_admin's launcher: ff_core imports nothing of the dashboard.
    os.execv(sys.executable, [sys.executable, "-m", "ff_admin.run"])


@table_app.command("create")
def table_create(as_json: JsonOpt = False) -> None:
    """Create the DynamoDB table (idempotent)."""

    async def work(services: Services, settings: Settings) -> str:
        await services.store.ensure_table()
        return settings.table

    table = _run(work)
    _print({"table": table, "ready": True}, as_json, title=f"table {table} ready")


def _context(text: str) -> dict[str, Any]:
    """The evaluation context from --context, checked as the SDK's is (status 2 if not)."""
    try:
        ctx = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        fail(f"--context is not JSON: {exc}", EXIT_USAGE)
    if not isinstance(ctx, dict):
        fail("--context must be a JSON object", EXIT_USAGE)
    if "targetingKey" in ctx:  # the OpenFeature spelling, as the API accepts it
        ctx["targeting_key"] = ctx.pop("targetingKey")
    if not isinstance(ctx.get("targeting_key", ""), str):
        fail("--context: targeting_key must be a string", EXIT_USAGE)
    for name, value in ctx.items():
        items = value if isinstance(value, list) else [value]
        if not all(v is None or isinstance(v, str | int | float | bool) for v in items):
            fail(
                f"--context: attribute {name!r} must be a string, number, boolean "
                "or a list of them",
                EXIT_USAGE,
            )
    return ctx


def _expected(text: str) -> Any:
    """--expect as JSON (true, 10, "x", {...}); anything else is a string."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _same(value: Any, expected: Any) -> bool:
    # In Python True == 1; for a gate a boolean flag must not pass as a number.
    if isinstance(value, bool) or isinstance(expected, bool):
        return type(value) is type(expected) and value == expected
    return bool(value == expected)


@app.command("eval")
def eval_flag(
    key: str,
    context: Annotated[str, typer.Option(help="JSON object: targeting_key and attributes")] = "{}",
    project: ProjectOpt = None,
    environment: Annotated[str | None, typer.Option("--environment", "-e")] = None,
    expect: Annotated[
        str | None,
        typer.Option(
            help="Gate: exit 0 if the value equals this (JSON, else a string), 3 if not",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate KEY for a context, as a service would (for scripts and migration gates).

    Exit status: 0 evaluated; 1 an evaluation error (flag not found, targeting key
    missing, ...) or the store failed; 2 --context invalid; with --expect, 3 when the
    value is another one.
    """
    ctx = _context(context)

    async def work(services: Services, settings: Settings) -> Resolution:
        state = await services.store.load_project(project or settings.default_project)
        env = environment or settings.environment
        if env not in state.project.environment_keys():
            raise NotFound(
                f"unknown environment {env!r}; project {state.project.key!r} has "
                f"{state.project.environment_keys()}"
            )
        flags = served_flags(state).values()  # with tenant state, as the API serves them
        compiled = CompiledEnvironment(env, flags, state.segments.values())
        return evaluate(compiled, key, ctx, now=time.time())

    result = _run(work)
    data: dict[str, Any] = {
        "key": key,
        "value": result.value,
        "variant": result.variant,
        "reason": result.reason.value,
        "error_code": result.error_code.value if result.error_code else None,
    }
    matched = None if expect is None else _same(result.value, _expected(expect))
    if expect is not None:
        data |= {"expected": _expected(expect), "matched": matched}
    if as_json:
        _print(data, True)
    else:
        error = f", error {data['error_code']}: {result.error_message}" if result.is_error else ""
        gate = "" if matched is None else ("; as expected" if matched else "; NOT as expected")
        typer.echo(
            f"{key} = {orjson.dumps(result.value).decode()}  "
            f"(variant {result.variant}, reason {data['reason']}{error}){gate}"
        )
    if result.error_code is not None:
        raise typer.Exit(EXIT_FAILED)
    if matched is False:
        raise typer.Exit(EXIT_EXPECTATION)


# The command groups, imported last: cli_registry and cli_tenants import this module's helpers.
from ff_core import (  # noqa: E402
    cli_access,
    cli_flags,
    cli_projects,
    cli_registry,
    cli_tenants,
    cli_transfer,
    cli_webhooks,
)

app.add_typer(cli_flags.app, name="flags")
app.add_typer(cli_projects.projects_app, name="projects")
app.add_typer(cli_projects.segments_app, name="segments")
app.add_typer(table_app, name="table")
app.add_typer(cli_access.keys_app, name="keys")
app.add_typer(cli_access.members_app, name="members")
app.add_typer(cli_registry.app, name="registry")
app.add_typer(cli_tenants.app, name="tenants")
app.add_typer(cli_webhooks.app, name="webhooks")
app.command("export")(cli_transfer.export)
app.command("import")(cli_transfer.import_)
