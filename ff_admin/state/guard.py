"""The verified identity behind a dashboard event, and what it may do in a project.

Every handler that reads or writes a project asks here first. The identity comes from
the signed session cookie the browser sent when its socket connected (HttpOnly, so page
scripts never see it), never from State vars, and is refused once its user signed out
anywhere; the role comes from the project's members on every call, so a removed member
loses access at their next click.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from ff_admin.auth.session import Session, session_from_cookie_header
from ff_admin.backend import current
from ff_core.errors import Forbidden, NotFound, Unauthorized
from ff_core.models import Actor, ActorKind, Role


@dataclass(frozen=True, slots=True)
class Grant:
    actor: Actor
    role: Role
    email: str


async def session_of(state: rx.State) -> Session:
    """The signed-in user; Unauthorized when the cookie is missing, invalid, expired, or
    issued before the user last signed out (a copied cookie; at most 1 s cached)."""
    backend = current()
    session = session_from_cookie_header(backend.secret, state.router.headers.cookie)
    if session is None or not await backend.services.sessions.is_current(
        session.email, session.issued_at
    ):
        raise Unauthorized("your session has ended; sign in again")
    return session


async def grant(state: rx.State, project: str, needed: Role = Role.VIEWER) -> Grant:
    """The caller in ``project`` with at least ``needed``; else NotFound / Forbidden."""
    session = await session_of(state)
    role = await current().services.access.role_of(project, session.email)
    if role is None:
        raise NotFound(f"project {project!r} not found", key=project)
    if not role.allows(needed):
        article = "an" if role.value[0] in "aeiou" else "a"
        raise Forbidden(f"{article} {role.value} cannot do this; it needs {needed.value} or above")
    actor = Actor(
        kind=ActorKind.USER, subject=session.email, email=session.email, name=session.name
    )
    return Grant(actor=actor, role=role, email=session.email)
