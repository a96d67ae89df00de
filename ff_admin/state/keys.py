"""The API keys page: list, create (the raw key shown once), revoke.

The raw key never enters this State (whose vars Reflex persists between events): the
create handler pushes it straight into a browser-only variable, ``RAW_KEY``, which the
dialog shows and empties when it closes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import reflex as rx
from reflex.experimental.client_state import ClientStateVar
from reflex_base.event import EventSpec

from ff_admin.backend import current
from ff_admin.logic import access
from ff_admin.logic.access import KeyRow
from ff_admin.state import live
from ff_admin.state.guard import grant
from ff_admin.state.session import SessionState
from ff_core.errors import FFError
from ff_core.models import ApiKey, Role

RAW_KEY = ClientStateVar.create(var_name="ff_raw_key", default="")


class KeysState(rx.State):
    rows: list[KeyRow] = []
    # Roles an admin key may get from the caller (empty: the caller cannot create keys).
    roles: list[str] = []
    creating: bool = False
    name: str = ""
    kind: str = "server"
    environment: str = ""
    role: str = "viewer"
    revoke_id: str = ""
    revoke_name: str = ""

    async def _read(self, project: str) -> list[ApiKey]:
        await grant(self, project)
        return await current().services.access.list_keys(project)

    def _show(self, keys: list[ApiKey]) -> None:
        rows = access.key_rows(keys)
        if rows != self.rows:
            self.rows = rows

    @rx.event
    async def load(self) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        if not session.project:
            return
        self.creating, self.revoke_id = False, ""
        try:
            who = await grant(self, session.project)
            self._show(await current().services.access.list_keys(session.project))
        except FFError as exc:
            yield rx.toast.error(exc.message)
            return
        self.roles = access.grantable_roles(who.role)
        self.environment = session.environment
        yield KeysState.follow

    @rx.event(background=True)
    async def follow(self) -> None:
        async with self:
            session = await self.get_state(SessionState)
            project = session.project
        await live.poll(self, project, partial(self._read, project), self._show)

    @rx.event
    def open_create(self) -> None:
        self.creating, self.name, self.kind = True, "", "server"

    @rx.event
    def set_creating(self, open_: bool) -> None:
        self.creating = open_

    @rx.event
    def set_field(self, name: str, value: str) -> None:
        if name in ("name", "kind", "environment", "role"):
            setattr(self, name, value)

    @rx.event
    async def create(self) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        try:
            who = await grant(self, session.project, Role.ADMIN)
            wanted = access.parse_key_form(
                self.name, self.kind, self.environment, self.role, session.environments
            )
            key, raw = await current().services.access.create_key(
                who.actor,
                session.project,
                wanted.kind,
                wanted.name,
                environment=wanted.environment,
                role=wanted.role,
                granted_by=who.role,
            )
        except FFError as exc:
            yield rx.toast.error(exc.message, id="toast-key-refused")
            return
        self.creating = False
        self._show(await current().services.access.list_keys(session.project))
        yield RAW_KEY.push(raw)
        yield rx.toast.success(f"Key {key.name!r} created", id="toast-key-created")

    @rx.event
    def ask_revoke(self, key_id: str, name: str) -> None:
        self.revoke_id, self.revoke_name = key_id, name

    @rx.event
    def cancel_revoke(self) -> None:
        self.revoke_id = ""

    @rx.event
    async def revoke(self, key_id: str) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        self.revoke_id = ""
        try:
            who = await grant(self, session.project, Role.ADMIN)
            key = await current().services.access.revoke_key(who.actor, session.project, key_id)
        except FFError as exc:
            yield rx.toast.error(exc.message)
            return
        self._show(await current().services.access.list_keys(session.project))
        yield rx.toast.success(f"Key {key.name!r} revoked")
