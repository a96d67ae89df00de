"""The usage flush while serving writes one update at a time; the last one, at shutdown,
eight at once (it has SHUTDOWN_FLUSH_S)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from ff_api.usage import SHUTDOWN_CONCURRENCY, UsageRecorder
from ff_core.models import UsageDelta
from ff_core.store import MemoryStore


class _Slow(MemoryStore):
    """Each usage update takes a moment; the most in flight at once is kept."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most = 0
        self.updates = 0
        self.all_written = asyncio.Event()

    async def record_usage(self, project: str, flag: str, deltas: Mapping[str, UsageDelta]) -> None:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            await super().record_usage(project, flag, deltas)
            self.updates += 1
            if self.updates == 20:
                self.all_written.set()
        finally:
            self.in_flight -= 1


def _count(usage: UsageRecorder, flags: int) -> None:
    for i in range(flags):
        usage.record("demo", "production", f"flag-{i:02d}", "STATIC")


async def test_usage_flush__while_serving__one_update_at_a_time() -> None:
    store = _Slow()
    usage = UsageRecorder(store, flush_s=0.01)
    _count(usage, 20)

    running = asyncio.create_task(usage.run())
    await asyncio.wait_for(store.all_written.wait(), timeout=10)
    running.cancel()

    assert store.most == 1


async def test_usage_flush__at_shutdown__updates_in_parallel() -> None:
    store = _Slow()
    usage = UsageRecorder(store, flush_s=60)
    _count(usage, 20)

    await usage.close()

    assert store.updates == 20
    assert store.most == SHUTDOWN_CONCURRENCY
