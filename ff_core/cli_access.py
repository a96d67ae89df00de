"""``ff keys ...`` and ``ff members ...``: who and what may use a project.

The shell is trusted like an owner: it holds the table's credentials.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ff_core import keys
from ff_core.admin import library_actor
from ff_core.cli_support import JsonOpt, ProjectOpt, _print, _run
from ff_core.models import ApiKey, KeyKind, Member, Role
from ff_core.services import Services
from ff_core.settings import Settings

keys_app = typer.Typer(help="API keys: server, client and admin.", no_args_is_help=True)
members_app = typer.Typer(
    help="Project members: who may use the dashboard and the management API.",
    no_args_is_help=True,
)


@members_app.command("add")
def members_add(
    email: str,
    role: Annotated[Role, typer.Option(help="owner, admin, editor or viewer")],
    project: ProjectOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a member or change their role: how the first owner of a project is made."""

    async def work(services: Services, settings: Settings) -> Member:
        return await services.access.set_member(
            library_actor(),
            project or settings.default_project,
            email,
            role,
            granted_by=Role.OWNER,
        )

    member = _run(work)
    _print(
        member.model_dump(mode="json"),
        as_json,
        title=f"{member.email} is now {member.role.value} of {member.project}",
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
def members_remove(email: str, project: ProjectOpt = None, as_json: JsonOpt = False) -> None:
    """Remove a member (the last owner stays)."""

    async def work(services: Services, settings: Settings) -> str:
        target = project or settings.default_project
        await services.access.remove_member(library_actor(), target, email, granted_by=Role.OWNER)
        return target

    target = _run(work)
    removed = email.strip().lower()
    _print({"project": target, "removed": removed}, as_json, title=f"removed {removed}")


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
        _print({**_key_json(key), "key": raw}, True)
    else:
        typer.echo(f"{raw}\n(shown once: store it now; it is kept only as a hash)")


def _key_json(key: ApiKey) -> dict[str, object]:
    # Never the hash: with the key secret it would let anyone test guesses offline.
    return key.model_dump(mode="json", exclude={"hash"})


@keys_app.command("list")
def keys_list(project: ProjectOpt = None, as_json: JsonOpt = False) -> None:
    """A project's keys by prefix (the raw keys are never stored)."""
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
    _print([_key_json(k) for k in found], as_json, rows)


@keys_app.command("revoke")
def keys_revoke(key_id: str, project: ProjectOpt = None, as_json: JsonOpt = False) -> None:
    """Revoke a key by its ID (from `ff keys list`)."""
    revoked = _run(
        lambda s, st: s.access.revoke_key(library_actor(), project or st.default_project, key_id)
    )
    _print(_key_json(revoked), as_json, title=f"revoked {revoked.id} ({revoked.prefix}...)")
