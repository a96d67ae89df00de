"""The ``ff`` command line. Human-readable tables by default, ``--json`` for machines."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import orjson
import typer

from ff_core import demo, embedded, keys, logs
from ff_core.admin import library_actor
from ff_core.errors import FFError
from ff_core.evaluation import CompiledEnvironment, evaluate
from ff_core.models import ApiKey, Flag, KeyKind, Member, Role
from ff_core.runtime import open_store
from ff_core.services import Services
from ff_core.settings import Settings, read_settings
from ff_core.store import DynamoStore

T = TypeVar("T")
app = typer.Typer(help="ff: self-hosted feature flags.", no_args_is_help=True)
flags_app = typer.Typer(help="Read and change flags.", no_args_is_help=True)
projects_app = typer.Typer(help="Projects.", no_args_is_help=True)
table_app = typer.Typer(help="The DynamoDB table.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: server, client and admin.", no_args_is_help=True)
app.add_typer(flags_app, name="flags")
app.add_typer(projects_app, name="projects")
app.add_typer(table_app, name="table")
app.add_typer(keys_app, name="keys")
members_app = typer.Typer(
    help="Project members: who may use the dashboard and the management API.",
    no_args_is_help=True,
)
app.add_typer(members_app, name="members")
# Sub-apps in their own modules, imported last: they reuse this module's helpers.
from ff_core import cli_registry, cli_tenants  # noqa: E402

app.add_typer(cli_registry.app, name="registry")
app.add_typer(cli_tenants.app, name="tenants")

ProjectOpt = Annotated[
    str | None, typer.Option("--project", "-p", help="Default: FF_DEFAULT_PROJECT")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output")]
NoteOpt = Annotated[str, typer.Option("--note", "-m", help="Why; recorded in the history")]


def main() -> None:
    app()


def _settings() -> Settings:
    settings = read_settings(Settings)
    if settings is None:
        raise typer.Exit(2)
    return settings


def _log_settings() -> logs.LogSettings:
    settings = read_settings(logs.LogSettings)
    if settings is None:
        raise typer.Exit(2)
    return settings


def _run(work: Callable[[Services, Settings], Awaitable[T]]) -> T:
    """Run one command against the configured store; ff errors become a message and exit 1."""
    settings = _settings()

    async def go() -> T:
        async with open_store(settings) as store:
            return await work(Services(store), settings)

    try:
        return asyncio.run(go())
    except FFError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


def _print(data: Any, as_json: bool, rows: list[list[str]] | None = None) -> None:
    if as_json:
        typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode())
        return
    if rows is None:
        typer.echo(str(data))
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def _flag_rows(flags: list[Flag], environments: list[str]) -> list[list[str]]:
    rows = [["KEY", "TYPE", *[e.upper() for e in environments], "VERSION", "NAME"]]
    for f in flags:
        states = [
            "on" if (c := f.environments.get(e)) and c.enabled else "off" for e in environments
        ]
        rows.append([f.key, f.value_type.value, *states, str(f.version), f.name])
    return rows


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
    """Run ff locally: the embedded DynamoDB with a demo project (kept in FF_DATA_DIR),
    the API and the dashboard."""
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


@members_app.command("add")
def members_add(
    email: str,
    role: Annotated[Role, typer.Option(help="owner, admin, editor or viewer")],
    project: ProjectOpt = None,
) -> None:
    """Add a member or change their role: how the first owner of a project is made."""

    async def work(services: Services, settings: Settings) -> None:
        # The shell is trusted like an owner (it holds the table's credentials).
        await services.access.set_member(
            library_actor(),
            project or settings.default_project,
            email,
            role,
            granted_by=Role.OWNER,
        )

    _run(work)
    typer.echo(
        f"{email.strip().lower()} is now {role.value} of {project or _settings().default_project}"
    )


@members_app.command("list")
def members_list(project: ProjectOpt = None, as_json: JsonOpt = False) -> None:
    """The members of a project and their roles."""

    async def work(services: Services, settings: Settings) -> list[Member]:
        return await services.access.list_members(project or settings.default_project)

    members = _run(work)
    rows = [["EMAIL", "ROLE", "ADDED BY"]] + [[m.email, m.role.value, m.added_by] for m in members]
    _print([m.model_dump(mode="json") for m in members], as_json, rows)


@members_app.command("remove")
def members_remove(email: str, project: ProjectOpt = None) -> None:
    """Remove a member (the last owner stays)."""

    async def work(services: Services, settings: Settings) -> None:
        await services.access.remove_member(
            library_actor(), project or settings.default_project, email, granted_by=Role.OWNER
        )

    _run(work)
    typer.echo(f"removed {email.strip().lower()}")


@app.command()
def dashboard() -> None:
    """Build and run the dashboard (FF_ADMIN_HOST, FF_ADMIN_PORT; sign-in: FF_AUTH)."""
    # Replaced by ff_admin's launcher: ff_core imports nothing of the dashboard.
    os.execv(sys.executable, [sys.executable, "-m", "ff_admin.run"])


@keys_app.command("create")
def keys_create(
    kind: Annotated[KeyKind, typer.Option(help="server, client or admin")],
    name: Annotated[str, typer.Option(help="What the key is for")],
    project: ProjectOpt = None,
    environment: Annotated[str | None, typer.Option("--environment", "-e")] = None,
    role: Annotated[Role | None, typer.Option(help="For admin keys")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key. The raw key is printed once and cannot be shown again."""

    async def work(services: Services, settings: Settings) -> tuple[ApiKey, str]:
        access = Services(services.store, key_secret=keys.load_secret(settings)).access
        return await access.create_key(
            library_actor(),
            project or settings.default_project,
            kind,
            name,
            environment=environment,
            role=role,
        )

    key, raw = _run(work)
    if as_json:
        _print({**key.model_dump(mode="json", exclude={"hash"}), "key": raw}, True)
    else:
        typer.echo(f"{raw}\n(shown once: store it now; it is kept only as a hash)")


