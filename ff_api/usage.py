"""Evaluation counts: a dict increment per evaluation (or per bulk answer), one store
update per flag per flush.

Every ``usage_flush_s`` the counts since the last flush are swapped out and written with
``Store.record_usage``, one update per flag holding all its environments. A failed update
keeps its counts for the next flush (up to ``MAX_HELD`` of them). The counts also feed the
``ff_evaluations_total`` metric, read at scrape time: served = flushed + pending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import AwareDatetime, Field, StrictInt, StringConstraints

from ff_core import limits
from ff_core.models import Model, UsageDelta
from ff_core.store import Store

if TYPE_CHECKING:
    from ff_api.bulk import Answer

log = logging.getLogger("ff.usage")

# Evaluations of flags that do not exist (or the key may not see): counted in the metrics
# under this label, never stored. Not a valid flag key, so it cannot collide with one.
UNKNOWN_FLAG = "(unknown)"
# (project, environment, flag) counts kept across failed flushes before new ones are dropped.
MAX_HELD = 50_000
# Store updates in flight at once: while serving, one. Each update holds the event loop
# for a few milliseconds of botocore work per step; eight at once queued ~40 ms of it
# ahead of every request for the length of the flush (the OFREP p99 of a round that
# overlapped one). At shutdown, eight, to finish within SHUTDOWN_FLUSH_S.
SERVING_CONCURRENCY = 1
SHUTDOWN_CONCURRENCY = 8
# The last flush at shutdown waits no longer: the store may be what is failing.
SHUTDOWN_FLUSH_S = 10.0
MAX_REPORTED_FLAGS = 1_000
# Distinct bulk answers counted whole before they are expanded into per-flag counts. Each
# holds its results (and a new context makes a new one): unbounded until the flush, a
# minute of new contexts kept ~40,000 answers alive for full collections to walk.
MAX_ANSWERS = 1_024
MAX_REPORTED_COUNT = 100_000_000

Served = tuple[str, str, str, str]  # project, environment, flag, reason
Counted = tuple[str, str, str]  # project, environment, flag
FlagKey = Annotated[str, StringConstraints(pattern=limits.FLAG_KEY_PATTERN)]


class UsageReport(Model):
    """What an SDK sends about once a minute: its local evaluations per flag since the last."""

    counts: dict[FlagKey, Annotated[StrictInt, Field(ge=0, le=MAX_REPORTED_COUNT)]] = Field(
        max_length=MAX_REPORTED_FLAGS
    )
    # The SDK's own window; informational: counts are dated when they reach the API.
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class UsageRecorder:
    def __init__(
        self, store: Store, flush_s: float, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._store = store
        self.flush_s = flush_s
        self._clock = clock
        self._served: dict[Served, int] = {}
        # Bulk answers served, counted whole: expanded into per-flag counts when read.
        self._answers: dict[Answer, int] = {}
        self._reported: dict[Counted, int] = {}
        self._held: dict[Counted, UsageDelta] = {}
        self._flushed: dict[Served, int] = {}
        self._lock = asyncio.Lock()
        self.failures = 0
        self.dropped = 0

    def record(self, project: str, environment: str, flag: str, reason: str) -> None:
        """One evaluation served by this process (the hot path: nothing but this)."""
        key = (project, environment, flag, reason)
        self._served[key] = self._served.get(key, 0) + 1

    def record_answer(self, answer: Answer) -> None:
        """A bulk answer served: one increment, however many flags it holds."""
        answers = self._answers
        answers[answer] = answers.get(answer, 0) + 1
        if len(answers) > MAX_ANSWERS:
            self._take_answers()

    def _take_answers(self) -> None:
        answers, self._answers = self._answers, {}
        served = self._served
        for answer, count in answers.items():
            for result in answer.results:
                key = (answer.project, answer.environment, result.key, result.reason.value)
                served[key] = served.get(key, 0) + count

    def report(self, project: str, environment: str, counts: Mapping[str, int]) -> None:
        """Evaluations an SDK made locally, merged into the next flush."""
        for flag, count in counts.items():
            if count > 0:
                key = (project, environment, flag)
                self._reported[key] = self._reported.get(key, 0) + count

    def served(self) -> dict[Served, int]:
        """Evaluations served since start, by project, environment, flag and reason."""
        self._take_answers()
        totals = dict(self._flushed)
        for key, count in self._served.items():
            totals[key] = totals.get(key, 0) + count
        return totals

    def pending(self) -> int:
        """(project, environment, flag) counts not yet written."""
        self._take_answers()
        waiting = {k[:3] for k in self._served if k[2] != UNKNOWN_FLAG}
        return len(waiting | self._reported.keys() | self._held.keys())

    async def flush(self, concurrency: int = SHUTDOWN_CONCURRENCY) -> int:
        """Write what was counted since the last flush; returns the number of updates."""
        async with self._lock:
            self._take_answers()
            served, self._served = self._served, {}
            reported, self._reported = self._reported, {}
            held, self._held = self._held, {}
            # No await since the swap: a scrape sees these counts exactly once.
            for served_key, count in served.items():
                self._flushed[served_key] = self._flushed.get(served_key, 0) + count
            at = self._clock()
            counted: dict[Counted, int] = dict(reported)
            for (project, environment, flag, _), count in served.items():
                if flag != UNKNOWN_FLAG:
                    key = (project, environment, flag)
                    counted[key] = counted.get(key, 0) + count
            updates: dict[tuple[str, str], dict[str, UsageDelta]] = {}
            for (project, environment, flag), delta in held.items():
                updates.setdefault((project, flag), {})[environment] = delta
            for (project, environment, flag), count in counted.items():
                deltas = updates.setdefault((project, flag), {})
                before = deltas.get(environment)
                total = count + (before.count if before is not None else 0)
                deltas[environment] = UsageDelta(count=total, last=at)
            gate = asyncio.Semaphore(concurrency)
            await asyncio.gather(*(self._write(gate, k, d) for k, d in updates.items()))
            return len(updates)

    async def _write(
        self, gate: asyncio.Semaphore, ident: tuple[str, str], deltas: dict[str, UsageDelta]
    ) -> None:
        project, flag = ident
        async with gate:
            try:
                await self._store.record_usage(project, flag, deltas)
                return
            except Exception:
                log.warning("could not record the usage of %s/%s; retrying next flush", *ident)
        self.failures += 1
        for environment, delta in deltas.items():
            if len(self._held) >= MAX_HELD:
                self.dropped += delta.count
            else:
                self._held[(project, environment, flag)] = delta

    async def run(self) -> None:
        """Flush every ``flush_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.flush_s)
            try:
                await self.flush(SERVING_CONCURRENCY)
            except Exception:  # never let the loop die; the counts wait for the next round
                log.exception("usage flush failed")

    async def close(self) -> None:
        """The last flush, at shutdown."""
        try:
            await asyncio.wait_for(self.flush(), SHUTDOWN_FLUSH_S)
        except TimeoutError:
            log.warning("the last usage flush did not finish in %s s", SHUTDOWN_FLUSH_S)
