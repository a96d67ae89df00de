"""Usage reporting: the client's evaluation counts per flag, sent in the background.

Evaluations only increment a dict; about every ``interval_s`` the reporter swaps that dict
for an empty one and sends it (``POST /api/v1/sdk/usage``, or straight to the store in
library mode). Counts that could not be sent wait for the next report.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

log = logging.getLogger("ff.client")

# Flags whose unsent counts are kept across failed reports; beyond, counts are dropped.
MAX_HELD_FLAGS = 10_000

Send = Callable[[Mapping[str, int], datetime, datetime], Awaitable[None]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class UsageReporter:
    def __init__(
        self,
        take: Callable[[], dict[str, int]],
        send: Send,
        interval_s: float,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._take = take
        self._send = send
        self.interval_s = interval_s
        self._clock = clock
        self._held: dict[str, int] = {}
        self._since = clock()
        self.reports = 0
        self.failures = 0
        self.dropped = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()

    async def flush(self) -> bool:
        """Send what was counted since the last report; False when it could not be sent."""
        counts = self._take()
        for key, count in self._held.items():
            counts[key] = counts.get(key, 0) + count
        self._held = {}
        if not counts:
            return True
        now = self._clock()
        try:
            await self._send(counts, self._since, now)
        except asyncio.CancelledError:
            self._hold(counts)
            raise
        except Exception as exc:  # the API or store is down: keep the counts for next time
            self.failures += 1
            log.debug("could not report usage: %s", exc)
            self._hold(counts)
            return False
        self._since = now
        self.reports += 1
        return True

    def _hold(self, counts: Mapping[str, int]) -> None:
        for key, count in counts.items():
            if key in self._held or len(self._held) < MAX_HELD_FLAGS:
                self._held[key] = self._held.get(key, 0) + count
            else:
                self.dropped += count