@keys_app.command("list")
def keys_list(project: ProjectOpt = None, as_json: JsonOpt = False) -> None:
    found = _run(lambda s, st: s.access.list_keys(project or st.default_project))
    rows = [["ID", "KIND", "PREFIX", "ENV/ROLE", "NAME", "REVOKED"]] + [
        [
            k.id,
            k.kind.value,
            k.prefix,
            k.environment or str(k.role),
            k.name,
            str(k.revoked_at or ""),
        ]
        for k in found
    ]
    _print([k.model_dump(mode="json", exclude={"hash"}) for k in found], as_json, rows)


@keys_app.command("revoke")
def keys_revoke(key_id: str, project: ProjectOpt = None) -> None:
    revoked = _run(
        lambda s, st: s.access.revoke_key(library_actor(), project or st.default_project, key_id)
    )
    typer.echo(f"revoked {revoked.id} ({revoked.prefix}...)")


@table_app.command("create")
def table_create() -> None:
    """Create the DynamoDB table (idempotent)."""

    async def work(services: Services, settings: Settings) -> None:
        await services.store.ensure_table()

    _run(work)
    typer.echo("table ready")


@projects_app.command("list")
def projects_list(as_json: JsonOpt = False) -> None:
    projects = _run(lambda s, _: s.projects.list_projects())
    rows = [["KEY", "NAME", "ENVIRONMENTS"]] + [
        [p.key, p.name, ",".join(p.environment_keys())] for p in projects
    ]
    _print([p.model_dump(mode="json") for p in projects], as_json, rows)


