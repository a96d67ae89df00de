"""The ASGI app: ``create_app(settings)``; its lifespan owns the store, snapshots and follower."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from ff_api import collector, openapi
from ff_api.access import EdgeMiddleware
from ff_api.auth import KeyAuthenticator
from ff_api.errors import HANDLERS
from ff_api.event_stream import App, watch_shutdown
from ff_api.hub import Hub
from ff_api.lane import OfrepLane
from ff_api.metrics import Metrics
from ff_api.ratelimit import RateLimiter, RateLimitMiddleware
from ff_api.routes import browser, evaluation, health, management, ops, sdk, tenants, webhooks
from ff_api.settings import ApiSettings
from ff_api.snapshots import Snapshots
from ff_api.state import ApiState
from ff_api.usage import UsageRecorder
from ff_core import keys
from ff_core.outbound import start_outbound
from ff_core.runtime import open_store
from ff_core.services import Services
from ff_core.store import Store


def serving_app(settings: ApiSettings | None = None) -> Starlette:
    """``create_app``, then everything alive so far frozen out of the garbage collector,
    and again once its lifespan has started, and from then on on a schedule of its own
    (ff_api/collector.py): what ``ff api`` serves (a uvicorn factory too).

    Modules, the app, settings and what the lifespan opens (the store's aioboto3 client
    with botocore's service model: ~28,000 objects more) live as long as the process;
    frozen, full collections no longer scan them. Unfrozen, the imports alone (~110,000
    objects) made each full collection pause the event loop ~50 ms: the latency tail.
    Not done in ``create_app``: tests build many apps in one process, and frozen cycles
    are never freed.
    """
    app = create_app(settings, freeze_after_start=True)
    collector.freeze()
    return app


def create_app(
    settings: ApiSettings | None = None,
    *,
    store: Store | None = None,
    freeze_after_start: bool = False,
) -> Starlette:
    """The evaluation and management API. ``store`` overrides the configured one (tests);
    ``freeze_after_start`` is ``serving_app``'s."""
    settings = settings or ApiSettings()
    metrics = Metrics()  # per app: tests build many

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            active = (
                store
                if store is not None
                else await stack.enter_async_context(open_store(settings))
            )
            secret = keys.load_secret(settings)
            snapshots = Snapshots(active, settings.poll_interval_s)
            hub = Hub(settings.subscriber_queue_size, ping_s=settings.sse_ping_s)
            snapshots.add_listener(hub.publish)
            usage = UsageRecorder(active, settings.usage_flush_s)
            metrics.watch(hub, snapshots, usage)
            app.state.ff = ApiState(
                settings=settings,
                store=active,
                services=Services(active, key_secret=secret),
                snapshots=snapshots,
                auth=KeyAuthenticator(active, secret, settings.poll_interval_s),
                hub=hub,
                secret=secret,
                usage=usage,
                metrics=metrics,
            )
            # Webhooks and the SQS sink (FF_OUTBOUND_ENABLED); stopped when the stack closes.
            await stack.enter_async_context(start_outbound(active, settings, key_secret=secret))
            follower = asyncio.create_task(snapshots.follow_forever(), name="ff-change-follower")
            # Open streams end when uvicorn begins to shut down (ff_api/event_stream.py).
            tasks = [follower, asyncio.create_task(watch_shutdown(hub), name="ff-sse-shutdown")]
            if settings.usage_flush_s:  # 0: usage recording is off
                tasks.append(asyncio.create_task(usage.run(), name="ff-usage-flush"))
            if freeze_after_start:
                collector.freeze()
                # Keeps streams opened later out of full collections too (ff_api/collector.py).
                tasks.append(asyncio.create_task(collector.FreezingCollector().run(), name="ff-gc"))
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                if settings.usage_flush_s:
                    await usage.close()

    limiter = RateLimiter.from_settings(settings)  # one set of buckets for both checks
    middleware = [
        # Outermost, so it sees every response: each request gets its id (X-Request-ID),
        # its metrics, one access-log record, and CORS (Starlette's, for requests with an
        # Origin header).
        Middleware(
            EdgeMiddleware,
            metrics=metrics,
            # OFREP evaluations (bulk and one flag) with nothing unusual about them skip the
            # layers below.
            lane=OfrepLane(limiter),
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST"],
            allow_headers=[
                "Authorization",
                "X-API-Key",
                "Content-Type",
                "If-None-Match",
                "Last-Event-ID",
            ],
            expose_headers=["ETag", "X-Request-ID"],
        ),
        # Inside CORS, so that a browser can read the 429; preflights never reach it.
        Middleware(RateLimitMiddleware, limiter=limiter),
    ]
    return App(
        routes=[
            *health.routes,
            *openapi.routes,
            *evaluation.routes,
            *sdk.routes,
            *browser.routes,
            *management.routes,
            *tenants.routes,
            *ops.routes,
            *webhooks.routes,
        ],
        middleware=middleware,
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
