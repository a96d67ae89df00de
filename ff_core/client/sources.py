"""Where a client's definitions come from, and the interface a source feeds them through.

A source runs as one background task (``run``) that keeps the client current: it hands
over whole snapshots and incremental changes, and says whether it can reach its origin.
Sources: the ff API (``api.ApiSource``), DynamoDB directly (``library.StoreSource``); a
bootstrap file alone needs none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from ff_core.client.snapshot import Change, Snapshot


class Rejected(Exception):
    """The origin refused us (bad or revoked key): retrying will not help."""


class Feed(Protocol):
    """What a source feeds (the client implements it)."""

    @property
    def resume_seq(self) -> int | None:
        """The change sequence of what this source last delivered, to resume from; None
        when the client holds nothing from this source (a file's snapshot does not count)."""
        ...

    async def replace(self, snapshot: Snapshot) -> None:
        """A whole snapshot, current as of now."""
        ...

    async def apply(self, changes: list[Change]) -> None: ...

    def connected(self) -> None:
        """The origin confirmed that what the client holds is current."""
        ...

    def unreachable(self, message: str) -> None: ...

    def rejected(self, message: str) -> None: ...


class Source(Protocol):
    name: str

    async def run(self, feed: Feed) -> None:
        """Keep ``feed`` current until cancelled; returns only when rejected."""
        ...

    async def report_usage(
        self, counts: Mapping[str, int], window_start: datetime, window_end: datetime
    ) -> None:
        """Send evaluation counts per flag; raises when they did not arrive."""
        ...

    async def aclose(self) -> None: ...
