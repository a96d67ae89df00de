"""Rate limiting per credential: a token bucket for each API key, stream token or session.

Each replica keeps its own buckets in memory, so the limit is per replica: N replicas
behind a load balancer let a key through at up to N times the configured rate. That is
the price of keeping replicas stateless (no store round trip per request); the point of
the limit is that one noisy key cannot take a replica's capacity from the others.

The credential is read from the request exactly as the auth layer reads it
(``Authorization: Bearer``, ``X-API-Key``, the browser stream's ``?key=`` / ``?token=``,
the dashboard's session cookie) but not checked here: an invalid one is limited like any
other and then refused by the route. Requests without any credential (health, metrics,
assets) are not limited. Buckets are named by ``hash()`` of the credential, never the
credential itself: SipHash under a key random per process, so a bucket name reveals
nothing and costs ~50 ns (a 64-bit name: two credentials sharing a bucket is a 1-in-2^64
chance).

A tiny token bucket rather than a library: ``limits`` offers windows, not a bucket with
burst, and reads the wall clock; ``pyrate-limiter`` keeps a timestamp per request in its
window; ``token-bucket`` gives no time until the next token. A 429 needs that time for its
integer ``Retry-After``, tests need an injectable clock, and the OFREP bulk route serves
thousands of requests a second, so the bucket is one dict lookup and a few float ops.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable

from starlette.datastructures import QueryParams
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from ff_api.auth import scope_key
from ff_api.errors import problem
from ff_api.settings import ApiSettings
from ff_core import tokens

Clock = Callable[[], float]

_MAX_BUCKETS = 100_000
_QUERY_CREDENTIALS = ("key", "token")
CHARGED = "ff.rate_limit_charged"  # in a request's scope once its tokens are taken


class RateLimiter:
    """Token buckets by name: ``rate_per_s`` tokens a second, up to ``burst`` saved."""

    __slots__ = ("_buckets", "_burst", "_clock", "_max_buckets", "_rate")

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        clock: Clock = time.monotonic,
        max_buckets: int = _MAX_BUCKETS,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a rate limiter needs a positive rate and a burst of at least 1")
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._max_buckets = max_buckets
        # name -> [tokens left, when they were counted]
        self._buckets: dict[int, list[float]] = {}

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> RateLimiter | None:
        """The configured limiter; None when ``FF_RATE_LIMIT_PER_KEY_RPS`` is 0 (off)."""
        if not settings.rate_limit_per_key_rps:
            return None
        return cls(settings.rate_limit_per_key_rps, settings.rate_limit_burst)

    def acquire(self, name: int) -> float:
        """Take one token from ``name``'s bucket: 0.0 if there was one, else the seconds
        until there will be (the request is refused and takes nothing)."""
        now = self._clock()
        bucket = self._buckets.get(name)
        if bucket is None:
            if len(self._buckets) >= self._max_buckets:
                self._evict(now)
            self._buckets[name] = [self._burst - 1.0, now]
            return 0.0
        available = min(self._burst, bucket[0] + (now - bucket[1]) * self._rate)
        bucket[1] = now
        if available >= 1.0:
            bucket[0] = available - 1.0
            return 0.0
        bucket[0] = available
        return (1.0 - available) / self._rate

    def __len__(self) -> int:
        return len(self._buckets)

    def _evict(self, now: float) -> None:
        """Forget buckets that have refilled (forgetting them changes nothing); if every
        bucket is in use, forget the older half, which only ever lets more through."""
        full = [
            name
            for name, (left, at) in self._buckets.items()
            if left + (now - at) * self._rate >= self._burst
        ]
        for name in full:
            del self._buckets[name]
        if len(self._buckets) >= self._max_buckets:
            for name in list(self._buckets)[: len(self._buckets) // 2]:
                del self._buckets[name]


def credentials(scope: Scope) -> set[str]:
    """The credentials a request carries, read as the auth layer reads them, so that no
    spelling of a request is charged to one bucket and authenticated as another. Every one
    a route might use is charged: the header key (``ff_api.auth.raw_key``), the browser
    stream's ``?key=`` and ``?token=``, and, only when there is none of those, the session
    cookie (as ``ff_api.principals`` reads it).

    The raw headers are read (``auth.scope_key``), not a ``Request``, whose construction
    costs more than all the rest; the cookies only when there is no other credential. A
    test holds it to the auth layer's own functions."""
    found: set[str] = set()
    header_key = scope_key(scope)
    if header_key is not None:
        found.add(header_key)
    query: bytes = scope.get("query_string", b"")
    if b"key" in query or b"token" in query:
        params = QueryParams(query)
        found.update(value for name in _QUERY_CREDENTIALS if (value := params.get(name)))
    if not found:
        # Request.cookies reads every Cookie header, the last value of a name winning.
        jar: dict[str, str] = {}
        for name, value in scope["headers"]:
            if name == b"cookie":
                jar.update(cookie_parser(value.decode("latin-1")))
        session = jar.get(tokens.SESSION_COOKIE)
        if session:
            found.add(session)
    return found


class RateLimitMiddleware:
    """Pure ASGI; answers 429 with an integer ``Retry-After`` and a JSON problem body."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter | None) -> None:
        self.app = app
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._limiter is None or scope["type"] != "http" or CHARGED in scope:
            await self.app(scope, receive, send)
            return
        # No local keeps the credentials: a stream suspends this frame for hours.
        wait_s = charge(self._limiter, scope)
        if not wait_s:
            await self.app(scope, receive, send)
            return
        await refuse(wait_s, send)


def charge(limiter: RateLimiter, scope: Scope, only: str | None = None) -> float:
    """Take a token for each credential of the request: 0.0 if it may pass, else the
    seconds to wait. Once a request: the middleware skips a request marked ``CHARGED``
    (ff_api/lane.py charges the requests it answers, then may hand them on). ``only``:
    the caller has read the request's credentials, and this is the one there is (a
    header key and no query string)."""
    scope[CHARGED] = True
    if only is not None:
        return limiter.acquire(hash(only))
    return max((limiter.acquire(hash(raw)) for raw in credentials(scope)), default=0.0)


async def refuse(wait_s: float, send: Send) -> None:
    """The 429 of a request that must wait ``wait_s``."""
    body, headers = _refusal(max(1, math.ceil(wait_s)))
    # A fresh headers list each time: middleware outside may add to it.
    await send({"type": "http.response.start", "status": 429, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


@functools.lru_cache(maxsize=64)
def _refusal(retry_after: int) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The 429 for a wait of ``retry_after`` s (body and headers), rendered once: a noisy
    key is refused thousands of times a second, mostly with the same few waits."""
    response = problem(
        429,
        "rate_limited",
        f"too many requests with this key; retry in {retry_after} s "
        "(the limit is per key and per API replica)",
        retry_after=retry_after,
    )
    return bytes(response.body), response.raw_headers
