"""API-key authentication: ``Authorization: Bearer <key>`` or ``X-API-Key``.

Lookups are cached for at most the poll interval, so a revocation takes effect on
every replica within it (the store is the truth; no replica holds keys of its own).
A key in use is read again in the background before its entry expires, so requests
do not wait for the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection

from starlette.requests import Request
from starlette.types import Scope

from ff_core import keys
from ff_core.errors import Forbidden, StoreError, Unauthorized
from ff_core.models import ApiKey, KeyKind
from ff_core.store import Store

_CACHE_LIMIT = 10_000
logger = logging.getLogger(__name__)


def raw_key(request: Request) -> str | None:
    return key_of(request.headers.get("authorization"), request.headers.get("x-api-key"))


_KEY_HEADERS = frozenset({b"authorization", b"x-api-key"})


def first_headers(scope: Scope, names: frozenset[bytes]) -> dict[bytes, bytes]:
    """The first value of each of ``names`` among an ASGI scope's raw headers (the one
    Starlette's ``Headers.get`` answers), in one pass, without building a ``Request``."""
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in names and name not in found:
            found[name] = value
    return found


def scope_key(scope: Scope) -> str | None:
    """``raw_key`` read off an ASGI scope's raw headers."""
    return headers_key(first_headers(scope, _KEY_HEADERS))


def headers_key(found: dict[bytes, bytes]) -> str | None:
    """``raw_key`` of what ``first_headers`` found (with the two names among its own)."""
    authorization = found.get(b"authorization")
    api_key = found.get(b"x-api-key")
    return key_of(
        authorization.decode("latin-1") if authorization is not None else None,
        api_key.decode("latin-1") if api_key is not None else None,
    )


def key_of(authorization: str | None, x_api_key: str | None) -> str | None:
    """The raw key of a request with these two headers (the first of each name)."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return x_api_key or None


class KeyAuthenticator:
    def __init__(self, store: Store, secret: bytes, ttl_s: float) -> None:
        self._store = store
        self._secret = secret
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        # One store read per key at a time: when an entry expires under load, the requests
        # in flight share that read instead of each issuing their own (a stampede).
        self._inflight: dict[str, asyncio.Future[ApiKey | None]] = {}
        self._ahead_s = ttl_s / 4
        self._refreshing: set[asyncio.Task[ApiKey | None]] = set()

    async def lookup(self, raw: str) -> ApiKey | None:
        digest = keys.digest(raw, self._secret)
        cached = self._cache.get(digest)
        if cached is not None and self._fresh(digest, cached):
            return cached[1]
        if not keys.looks_like_key(raw):
            return None
        return await self._read(digest, cached)

    def cached(self, raw: str) -> ApiKey | None:
        """The key ``raw`` names if it is known and unexpired here, without waiting: what
        ``lookup`` would answer at once (None: ask ``lookup``)."""
        digest = keys.digest(raw, self._secret)
        cached = self._cache.get(digest)
        if cached is not None and self._fresh(digest, cached):
            return cached[1]
        return None

    def _fresh(self, digest: str, cached: tuple[float, ApiKey | None]) -> bool:
        now = time.monotonic()
        if cached[0] <= now:
            return False
        if cached[0] - now < self._ahead_s and digest not in self._inflight:
            self._refresh_ahead(digest, cached)
        return True

    def _refresh_ahead(self, digest: str, cached: tuple[float, ApiKey | None]) -> None:
        """Read a key again in the background during the last quarter of its interval.

        Without it, the request that finds the entry expired waits for the store, and so
        does every request with that key meanwhile: 64 concurrent requests stalled for
        one store read every interval, the p99 of a busy key. The entry stays valid until
        its own expiry, so a revocation still takes effect within the interval."""
        task = asyncio.get_running_loop().create_task(self._read(digest, cached))
        self._refreshing.add(task)
        task.add_done_callback(self._refreshed)

    def _refreshed(self, task: asyncio.Task[ApiKey | None]) -> None:
        self._refreshing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Not fatal: the entry serves until it expires, then a request reads again.
            logger.warning("background key lookup failed: %s", task.exception())

    async def _read(self, digest: str, cached: tuple[float, ApiKey | None] | None) -> ApiKey | None:
        pending = self._inflight.get(digest)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request was cancelled, not the shared read
                return await self._read(digest, cached)  # the reader went away: read anew
        future: asyncio.Future[ApiKey | None] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        try:
            found = await self._store.get_api_key(digest)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            if not isinstance(exc, StoreError) or cached is None:
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning without waiters
                raise
            # The store cannot be read: the last known record keeps serving (evaluation must
            # outlive a store outage), and is asked again only after another interval.
            found = cached[1]
        finally:
            del self._inflight[digest]
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[digest] = (time.monotonic() + self._ttl_s, found)
        future.set_result(found)
        return found

    async def authenticate(self, raw: str | None, kinds: Collection[KeyKind]) -> ApiKey:
        if not raw:
            raise Unauthorized(
                "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            )
        key = await self.lookup(raw)
        if key is None or key.revoked_at is not None:
            raise Unauthorized("invalid or revoked API key")
        if key.kind not in kinds:
            allowed = " or ".join(sorted(k.value for k in kinds))
            raise Forbidden(f"this route takes {allowed} keys, not {key.kind.value} keys")
        return key

    async def request_key(self, request: Request, kinds: Collection[KeyKind]) -> ApiKey:
        return await self.authenticate(raw_key(request), kinds)
