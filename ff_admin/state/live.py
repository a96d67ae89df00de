"""Live pages: a background task per open page that reloads when its project changes.

A change made anywhere (another admin, the API, the CLI) bumps the project's change
counter; ``ChangeWatch`` notices within its poll interval and wakes the pages looking at
that project, which reload their data under the state lock. A page's task ends when its
tab disconnects or the page is loaded again (a newer task supersedes it).

Members, invitations and API keys are not in the change log: their pages ``poll`` instead,
only while the tab stays on them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import reflex as rx

from ff_admin.backend import current
from ff_admin.state.session import SessionState
from ff_core.errors import FFError, StoreError

T = TypeVar("T")

_WAIT_S = 5.0
POLL_S = 1.0
_generations: dict[tuple[str, str], int] = {}


async def open_page(reload: Callable[[], Awaitable[Any]], follow_event: Any) -> Any:
    """A page's first load: its data, then its live task (``follow_event``, to yield);
    what refused the load, as a toast, instead."""
    try:
        await reload()
    except FFError as exc:
        return rx.toast.error(exc.message)
    return follow_event


async def follow(state: rx.State, refresh: Callable[[], Awaitable[Any]]) -> None:
    """Run ``refresh`` (under the state lock) whenever the page's project changes.

    Called from a page State's background event; the State keeps ``_seen``, the project's
    seq read before it loaded its data, so nothing committed in between is missed.
    """
    async with state:
        session = await state.get_state(SessionState)
        project, seen = session.project, int(getattr(state, "_seen", 0))
    if not project:
        return
    token = state.router.session.client_token
    key = (token, state.get_full_name())
    generation = _generations[key] = _generations.get(key, 0) + 1
    backend = current()
    try:
        while _generations.get(key) == generation and backend.connected(token):
            seq = await backend.watch.wait(project, seen, _WAIT_S)
            if seq <= seen:
                continue
            seen = seq
            async with state:
                if _generations.get(key) != generation:
                    return
                try:
                    await refresh()
                except FFError:
                    # Access gone (member removed, project deleted) or the store failing:
                    # the page keeps what it shows; its next event reports the problem.
                    return
    finally:
        if _generations.get(key) == generation:
            del _generations[key]


async def poll(
    state: rx.State,
    project: str,
    read: Callable[[], Awaitable[T]],
    apply: Callable[[T], None],
    interval_s: float = POLL_S,
) -> None:
    """Every ``interval_s``, ``read`` (outside the state lock) and ``apply`` the result under
    it, while the tab stays on the page that started this; a refusal (access removed) ends it.
    """
    if not project:
        return
    token = state.router.session.client_token
    path = state.router.url.path
    key = (token, state.get_full_name())
    generation = _generations[key] = _generations.get(key, 0) + 1
    backend = current()
    try:
        while _generations.get(key) == generation and backend.connected(token):
            await asyncio.sleep(interval_s)
            try:
                value = await read()
            except StoreError:
                continue
            except FFError:
                return
            async with state:
                if _generations.get(key) != generation or state.router.url.path != path:
                    return
                apply(value)
    finally:
        if _generations.get(key) == generation:
            del _generations[key]
