"""``ff flags ...``: read and change flags. Every write is one audited write per flag, made
as the library actor (``FF_ACTOR`` or the operating-system user) with the ``--note``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import orjson
import typer

from ff_core import limits
from ff_core.admin import library_actor
from ff_core.cli_support import (
    EXIT_USAGE,
    JsonOpt,
    NoteOpt,
    ProjectOpt,
    _print,
    _run,
    checked,
    confirm,
    fail,
    interactive,
    progress,
)
from ff_core.models import EnvironmentConfig, Flag, FlagKind, Serve, ValueType, boolean_variants
from ff_core.services import Services
from ff_core.settings import Settings

T = TypeVar("T")
app = typer.Typer(help="Read and change flags.", no_args_is_help=True)
KeysArg = Annotated[list[str], typer.Argument(help="One or more flag keys", show_default=False)]


class Switch(StrEnum):
    ON = "on"
    OFF = "off"


def flag_rows(flags: list[Flag], environments: list[str]) -> list[list[str]]:
    rows = [["KEY", "TYPE", *[e.upper() for e in environments], "VERSION", "NAME"]]
    for f in flags:
        states = [
            "on" if (c := f.environments.get(e)) and c.enabled else "off" for e in environments
        ]
        name = f"{f.name} (archived)" if f.archived else f.name
        rows.append([f.key, f.value_type.value, *states, str(f.version), name])
    return rows


def describe_serve(serve: Serve) -> str:
    if serve.rollout is None:
        return str(serve.variant)
    return " ".join(
        f"{v.variant}:{v.weight * 100 / limits.ROLLOUT_TOTAL:g}%" for v in serve.rollout.variants
    )


def _environment_row(env: str, config: EnvironmentConfig | None) -> list[str]:
    if config is None:
        return [env, "off", "-", "-", "-", "-", "-"]
    return [
        env,
        "on" if config.enabled else "off",
        str(sum(len(t.values) for t in config.targets)),
        str(len(config.rules)),
        describe_serve(config.fallthrough),
        config.off_variant,
        str(config.version),
    ]


def describe_flag(flag: Flag, environments: list[str]) -> tuple[str, list[list[str]]]:
    """A flag for people: a few lines of metadata, then one row per environment."""
    variants = "  ".join(f"{k}={orjson.dumps(v.value).decode()}" for k, v in flag.variants.items())
    lifetime = "temporary" if flag.temporary else "permanent"
    if flag.expires_at is not None:
        lifetime += f", expires {flag.expires_at.isoformat()}"
    audience = (
        "client-visible"
        if flag.client_visible
        else "internal only"
        if flag.internal_only
        else "server only"
    )
    lines = [
        f"{flag.key}: {flag.name}" + ("  (archived)" if flag.archived else ""),
        f"  {flag.value_type.value}, {flag.kind.value}, {lifetime}, {audience}, "
        f"version {flag.version}",
        f"  owner: {flag.owner or '-'}   tags: {', '.join(flag.tags) or '-'}",
        f"  variants: {variants}",
    ]
    if flag.description:
        lines.insert(1, f"  {flag.description}")
    rows = [["ENVIRONMENT", "ENABLED", "TARGETS", "RULES", "FALLTHROUGH", "OFF", "VERSION"]]
    rows += [_environment_row(e, flag.environments.get(e)) for e in environments]
    return "\n".join(lines), rows


@app.command("list")
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
    _print([f.model_dump(mode="json") for f in flags], as_json, flag_rows(flags, environments))


@app.command("get")
def flags_get(key: str, project: ProjectOpt = None, as_json: JsonOpt = False) -> None:
    """One flag: its metadata and each environment's state.

    --json prints the whole definition (rules, targets, rollouts).
    """

    async def work(services: Services, settings: Settings) -> tuple[Flag, list[str]]:
        p = await services.projects.get_project(project or settings.default_project)
        return await services.flags.get_flag(p.key, key), p.environment_keys()

    flag, environments = _run(work)
    title, rows = describe_flag(flag, environments)
    _print(flag.model_dump(mode="json"), as_json, rows, title=title)


def _parse_variants(value_type: ValueType, text: str | None) -> dict[str, Any]:
    if text is None:
        if value_type is ValueType.BOOLEAN:
            return {k: v.model_dump(mode="json") for k, v in boolean_variants().items()}
        fail(
            f"--variants is required for a {value_type.value} flag, "
            'e.g. --variants \'{"small": 10, "large": 50}\'',
            EXIT_USAGE,
        )
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        fail(f"--variants is not JSON: {exc}", EXIT_USAGE)
    if not isinstance(parsed, dict) or not parsed:
        fail('--variants must be a JSON object of variant key to value, e.g. {"a": 1}', EXIT_USAGE)
    return {key: {"value": value} for key, value in parsed.items()}


def _parse_expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--expires: {text!r} is not an ISO 8601 date or time (e.g. 2027-03-31)", EXIT_USAGE)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@app.command("create")
def flags_create(
    key: str,
    name: Annotated[str | None, typer.Option(help="Default: the key")] = None,
    description: Annotated[str, typer.Option()] = "",
    value_type: Annotated[
        ValueType, typer.Option("--type", help="The type of every variant's value")
    ] = ValueType.BOOLEAN,
    variants: Annotated[
        str | None,
        typer.Option(
            help="JSON object, variant key -> value (boolean flags: on/off). The 'on' variant, "
            "else the first, is served when enabled; 'off', else the last, when disabled."
        ),
    ] = None,
    kind: Annotated[FlagKind, typer.Option()] = FlagKind.RELEASE,
    owner: Annotated[str | None, typer.Option(help="Who answers for the flag")] = None,
    tags: Annotated[str, typer.Option(help="Comma-separated")] = "",
    client_visible: Annotated[
        bool, typer.Option("--client-visible", help="May be sent to browsers (client keys)")
    ] = False,
    internal_only: Annotated[
        bool, typer.Option("--internal-only", help="Never sent to browsers, whatever the key")
    ] = False,
    temporary: Annotated[
        bool, typer.Option("--temporary/--permanent", help="A release toggle to remove later")
    ] = True,
    expires: Annotated[
        str | None, typer.Option(help="ISO 8601 date or time (naive means UTC)")
    ] = None,
    project: ProjectOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a flag; it starts disabled in every environment."""
    data = {
        "key": key,
        "name": name or key,
        "description": description,
        "value_type": value_type,
        "variants": _parse_variants(value_type, variants),
        "kind": kind,
        "owner": owner,
        "tags": list(dict.fromkeys(t.strip() for t in tags.split(",") if t.strip())),
        "client_visible": client_visible,
        "internal_only": internal_only,
        "temporary": temporary,
        "expires_at": _parse_expiry(expires),
    }

    # Checked before the store is opened: a typo costs no round trip.
    flag = checked(lambda: Flag.model_validate(data), "flag")

    async def work(services: Services, settings: Settings) -> Flag:
        return await services.flags.create_flag(
            library_actor(), project or settings.default_project, flag, note=note
        )

    created = _run(work)
    _print(
        created.model_dump(mode="json"),
        as_json,
        title=f"created {created.key} (disabled everywhere; version {created.version})",
    )


