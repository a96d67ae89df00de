"""The Quickstart page: snippets filled with the project's URLs, a key prefix and a flag."""

from __future__ import annotations

from collections.abc import AsyncIterator

import reflex as rx
from reflex_base.event import EventSpec

from ff_admin.backend import current
from ff_admin.logic import quickstart
from ff_admin.logic.quickstart import SnippetCard
from ff_admin.state.guard import grant
from ff_admin.state.session import SessionState
from ff_core.errors import FFError
from ff_core.models import KeyKind


class QuickstartState(rx.State):
    cards: list[SnippetCard] = []
    api_url: str = ""
    tab: str = ""
    server_prefix: str = ""
    client_prefix: str = ""

    @rx.event
    async def load(self) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        if not session.project:
            return
        backend = current()
        try:
            await grant(self, session.project)
            keys = await backend.services.access.list_keys(session.project)
            flags = await backend.services.flags.list_flags(session.project)
        except FFError as exc:
            yield rx.toast.error(exc.message)
            return
        self.api_url = backend.settings.api_url
        self.cards = quickstart.cards(
            self.api_url, session.project, session.environment, keys, flags
        )
        env = session.environment
        self.server_prefix = quickstart.newest_active_prefix(keys, KeyKind.SERVER, env)
        self.client_prefix = quickstart.newest_active_prefix(keys, KeyKind.CLIENT, env)
        if self.tab not in {c.id for c in self.cards}:
            self.tab = self.cards[0].id

    @rx.event
    def set_tab(self, tab: str) -> None:
        self.tab = tab
