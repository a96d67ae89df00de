"""Who is calling a management route, and what they may do in a project.

Two ways in (DESIGN 7): an admin key (``Authorization: Bearer ffa_...``, scoped to one
project with a role) or the dashboard's session cookie (a signed token naming a verified
email, whose role comes from the project's members). Identities only ever come from
these, never from a request body. A project the caller cannot see answers 404, exactly
as a missing one, so its existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ff_api.auth import raw_key
from ff_api.errors import BadRequest
from ff_api.state import state_of
from ff_core import tokens
from ff_core.errors import Forbidden, NotFound, Unauthorized
from ff_core.models import Actor, ActorKind, ApiKey, KeyKind, Role

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Principal:
    actor: Actor
    key: ApiKey | None = None  # an admin key: one project, one role
    email: str | None = None  # a dashboard session: roles from membership


@dataclass(frozen=True, slots=True)
class Grant:
    """The caller in one project: who they are for the audit log, and their role."""

    actor: Actor
    role: Role


async def principal(request: Request) -> Principal:
    state = state_of(request)
    raw = raw_key(request)
    if raw is not None:
        key = await state.auth.authenticate(raw, (KeyKind.ADMIN,))
        actor = Actor(kind=ActorKind.API_KEY, subject=f"key:{key.id}", name=key.name)
        return Principal(actor=actor, key=key)
    cookie = request.cookies.get(tokens.SESSION_COOKIE)
    if cookie:
        claims = tokens.verify(state.secret, tokens.Audience.SESSION, cookie)
        email = str(claims.get("sub", "")).lower()
        if "@" not in email:
            raise Unauthorized("the session names no user")
        # A copy of a signed-out cookie is still correctly signed: the store has the last word.
        if not await state.services.sessions.is_current(email, tokens.issued_at(claims)):
            raise Unauthorized("this session was signed out; sign in to the dashboard again")
        if request.method in _UNSAFE and not _json_request(request):
            # A cross-site form can carry the cookie but cannot send JSON without a CORS
            # preflight, which never allows credentials here.
            raise BadRequest(
                "writes with a session cookie must send 'Content-Type: application/json'",
                field="Content-Type",
            )
        actor = Actor(kind=ActorKind.USER, subject=email, email=email, name=claims.get("name"))
        return Principal(actor=actor, email=email)
    raise Unauthorized(
        "sign in to the dashboard, or send an admin key as 'Authorization: Bearer <key>'"
    )


def _json_request(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower() == "application/json"


async def grant(request: Request, project: str, needed: Role) -> Grant:
    """The caller's grant in ``project`` if it reaches ``needed``; else 404 or 403."""
    who = await principal(request)
    role = await role_in(request, who, project)
    if role is None:
        raise NotFound(f"project {project!r} not found", entity="project", key=project)
    if not role.allows(needed):
        raise Forbidden(
            f"this needs the {needed.value} role in project {project!r}; you are {role.value}",
            role=role.value,
            needed=needed.value,
        )
    return Grant(actor=who.actor, role=role)


async def role_in(request: Request, who: Principal, project: str) -> Role | None:
    if who.key is not None:
        return who.key.role if who.key.project == project else None
    assert who.email is not None
    return await state_of(request).services.access.role_of(project, who.email)
