"""Every request once: its id (``X-Request-ID``), its metrics, its access-log record.

One pure ASGI middleware for the three (``BaseHTTPMiddleware`` would buffer event
streams; three middlewares would wrap every ``send`` three times on the hot path). The
metrics are taken when the response starts (ff_api/metrics.py); the record is written
when the request is over, so a stream's ``duration_ms`` is how long it stayed open. Only
what is safe goes in: the method, the path, the route template, the status, and a query
string whose values are kept only for parameters known to carry no secret (``?key=`` and
``?token=`` of the browser stream, and a browser's ``context``, become ``[redacted]``).
Headers are never logged.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ff_api.metrics import Metrics, route_template
from ff_core.logs import REQUEST_ID

HEADER = "X-Request-ID"
# A caller's id is kept when it looks like an id (a UUID, a trace id), not free text.
_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
# Query parameters of ff_api's routes whose values are neither secret nor personal.
_SAFE_PARAMS = frozenset(
    {"limit", "cursor", "before", "search", "tag", "archived", "flagConfigEtag", "last_event_id"}
)
REDACTED = "[redacted]"

log = logging.getLogger("ff.access")


def request_id(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` if it is sane, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SANE_ID.match(candidate):
                return candidate
            break
    # 32 hex digits like a UUID, at a fraction of uuid4's cost: random per process, then
    # counted (request ids need to be unique, not unpredictable).
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFFFFFF:016x}"


_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count()


def safe_query(raw: bytes) -> str:
    """The query string with every value not known to be harmless replaced."""
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    return urlencode([(k, v if k in _SAFE_PARAMS else REDACTED) for k, v in pairs], safe="[]")


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        token = REQUEST_ID.set(rid)
        started = time.perf_counter()
        status = 500  # until a response starts: an exception is answered 500 outside us
        responded = False
        metrics = self._metrics

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start" and not responded:
                responded = True
                status = message["status"]
                message.setdefault("headers", [])
                MutableHeaders(scope=message).append(HEADER, rid)
                if metrics is not None:
                    metrics.observe_request(scope, status, started)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not responded and metrics is not None:  # answered 500 by the handler outside
                metrics.observe_request(scope, 500, started)
            raise
        finally:
            if log.isEnabledFor(logging.INFO):
                self._log(scope, status, started)
            REQUEST_ID.reset(token)

    def _log(self, scope: Scope, status: int, started: float) -> None:
        path = scope["path"]
        if scope.get("query_string"):
            path = f"{path}?{safe_query(scope['query_string'])}"
        route = route_template(scope)
        client = scope.get("client")
        log.info(
            "%s %s %d",
            scope["method"],
            path,
            status,
            extra={
                "method": scope["method"],
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "client": client[0] if client else None,
            },
        )
