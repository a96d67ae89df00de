"""Every request once: its id (``X-Request-ID``), its metrics, its access-log record, and
CORS.

One pure ASGI middleware for all four (``BaseHTTPMiddleware`` would buffer event
streams; each middleware wraps every ``send`` once more and adds a frame per request,
on a path that serves thousands of OFREP requests a second). CORS is Starlette's
``CORSMiddleware``, run for every request that carries an ``Origin`` header (browsers
send one with every cross-origin request and every preflight); a request without one
gets from this layer's own ``send`` exactly what Starlette's would add to it, ``Vary:
Origin``, and skips the CORS layer (tests/api/test_cors.py holds the two to the same
answers).

The metrics are taken when the response starts (ff_api/metrics.py); the record is
written when the request is over, so a stream's ``duration_ms`` is how long it stayed
open. Only what is safe goes in: the method, the path, the route template, the status,
and a query string whose values are kept only for parameters known to carry no secret
(``?key=`` and ``?token=`` of the browser stream, and a browser's ``context``, become
``[redacted]``). Headers are never logged.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ff_api.metrics import Metrics, route_template
from ff_core.logs import REQUEST_ID

HEADER = "X-Request-ID"
_HEADER_NAME = HEADER.lower().encode()
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
    return _read(scope)[0]


def _read(scope: Scope) -> tuple[str, bool]:
    """The request id, and whether the request carries an ``Origin``: one pass."""
    given: bytes | None = None
    origin = False
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given = value if given is None else given
        elif name == b"origin":
            origin = True
    if given is not None:
        candidate = given.decode("latin-1")
        if _SANE_ID.match(candidate):
            return candidate, origin
    # 32 hex digits like a UUID, at a fraction of uuid4's cost: random per process, then
    # counted (request ids need to be unique, not unpredictable).
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFFFFFF:016x}", origin


_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count()


def safe_query(raw: bytes) -> str:
    """The query string with every value not known to be harmless replaced."""
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    return urlencode([(k, v if k in _SAFE_PARAMS else REDACTED) for k, v in pairs], safe="[]")


def _vary_origin(message: Message) -> None:
    """``Vary: Origin`` added to a response start as Starlette's CORS adds it to the
    answer of a request without ``Origin``: joined to the response's own ``Vary``."""
    headers = message["headers"]
    if not any(name == b"vary" for name, _ in headers):
        headers.append((b"vary", b"Origin"))
        return
    mutable = MutableHeaders(scope=message)
    mutable["Vary"] = ", ".join([*mutable.getlist("Vary"), "Origin"])


class Lane(Protocol):
    """Routes' fast lane (ff_api/lane.py): answers a request whose path starts with
    ``prefix`` itself (None), or hands back the ``receive`` the app must read it from."""

    prefix: str

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Receive | None: ...


class EdgeMiddleware:
    """``cors`` are ``CORSMiddleware``'s arguments; ``lane`` is offered every request
    under its prefix that carries no ``Origin``."""

    def __init__(
        self,
        app: ASGIApp,
        /,
        metrics: Metrics | None = None,
        lane: Lane | None = None,
        **cors: Any,
    ) -> None:
        self.app = app
        self._metrics = metrics
        self._lane = lane
        self._cors = CORSMiddleware(app, **cors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid, cross_origin = _read(scope)
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
                # A new list, as Starlette's MutableHeaders makes: the response's stays as is.
                headers = [*message.get("headers", ()), (_HEADER_NAME, rid.encode("latin-1"))]
                message["headers"] = headers
                if not cross_origin:
                    _vary_origin(message)
                if metrics is not None:
                    metrics.observe_request(scope, status, started)
            await send(message)

        lane = self._lane
        try:
            if cross_origin:
                await self._cors(scope, receive, send_with_id)
                return
            if lane is not None and scope["path"].startswith(lane.prefix):
                handed_on = await lane(scope, receive, send_with_id)
                if handed_on is None:
                    return
                receive = handed_on
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
