"""Callbacks for changes and status: sync or async, each failure logged, none propagated."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, ParamSpec

log = logging.getLogger("ff.client")
P = ParamSpec("P")


class Listeners(Generic[P]):
    def __init__(self) -> None:
        self._callbacks: list[Callable[P, object]] = []
        self._running: set[asyncio.Task[None]] = set()

    def add(self, callback: Callable[P, object]) -> Callable[[], None]:
        """Returns a function that removes ``callback`` again."""
        self._callbacks.append(callback)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return remove

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every callback; an async one runs as a task, so none delays the caller."""
        for callback in list(self._callbacks):
            try:
                result = callback(*args, **kwargs)
                if inspect.isawaitable(result):
                    task = asyncio.get_running_loop().create_task(_awaited(result))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
            except Exception:
                log.exception("ff: a listener failed")

    async def aclose(self) -> None:
        for task in list(self._running):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _awaited(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("ff: a listener failed")
