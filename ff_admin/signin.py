"""What happens after a verified sign-in: invitations accepted, the dev user bootstrapped."""

from __future__ import annotations

from ff_admin.backend import current
from ff_admin.settings import AuthMode
from ff_core.models import Actor, ActorKind, Role

DEV_BOOTSTRAP = Actor(kind=ActorKind.SYSTEM, subject="ff-dev-sign-in")


async def on_sign_in(email: str, invite_token: str | None) -> str | None:
    """Runs after every sign-in; returns where to go, or None for the requested page."""
    backend = current()
    if invite_token:
        member = await backend.services.access.accept_invitation(invite_token, email)
        return f"/flags?p={member.project}"
    if backend.settings.auth is AuthMode.DEV:
        await _bootstrap_dev_owner(email)
    return None


async def _bootstrap_dev_owner(email: str) -> None:
    """A local install has one user: make them owner of every project nobody owns yet.

    Projects that already have members keep them untouched; dev mode only ever runs
    on loopback (settings.check_dev_bind).
    """
    services = current().services
    for project in await services.projects.list_projects():
        if not await services.access.list_members(project.key):
            await services.access.set_member(
                DEV_BOOTSTRAP, project.key, email, Role.OWNER, granted_by=Role.OWNER
            )