@app.command("set-enabled")
def flags_set_enabled(
    key: str,
    environment: str,
    state: Annotated[Switch, typer.Argument(help="on or off")],
    project: ProjectOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Turn KEY on or off in one ENVIRONMENT (the kill switch).

    Other environments keep their state.
    """
    flag = _run(
        lambda s, st: s.flags.set_enabled(
            library_actor(),
            project or st.default_project,
            key,
            environment,
            state is Switch.ON,
            note=note,
        )
    )
    _print(
        flag.model_dump(mode="json"),
        as_json,
        title=f"{key}: {state.value} in {environment} (version {flag.version})",
    )


@app.command("set-enabled-in")
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
    _print(
        flag.model_dump(mode="json"),
        as_json,
        title=f"{key}: enabled in {enabled or 'no environment'} (version {flag.version})",
    )


def _each(
    keys: list[str],
    project: str | None,
    label: str,
    write: Callable[[Services, str, str], Awaitable[T]],
) -> tuple[str, list[T]]:
    """``write`` each key in turn (one audited write each), with a progress bar; stops at the
    first refusal and says which keys were already done."""
    done: list[str] = []
    results: list[T] = []

    async def work(services: Services, settings: Settings) -> str:
        target = project or settings.default_project
        with progress(label, len(keys)) as advance:
            for key in keys:
                results.append(await write(services, target, key))
                done.append(key)
                advance(1)
        return target

    try:
        target = _run(work)
    except typer.Exit:
        if done:
            typer.echo(f"done before the error: {', '.join(done)}", err=True)
        raise
    return target, results


@app.command("archive")
def flags_archive(
    keys: KeysArg,
    unarchive: Annotated[bool, typer.Option("--unarchive", help="Bring them back")] = False,
    project: ProjectOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Archive flags (or --unarchive them).

    An archived flag is out of the dashboard's default list and still served as it is.
    Refused while another flag has one as a prerequisite.
    """
    unique = list(dict.fromkeys(keys))
    _, flags = _each(
        unique,
        project,
        "unarchiving" if unarchive else "archiving",
        lambda s, p, k: s.flags.update_flag(
            library_actor(), p, k, {"archived": not unarchive}, note=note
        ),
    )
    verb = "unarchived" if unarchive else "archived"
    _print(
        [f.model_dump(mode="json") for f in flags], as_json, title=f"{verb}: {', '.join(unique)}"
    )


@app.command("delete")
def flags_delete(
    keys: KeysArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False,
    project: ProjectOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Delete flags; their history stays.

    Asks first unless --yes (without a terminal, --yes is required). Refused while another
    flag has one as a prerequisite.
    """
    unique = list(dict.fromkeys(keys))
    if not yes:
        if not interactive():
            fail("deleting needs --yes when there is no terminal to ask at", EXIT_USAGE)
        if not confirm(f"Delete {', '.join(unique)}? Their history stays."):
            fail("not confirmed; nothing deleted")
    target, _ = _each(
        unique,
        project,
        "deleting",
        lambda s, p, k: s.flags.delete_flag(library_actor(), p, k, note=note),
    )
    _print({"project": target, "deleted": unique}, as_json, title=f"deleted: {', '.join(unique)}")


@app.command("history")
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


@app.command("rollback")
def flags_rollback(
    key: str,
    history_id: str,
    project: ProjectOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Restore KEY as it was right after history entry HISTORY_ID."""
    flag = _run(
        lambda s, st: s.flags.rollback(
            library_actor(), project or st.default_project, key, history_id, note=note
        )
    )
    _print(
        flag.model_dump(mode="json"),
        as_json,
        title=f"{key}: rolled back to {history_id} (now version {flag.version})",
    )
