"""Full garbage collections on a schedule of our own, for a process holding many streams.

CPython starts a full collection whenever the objects that survived since the last one
exceed a quarter of the long-lived ones, and a full collection walks every tracked
object. An API process holding 10,000 open streams holds ~2.7 M such objects (~270 a
stream: its tasks, the middleware chain's suspended coroutines and closures, futures,
uvicorn's and Starlette's per-connection state), and every change it fans out leaves a
few new ones per stream (the next wait's future, the batch just sent): measured with
10,000 subscribers, a full collection every ~7 s of writes, each pausing the event loop
1.1-1.4 s, which was most of the p99 of change propagation.

So ``serving_app`` freezes what is alive once started (``gc.freeze``: CPython's
permanent generation, which collections skip; refcounting still frees those objects),
and this task keeps it that way. Every ``CHECK_S`` it counts the unfrozen objects of the
oldest generation; past ``FREEZE_OBJECTS`` (streams opened since), it collects the young
generations and freezes the rest, which costs no pause (a list splice). Every
``FULL_INTERVAL_S`` it runs one full collection over everything (``gc.unfreeze``,
``gc.collect``) and freezes what survives: that pause is as long as an automatic full
collection would be (2.5 s at 10,000 streams, on this machine), once in ten minutes
instead of every few seconds of changes. The automatic collections in between walk only
what is newer, and the checks are frequent and the bound low for that to stay little: with
a 10 s check and 50,000 objects, OFREP requests with new contexts (each leaves a kept
answer and a stream token behind, ~20 objects) grew the unfrozen oldest generation to
hundreds of thousands of objects between checks, and with so few long-lived objects
unfrozen CPython collected it fully about once a second: pauses of 16 ms at the median
(54 ms at most) that were the OFREP p99 (bench/README.md). Every second at 10,000 objects,
they took 4 ms at the median. The price: reference cycles that die while frozen (a closed stream's)
are freed at the next full collection, within ``FULL_INTERVAL_S``, not within seconds.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger("ff.gc")

CHECK_S = 1.0
FREEZE_OBJECTS = 10_000
FULL_INTERVAL_S = 600.0


def freeze() -> int:
    """One full collection, then everything alive frozen out of later collections; the
    number of objects the collection freed."""
    freed = gc.collect()
    gc.freeze()
    return freed


class FreezingCollector:
    def __init__(
        self,
        check_s: float = CHECK_S,
        freeze_objects: int = FREEZE_OBJECTS,
        full_interval_s: float = FULL_INTERVAL_S,
    ) -> None:
        self.check_s = check_s
        self.freeze_objects = freeze_objects
        self.full_interval_s = full_interval_s
        self.freezes = 0
        self.full_collections = 0
        self._last_full = time.monotonic()

    def check(self) -> str | None:
        """Freeze or collect fully when due: ``"full"``, ``"freeze"`` or None."""
        if time.monotonic() - self._last_full >= self.full_interval_s:
            started = time.perf_counter()
            gc.unfreeze()
            freed = freeze()
            self._last_full = time.monotonic()
            self.full_collections += 1
            log.info(
                "full garbage collection: %d objects freed, %d frozen, %.0f ms",
                freed,
                gc.get_freeze_count(),
                (time.perf_counter() - started) * 1000,
            )
            return "full"
        if len(gc.get_objects(generation=2)) > self.freeze_objects:
            gc.collect(1)  # the young generations: garbage there is not frozen
            gc.freeze()
            self.freezes += 1
            return "freeze"
        return None

    async def run(self) -> None:
        """``check`` every ``check_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.check_s)
            self.check()
