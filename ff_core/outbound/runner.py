"""Where the dispatcher runs: a background task for as long as the API app lives."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx

from ff_core import keys
from ff_core.outbound.dispatcher import Dispatcher
from ff_core.outbound.sqs import SqsSink
from ff_core.settings import Settings
from ff_core.store import DynamoStore, Store

log = logging.getLogger("ff.outbound")


@asynccontextmanager
async def start_outbound(
    store: Store, settings: Settings, *, key_secret: bytes | None = None
) -> AsyncIterator[Dispatcher | None]:
    """Run the dispatcher until the block ends (None when FF_OUTBOUND_ENABLED is false or
    the store is not DynamoDB). Cancelling it mid-send leaves that delivery claimed until
    its lease runs out; then any replica sends it again."""
    if not settings.outbound_enabled:
        yield None
        return
    if not isinstance(store, DynamoStore):
        log.info("outbound change events need the DynamoDB store; not dispatching")
        yield None
        return
    secret = key_secret if key_secret is not None else keys.load_secret(settings)
    async with AsyncExitStack() as stack:
        sqs = None
        if settings.outbound_sqs_queue_url:
            sqs = await stack.enter_async_context(SqsSink.open(settings))
        http = await stack.enter_async_context(httpx.AsyncClient(follow_redirects=False))
        dispatcher = Dispatcher(store, settings, key_secret=secret, http=http, sqs=sqs)
        task = asyncio.create_task(dispatcher.run_forever(), name="ff-outbound")
        try:
            yield dispatcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
