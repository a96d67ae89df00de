"""The flags list: one environment's view of every flag, filtered and paged in memory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import reflex as rx
from reflex_base.event import EventSpec

from ff_admin.backend import current
from ff_admin.logic import flag_list
from ff_admin.logic.flag_list import FlagQuery, FlagRow
from ff_admin.state import live
from ff_admin.state.guard import grant
from ff_admin.state.session import SessionState
from ff_core.errors import FFError, VersionConflict
from ff_core.models import Role
from ff_core.services.writer import utcnow


class FlagsState(rx.State):
    rows: list[FlagRow] = []
    total: int = 0
    page: int = 1
    pages: int = 1
    tags: list[str] = []
    search: str = ""
    tag: str = "all"
    kind: str = "all"
    status: str = "all"
    lifecycle: str = "all"
    sort: str = "key"
    descending: bool = False
    # Flags come from the registry file: no freeform new flags (DESIGN 2).
    registry_enforced: bool = False
    _all: list[FlagRow] = []
    _seen: int = 0

    def _query(self) -> FlagQuery:
        return FlagQuery(
            search=self.search,
            tag="" if self.tag == "all" else self.tag,
            kind="" if self.kind == "all" else self.kind,
            status=self.status,
            lifecycle=self.lifecycle,
            sort=self.sort,
            descending=self.descending,
            page=self.page,
        )

    def _show(self) -> None:
        result = flag_list.query(self._all, self._query())
        self.rows, self.total = result.rows, result.total
        self.page, self.pages, self.tags = result.page, result.pages, result.tags

    async def _reload(self) -> None:
        session = await self.get_state(SessionState)
        backend = current()
        await grant(self, session.project)
        self._seen = await backend.store.get_seq(session.project)
        now = utcnow()
        project = await backend.services.projects.get_project(session.project)
        flags = await backend.projects.flags(session.project)
        usage = {u.flag: u for u in await backend.store.get_usage(session.project, now=now)}
        self.registry_enforced = project.registry_enforced
        self._all = flag_list.build_rows(
            flags, session.environment, usage, now, enforced=project.registry_enforced
        )
        self._show()

    @rx.event
    async def load(self) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        if not session.project:
            return
        q = flag_list.parse_query(self.router.url.query_parameters)
        self.search, self.tag, self.kind = q.search, q.tag or "all", q.kind or "all"
        self.status, self.lifecycle, self.sort = q.status, q.lifecycle, q.sort
        self.descending, self.page = q.descending, q.page
        yield await live.open_page(self._reload, FlagsState.follow)

    @rx.event(background=True)
    async def follow(self) -> None:
        await live.follow(self, self._reload)

    @rx.event
    def set_filter(self, name: str, value: str) -> EventSpec:
        if name in ("search", "tag", "kind", "status", "lifecycle", "sort"):
            setattr(self, name, value)
        self.page = 1
        self._show()
        return self._sync_url()

    @rx.event
    def toggle_order(self) -> EventSpec:
        self.descending = not self.descending
        self._show()
        return self._sync_url()

    @rx.event
    def go_to_page(self, page: int) -> EventSpec:
        self.page = page
        self._show()
        return self._sync_url()

    def _sync_url(self) -> EventSpec:
        """Keep the filters in the address bar (shareable), without a reload."""
        params = {"p": self.router.url.query_parameters.get("p", "")}
        env = self.router.url.query_parameters.get("env")
        if env:
            params["env"] = env
        params.update(flag_list.to_params(self._query()))
        return rx.call_script(
            f"window.history.replaceState(null, '', {json.dumps('?' + urlencode(params))})"
        )

    @rx.event
    async def toggle(self, key: str, enabled: bool) -> AsyncIterator[EventSpec | None]:
        """Flip the kill switch at once on screen, then write it; undo on refusal."""
        row = next((r for r in self._all if r.key == key), None)
        if row is None:
            return
        session = await self.get_state(SessionState)
        expected = row.config_version
        row.enabled = enabled
        self._show()
        yield None
        backend = current()
        try:
            who = await grant(self, session.project, Role.EDITOR)
            await backend.services.flags.set_enabled(
                who.actor,
                session.project,
                key,
                session.environment,
                enabled,
                expected_version=expected,
            )
        except VersionConflict:
            await self._reload()
            fresh = next((r for r in self._all if r.key == key), None)
            now = "on" if fresh is not None and fresh.enabled else "off"
            yield rx.toast.warning(
                f"{key} was changed by someone else meanwhile; it is {now} in "
                f"{session.environment} now. Nothing was overwritten.",
                id="toast-conflict",
            )
            return
        except FFError as exc:
            row.enabled = not enabled
            self._show()
            yield rx.toast.error(exc.message)
            return
        await self._reload()
        state = "on" if enabled else "off"
        yield rx.toast.success(f"{key} is {state} in {session.environment}")
