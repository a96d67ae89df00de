"""The ff API as a source: follow the definition stream, poll when streaming fails.

- ``GET /api/v1/sdk/stream`` (server-sent events): a ``snapshot`` on connect, then
  ``upsert`` and ``delete`` events; a reconnect sends ``Last-Event-ID`` and gets exactly
  what it missed.
- When the stream cannot be opened or breaks, ``GET /api/v1/sdk/flags`` with
  ``If-None-Match`` keeps the client current (304: nothing changed) until it can stream
  again; reconnects back off exponentially with jitter.
- 401 or 403: the key is wrong or revoked; the source stops (no reconnect storm).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
import orjson
from pydantic import ValidationError

from ff_core.client.backoff import Backoff
from ff_core.client.snapshot import (
    Change,
    DocumentError,
    Snapshot,
    parse_document,
    read_document,
    validate_flag,
)
from ff_core.client.sources import Feed, Rejected
from ff_core.client.sse import Decoder, Event, StreamError
from ff_core.models import EntityKind, Segment

log = logging.getLogger("ff.client")

FLAGS_PATH = "/api/v1/sdk/flags"
STREAM_PATH = "/api/v1/sdk/stream"
USAGE_PATH = "/api/v1/sdk/usage"
USER_AGENT = "ff-python-sdk/0.1.0"
# A stream that lived this long was healthy: the next reconnect starts the back-off afresh.
STABLE_S = 30.0
# What the usage route takes in one report.
MAX_REPORTED_FLAGS = 1_000
MAX_REPORTED_COUNT = 100_000_000


class Unavailable(Exception):
    """The origin answered, but not with what we need (5xx, 404, a malformed event...)."""


_FAILURES = (httpx.HTTPError, Unavailable, StreamError, DocumentError)


class ApiSource:
    name = "api"

    def __init__(
        self,
        url: str,
        server_key: str,
        *,
        stream: bool = True,
        poll_interval_s: float = 30.0,
        backoff: Backoff | None = None,
        request_timeout_s: float = 10.0,
        # The API sends a keep-alive comment every 15 s: silence this long means a dead link.
        stream_read_timeout_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not server_key:
            raise ValueError("the API source needs a server key")
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {server_key}", "User-Agent": USER_AGENT},
            timeout=httpx.Timeout(request_timeout_s),
            transport=transport,
        )
        self._stream = stream
        self._poll_interval_s = poll_interval_s
        self._backoff = backoff or Backoff(max_s=max(poll_interval_s, 0.5))
        self._stream_timeout = httpx.Timeout(request_timeout_s, read=stream_read_timeout_s)
        self._etag: str | None = None
        # After an event we could not apply, the next connection asks for a whole snapshot.
        self._resync = False

    async def run(self, feed: Feed) -> None:
        try:
            while True:
                delay = await self._attempt(feed)
                await asyncio.sleep(delay)
        except Rejected as exc:
            feed.rejected(str(exc))

    async def _attempt(self, feed: Feed) -> float:
        """One round of keeping current; returns how long to wait before the next."""
        if self._stream:
            started = time.monotonic()
            try:
                await self._follow(feed)
                failure = None
            except _FAILURES as exc:
                failure = _describe(exc)
            if time.monotonic() - started >= STABLE_S:
                self._backoff.reset()
            if failure is None:  # the server ended the stream: reconnect soon
                return self._backoff.next()
            log.info("ff: stream unavailable (%s); polling", failure)
        try:
            await self._poll(feed)
        except _FAILURES as exc:
            feed.unreachable(_describe(exc))
            return self._backoff.next()
        if self._stream:
            return self._backoff.next()  # current again; retry the stream, further apart
        self._backoff.reset()
        return self._poll_interval_s

    async def _follow(self, feed: Feed) -> None:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        resume = None if self._resync else feed.resume_seq
        if resume is not None:
            headers["Last-Event-ID"] = str(resume)
        async with self._http.stream(
            "GET", STREAM_PATH, headers=headers, timeout=self._stream_timeout
        ) as response:
            if response.status_code != 200:
                await response.aread()
                _check(response)
            self._resync = False
            if resume is not None:  # the server replays what we missed right away
                feed.connected()
            decoder = Decoder()
            async for chunk in response.aiter_bytes():
                for event in decoder.feed(chunk):
                    await self._handle(event, feed)

    async def _handle(self, event: Event, feed: Feed) -> None:
        if event.event not in ("snapshot", "upsert", "delete", "retarget"):
            return  # a newer server's event: not ours to understand
        try:
            if event.event == "snapshot":
                snapshot = await asyncio.to_thread(_parse_snapshot, event.data)
            elif event.event == "retarget":
                changes = _retargets(event)
            else:
                changes = [_change(event)]
        except (ValueError, KeyError, TypeError) as exc:  # DocumentError is a ValueError
            self._resync = True
            raise Unavailable(f"a malformed {event.event!r} event: {exc}") from None
        if event.event == "snapshot":
            await feed.replace(snapshot)
            feed.connected()
        else:
            await feed.apply(changes)

    async def _poll(self, feed: Feed) -> None:
        headers = {}
        if self._etag is not None and feed.resume_seq is not None:
            headers["If-None-Match"] = self._etag
        response = await self._http.get(FLAGS_PATH, headers=headers)
        if response.status_code == 304:
            feed.connected()
            return
        _check(response)
        snapshot = await asyncio.to_thread(_parse_snapshot, response.content)
        await feed.replace(snapshot)
        self._etag = response.headers.get("etag")
        feed.connected()

    async def report_usage(
        self, counts: Mapping[str, int], window_start: datetime, window_end: datetime
    ) -> None:
        items = [(k, min(n, MAX_REPORTED_COUNT)) for k, n in counts.items() if n > 0]
        for i in range(0, len(items), MAX_REPORTED_FLAGS):
            body = {
                "counts": dict(items[i : i + MAX_REPORTED_FLAGS]),
                "window_start": window_start.isoformat(),
                "window_end": window_end.isoformat(),
            }
            response = await self._http.post(
                USAGE_PATH,
                content=orjson.dumps(body),
                headers={"Content-Type": "application/json"},
            )
            _check(response)

    async def aclose(self) -> None:
        await self._http.aclose()


def _check(response: httpx.Response) -> None:
    if response.status_code in (401, 403):
        status = response.status_code
        raise Rejected(f"the API refused the server key: HTTP {status}{_said(response)}")
    if not 200 <= response.status_code < 300:
        raise Unavailable(f"HTTP {response.status_code}{_said(response)}")


def _said(response: httpx.Response) -> str:
    try:
        message = response.json().get("message")
    except Exception:  # not JSON, or not ours: the status says enough
        return ""
    return f" ({message})" if isinstance(message, str) else ""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return str(exc)


def _parse_snapshot(raw: bytes | str) -> Snapshot:
    return parse_document(read_document(raw.encode() if isinstance(raw, str) else raw))


def _change(event: Event) -> Change:
    data: dict[str, Any] = orjson.loads(event.data)
    kind = EntityKind(data["kind"])
    if kind not in (EntityKind.FLAG, EntityKind.SEGMENT):
        raise ValueError(f"unknown kind {kind.value!r}")
    key, seq, version = str(data["key"]), int(data["seq"]), int(data["version"])
    if event.event == "delete":
        return Change(kind, key, seq, version, None)
    raw = data["definition"]
    if kind is EntityKind.SEGMENT:
        try:
            return Change(kind, key, seq, version, Segment.model_validate(raw))
        except ValidationError as exc:  # a segment we cannot read matches nobody
            return Change(kind, key, seq, version, None, str(exc.errors()[0]["msg"]))
    parsed = validate_flag(raw)
    if isinstance(parsed, str):
        return Change(kind, key, seq, version, None, parsed)
    return Change(kind, key, seq, version, parsed)


def _retargets(event: Event) -> list[Change]:
    """A tenant's change: the flags it changed, each a new definition at the same version."""
    data: dict[str, Any] = orjson.loads(event.data)
    seq = int(data["seq"])
    changes = []
    for raw in data["flags"]:
        key, version = str(raw["key"]), int(raw["version"])
        parsed = validate_flag(raw)
        if isinstance(parsed, str):
            changes.append(Change(EntityKind.FLAG, key, seq, version, None, parsed, retarget=True))
        else:
            changes.append(Change(EntityKind.FLAG, key, seq, version, parsed, retarget=True))
    return changes
