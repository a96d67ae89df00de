"""The change follower while the store cannot be read: last snapshot kept, one warning."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ff_api.snapshots import Snapshots
from ff_core import demo
from ff_core.errors import StoreUnavailable
from ff_core.models import ChangeEntry
from ff_core.services import Services
from ff_core.store import MemoryStore


class FlakyStore(MemoryStore):
    """A memory store whose change log can be made unreadable (a stand-in for a DynamoDB
    outage, which tests/reliability drives against moto for real)."""

    down = False

    async def read_changes(
        self, project: str, after_seq: int, limit: int = 1000
    ) -> list[ChangeEntry]:
        if self.down:
            raise StoreUnavailable("DynamoDB did not answer after 3 tries")
        return await super().read_changes(project, after_seq, limit)


async def test_follow__store_down_for_many_ticks__one_warning_then_one_when_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FlakyStore()
    await demo.seed(Services(store))
    snapshots = Snapshots(store, poll_interval_s=0.01)
    before = await snapshots.get("demo")
    caplog.set_level(logging.WARNING, logger="ff")
    store.down = True
    follower = asyncio.create_task(snapshots.follow_forever())
    try:
        await asyncio.sleep(0.3)  # ~30 ticks while down
        assert (await snapshots.get("demo")) is before  # still served
        store.down = False
        await asyncio.sleep(0.1)
    finally:
        follower.cancel()
        with pytest.raises(asyncio.CancelledError):
            await follower

    messages = [r.getMessage() for r in caplog.records]
    down = [m for m in messages if m.startswith("cannot read the change log of demo")]
    back = [m for m in messages if m == "reading the change log of demo again"]
    assert len(down) == 1, messages
    assert len(back) == 1, messages
    assert all(r.exc_info is None for r in caplog.records)  # no traceback per tick
