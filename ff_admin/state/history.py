"""A flag's history: a live timeline, newest first, paged backwards; rollback with a note."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import reflex as rx
from reflex_base.event import EventSpec

from ff_admin.backend import current
from ff_admin.logic.diff import DiffLine, diff_values, summarise
from ff_admin.state import live
from ff_admin.state.guard import grant
from ff_admin.state.session import SessionState
from ff_core.errors import FFError
from ff_core.models import ActorKind, HistoryEntry, Role

PAGE_SIZE = 20


@dataclass
class HistoryRow:
    id: str
    # The actor's email, else its subject (an API key's id, the CLI's name...).
    who: str
    actor_kind: str
    # ISO 8601, for the browser to say how long ago; and the same in UTC to read.
    at: str
    at_text: str
    action: str
    summary: str
    environments: list[str] = field(default_factory=list)
    note: str = ""
    diff: list[DiffLine] = field(default_factory=list)


def history_row(entry: HistoryEntry) -> HistoryRow:
    envs = entry.environments or ((entry.environment,) if entry.environment else ())
    return HistoryRow(
        id=entry.id,
        who=entry.actor.email or entry.actor.subject,
        actor_kind="" if entry.actor.kind is ActorKind.USER else entry.actor.kind.value,
        at=entry.at.isoformat(),
        at_text=_utc(entry.at),
        action=entry.action.value,
        summary=_summary(entry),
        environments=list(envs),
        note=entry.note,
        diff=diff_values(entry.old, entry.new),
    )


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _summary(entry: HistoryEntry) -> str:
    """``summarise``, with a rollback's target (a history id) as the time of that change."""
    summary = summarise(entry)
    target = entry.rolled_back_to
    if target:
        try:
            when = _utc(datetime.fromisoformat(target.partition("#")[0]))
        except ValueError:
            return summary
        summary = summary.replace(target, f"the change of {when}")
    return summary


class HistoryState(rx.State):
    key: str = ""
    rows: list[HistoryRow] = []
    # Where "Load older" continues; "" when the oldest entry is shown.
    cursor: str = ""
    loaded: bool = False
    rollback_id: str = ""
    rollback_summary: str = ""
    rollback_note: str = ""
    rollback_error: str = ""
    rolling_back: bool = False
    _seen: int = 0

    async def _reload(self) -> None:
        """Newest entries first; keeps the older pages already shown when they still join."""
        session = await self.get_state(SessionState)
        backend = current()
        await grant(self, session.project)
        self._seen = await backend.store.get_seq(session.project)
        page = await backend.services.flags.list_history(session.project, self.key, limit=PAGE_SIZE)
        fresh = [history_row(e) for e in page.items]
        top = self.rows[0].id if self.rows else None
        joined = next((i for i, row in enumerate(fresh) if row.id == top), None)
        if joined is None:
            self.rows, self.cursor = fresh, page.next_cursor or ""
        else:
            self.rows = fresh[:joined] + self.rows
        self.loaded = True

    @rx.event
    async def load(self) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        self.rows, self.cursor, self.loaded, self.rollback_id = [], "", False, ""
        self.key = self.router.url.query_parameters.get("key", "")
        if not session.project or not self.key:
            return
        yield await live.open_page(self._reload, HistoryState.follow)

    @rx.event(background=True)
    async def follow(self) -> None:
        await live.follow(self, self._reload)

    @rx.event
    async def load_older(self) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        if not self.cursor:
            return
        try:
            await grant(self, session.project)
            page = await current().services.flags.list_history(
                session.project, self.key, limit=PAGE_SIZE, before=self.cursor
            )
        except FFError as exc:
            yield rx.toast.error(exc.message)
            return
        self.rows = self.rows + [history_row(e) for e in page.items]
        self.cursor = page.next_cursor or ""

    @rx.event
    def ask_rollback(self, history_id: str) -> None:
        row = next((r for r in self.rows if r.id == history_id), None)
        if row is None:
            return
        self.rollback_id = row.id
        self.rollback_summary = f"{row.summary} ({row.at_text}, by {row.who})"
        self.rollback_note = self.rollback_error = ""

    @rx.event
    def set_rollback_note(self, note: str) -> None:
        self.rollback_note = note

    @rx.event
    def close_rollback(self, open_: bool = False) -> None:
        if not open_ and not self.rolling_back:
            self.rollback_id = ""

    @rx.event
    async def confirm_rollback(self) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        self.rolling_back, self.rollback_error = True, ""
        yield None
        try:
            who = await grant(self, session.project, Role.EDITOR)
            await current().services.flags.rollback(
                who.actor,
                session.project,
                self.key,
                self.rollback_id,
                note=self.rollback_note.strip(),
            )
        except FFError as exc:
            self.rolling_back, self.rollback_error = False, exc.message
            yield rx.toast.error(exc.message)
            return
        self.rolling_back, self.rollback_id = False, ""
        try:
            await self._reload()
        except FFError as exc:
            yield rx.toast.error(exc.message)
        yield rx.toast.success(f"{self.key} is rolled back", id="toast-rolled-back")
