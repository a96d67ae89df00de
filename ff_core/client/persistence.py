"""The last snapshot on disk, so that a restart while the source is down starts with it.

Written shortly after a change (a burst of changes once), atomically (a temporary file
renamed over the old one), in a worker thread; read back at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from ff_core.client.snapshot import DocumentError, Snapshot, read_document

log = logging.getLogger("ff.client")

DELAY_S: Final = 0.5


class Persistence:
    def __init__(self, path: Path, delay_s: float = DELAY_S) -> None:
        self.path = path
        self._delay_s = delay_s
        self._latest: Snapshot | None = None
        self._task: asyncio.Task[None] | None = None

    def load(self, accept: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        """The saved document, or None when there is none usable (never raises)."""
        if not self.path.exists():
            return None
        try:
            doc = read_document(self.path.read_bytes())
        except (OSError, DocumentError) as exc:
            log.warning("ff: ignored the persisted snapshot %s: %s", self.path, exc)
            return None
        if not accept(doc):
            log.warning("ff: ignored %s: a snapshot of another project or environment", self.path)
            return None
        return doc

    def changed(self, snapshot: Snapshot) -> None:
        self._latest = snapshot
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._later())

    async def _later(self) -> None:
        await asyncio.sleep(self._delay_s)
        await self.flush()

    async def flush(self) -> None:
        """Write the latest snapshot now, if it is not written yet."""
        snapshot, self._latest = self._latest, None
        if snapshot is None:
            return
        try:
            await asyncio.to_thread(write_atomically, self.path, snapshot.dump())
        except OSError as exc:
            log.warning("ff: could not persist the snapshot to %s: %s", self.path, exc)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
