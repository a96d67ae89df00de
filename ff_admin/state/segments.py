"""The project's segments: a live list; create and edit in one form; delete when unused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import reflex as rx
from reflex_base.event import EventSpec

from ff_admin.backend import current
from ff_admin.logic import segment_form
from ff_admin.logic.segment_form import SegmentForm, SegmentRow
from ff_admin.state import live
from ff_admin.state.guard import grant
from ff_admin.state.session import SessionState
from ff_core.errors import FFError, VersionConflict
from ff_core.models import Role, Segment
from ff_core.services.checks import segment_users

_FORM_FIELDS = ("key", "name", "description", "included", "excluded")


class SegmentsState(rx.State):
    rows: list[SegmentRow] = []
    loaded: bool = False
    # The form (create when ``editing`` is "", else edit that segment).
    form_open: bool = False
    editing: str = ""
    form: SegmentForm = SegmentForm()
    errors: dict[str, str] = {}
    saving: bool = False
    # The segment asked to be deleted ("" when the dialog is closed).
    deleting: str = ""
    delete_error: str = ""
    _editing_segment: Segment | None = None
    _seen: int = 0

    async def _reload(self) -> None:
        session = await self.get_state(SessionState)
        backend = current()
        await grant(self, session.project)
        self._seen = await backend.store.get_seq(session.project)
        # One read of the project gives the segments and the flags that use them.
        state = await backend.store.load_project(session.project)
        self.rows = [
            segment_form.to_row(s, segment_users(s.key, state.flags))
            for s in sorted(state.segments.values(), key=lambda s: s.key)
        ]
        self.loaded = True

    @rx.event
    async def load(self) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        self.rows, self.loaded, self.form_open, self.deleting = [], False, False, ""
        if not session.project:
            return
        yield await live.open_page(self._reload, SegmentsState.follow)

    @rx.event(background=True)
    async def follow(self) -> None:
        await live.follow(self, self._reload)

    # -- the form ------------------------------------------------------------------------------

    @rx.event
    def open_new(self) -> None:
        self.editing, self._editing_segment = "", None
        self.form, self.errors, self.form_open = SegmentForm(), {}, True

    @rx.event
    async def open_edit(self, key: str) -> AsyncIterator[EventSpec | None]:
        """Fill the form from the stored segment (its version is what a save expects)."""
        session = await self.get_state(SessionState)
        try:
            await grant(self, session.project)
            segment = await current().services.segments.get_segment(session.project, key)
        except FFError as exc:
            yield rx.toast.error(exc.message)
            return
        self.editing, self._editing_segment = key, segment
        self.form, self.errors, self.form_open = segment_form.to_form(segment), {}, True

    @rx.event
    def set_field(self, name: str, value: str) -> None:
        if name in _FORM_FIELDS:
            self.form = replace(self.form, **{name: value})
            self.errors = {k: v for k, v in self.errors.items() if k != name}

    @rx.event
    def close_form(self, open_: bool = False) -> None:
        if not open_ and not self.saving:
            self.form_open, self._editing_segment = False, None

    @rx.event
    async def save(self) -> AsyncIterator[EventSpec | None]:
        editing = self._editing_segment
        segment, self.errors = segment_form.parse_segment(self.form, editing)
        if segment is None:
            return
        session = await self.get_state(SessionState)
        self.saving = True
        yield None
        try:
            who = await grant(self, session.project, Role.EDITOR)
            saved = await current().services.segments.save_segment(
                who.actor,
                session.project,
                segment,
                expected_version=None if editing is None else editing.version,
            )
        except VersionConflict as exc:
            self.saving = False
            self.errors = {"form": _conflict_message(segment.key, exc)}
            yield rx.toast.warning(self.errors["form"], id="toast-conflict")
            return
        except FFError as exc:
            self.saving = False
            self.errors = {_field_of(exc): exc.message}
            yield rx.toast.error(exc.message)
            return
        self.saving, self.form_open, self._editing_segment = False, False, None
        await self._reload()
        verb = "created" if editing is None else "saved"
        yield rx.toast.success(f"Segment {saved.key} {verb}")

    # -- delete --------------------------------------------------------------------------------

    @rx.event
    def ask_delete(self, key: str) -> None:
        self.deleting, self.delete_error = key, ""

    @rx.event
    def close_delete(self, open_: bool = False) -> None:
        if not open_:
            self.deleting = ""

    @rx.event
    async def confirm_delete(self) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        key = self.deleting
        try:
            who = await grant(self, session.project, Role.EDITOR)
            await current().services.segments.delete_segment(who.actor, session.project, key)
        except FFError as exc:
            self.delete_error = exc.message
            yield rx.toast.error(exc.message)
            return
        self.deleting = ""
        await self._reload()
        yield rx.toast.success(f"Segment {key} deleted")


def _conflict_message(key: str, exc: VersionConflict) -> str:
    return (
        f"Segment {key} was changed by someone else meanwhile (version {exc.current}, "
        f"you edited {exc.expected}). Nothing was overwritten: close the form and open "
        "it again to edit the latest."
    )


def _field_of(exc: FFError) -> str:
    """The form field a service refusal is about (``AlreadyExists`` is about the key)."""
    if exc.code == "already_exists":
        return "key"
    field = str(exc.details.get("field", ""))
    head = field.split(".")[0]
    return head if head in _FORM_FIELDS else "form"
