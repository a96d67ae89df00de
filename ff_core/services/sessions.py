"""Sign-out that reaches every copy of a dashboard session cookie.

The session is a stateless signed token (``ff_core.tokens``, ``Audience.SESSION``): clearing
it in one browser leaves any copy valid until it expires. So a sign-out also records its
time in the store, per user, and the dashboard (on every event) and ff_api (on every
request with the cookie) refuse a session issued at or before it. Each process caches the
time per user for ``cache_s`` (1 s, the API's default poll interval), so a sign-out is
honoured everywhere within that; the process that records it honours it at once.

It ends every session of the user, not only this browser's: a stolen cookie cannot be told
from the original, and "sign out" is what a user does when they suspect one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from ff_core.services.writer import Clock, utcnow
from ff_core.store import Store

_CACHE_LIMIT = 10_000


class SessionService:
    def __init__(
        self,
        store: Store,
        clock: Clock = utcnow,
        *,
        cache_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._cache_s = cache_s
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, datetime | None]] = {}

    async def sign_out(self, email: str) -> datetime:
        """End every session of ``email`` issued until now; the time recorded."""
        email = email.lower()
        at = self._clock()
        await self._store.end_sessions(email, at)
        self._remember(email, at)
        return at

    async def is_current(self, email: str, issued_at: datetime) -> bool:
        """Whether a session of ``email`` issued at ``issued_at`` outlived every sign-out."""
        ended = await self._ended(email.lower())
        return ended is None or issued_at > ended

    async def _ended(self, email: str) -> datetime | None:
        cached = self._cache.get(email)
        if cached is not None and cached[0] > self._monotonic():
            return cached[1]
        ended = await self._store.sessions_ended(email)
        self._remember(email, ended)
        return ended

    def _remember(self, email: str, ended: datetime | None) -> None:
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[email] = (self._monotonic() + self._cache_s, ended)