@flags_app.command("list")
def flags_list(
    project: ProjectOpt = None,
    search: Annotated[str | None, typer.Option(help="Substring of key or name")] = None,
    tag: Annotated[str | None, typer.Option(help="Only flags with this tag")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List flags with their state in each environment."""

    async def work(services: Services, settings: Settings) -> tuple[list[Flag], list[str]]:
        key = project or settings.default_project
        p = await services.projects.get_project(key)
        return await services.flags.list_flags(key, search=search, tag=tag), p.environment_keys()

    flags, environments = _run(work)
    _print([f.model_dump(mode="json") for f in flags], as_json, _flag_rows(flags, environments))


@flags_app.command("get")
def flags_get(key: str, project: ProjectOpt = None) -> None:
    """Print one flag's whole definition (JSON)."""
    flag = _run(lambda s, st: s.flags.get_flag(project or st.default_project, key))
    _print(flag.model_dump(mode="json"), True)


@flags_app.command("set-enabled-in")
def flags_set_enabled_in(
    key: str,
    environments: Annotated[
        list[str] | None, typer.Argument(help="Enable here, disable elsewhere")
    ] = None,
    project: ProjectOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Enable KEY in exactly the given environments (none: disable everywhere)."""
    flag = _run(
        lambda s, st: s.flags.set_enabled_in(
            library_actor(), project or st.default_project, key, environments or [], note=note
        )
    )
    enabled = [e for e, c in flag.environments.items() if c.enabled]
    if as_json:
        _print(flag.model_dump(mode="json"), True)
    else:
        typer.echo(f"{key}: enabled in {enabled or 'no environment'} (version {flag.version})")


@flags_app.command("history")
def flags_history(
    key: str,
    project: ProjectOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    before: Annotated[str | None, typer.Option(help="Cursor from the previous page")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Who changed KEY, when and why, newest first."""
    page = _run(
        lambda s, st: s.flags.list_history(
            project or st.default_project, key, limit=limit, before=before
        )
    )
    rows = [["ID", "ACTION", "ENV", "WHO", "VERSION", "NOTE"]] + [
        [e.id, e.action.value, e.environment or "*", e.actor.subject, str(e.version), e.note]
        for e in page.items
    ]
    data = {"items": [e.model_dump(mode="json") for e in page.items], "next": page.next_cursor}
    _print(data, as_json, rows)
    if not as_json and page.next_cursor:
        typer.echo(f"more: --before '{page.next_cursor}'")


@flags_app.command("rollback")
def flags_rollback(
    key: str, history_id: str, project: ProjectOpt = None, note: NoteOpt = ""
) -> None:
    """Restore KEY as it was right after history entry HISTORY_ID."""
    flag = _run(
        lambda s, st: s.flags.rollback(
            library_actor(), project or st.default_project, key, history_id, note=note
        )
    )
    typer.echo(f"{key}: rolled back to {history_id} (now version {flag.version})")


@app.command("eval")
def eval_flag(
    key: str,
    context: Annotated[str, typer.Option(help="JSON object: targeting_key and attributes")] = "{}",
    project: ProjectOpt = None,
    environment: Annotated[str | None, typer.Option("--environment", "-e")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate KEY for a context, as a service would (for scripts and migration gates)."""
    try:
        ctx = orjson.loads(context)
    except orjson.JSONDecodeError as exc:
        typer.echo(f"error: --context is not JSON: {exc}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(ctx, dict):
        typer.echo("error: --context must be a JSON object", err=True)
        raise typer.Exit(2)

    async def work(services: Services, settings: Settings) -> Any:
        state = await services.store.load_project(project or settings.default_project)
        env = environment or settings.environment
        compiled = CompiledEnvironment(env, state.flags.values(), state.segments.values())
        return evaluate(compiled, key, ctx, now=time.time())

    result = _run(work)
    data = {
        "key": key,
        "value": result.value,
        "variant": result.variant,
        "reason": result.reason.value,
        "error_code": result.error_code.value if result.error_code else None,
    }
    if as_json:
        _print(data, True)
    else:
        error = f", error {data['error_code']}: {result.error_message}" if result.is_error else ""
        typer.echo(
            f"{key} = {orjson.dumps(result.value).decode()}  "
            f"(variant {result.variant}, reason {data['reason']}{error})"
        )
    if result.error_code is not None:
        raise typer.Exit(1)
