"""The browser stream: evaluated values of client-visible flags, for ``EventSource``.

``EventSource`` cannot send headers, so the stream authenticates by its query:
``?token=<stream token>`` (minted by a backend with ``POST /api/v1/stream-tokens``, so the
browser cannot change its own targeting attributes) or ``?key=<client key>&context=<JSON>``
(client keys are public by design). Server and admin keys are secrets and are refused in a
URL, which ends up in logs; they may still be sent as headers. A revoked key, or a token
whose issuing key was revoked, is refused at connect.

Events (ids are the project's change sequence):
- ``snapshot``: ``{"seq", "environment", "flags": {key: {"value", "variant", "reason"}}}``,
  every client-visible flag evaluated for the stream's context; the client replaces all;
- ``change``: ``{"seq", "flags": {key: {...}}, "removed": [keys]}``, only the flags whose
  value, variant or reason changed for this context, and those no longer visible;
- an unnamed ``message`` with ``{"type": "refetchEvaluation", "etag": "<seq>"}`` next to
  every ``change`` (and resumed snapshot), so OpenFeature's OFREP web provider refetches.
Definitions and rules never leave the server. A batch that changes nothing this context
sees sends nothing.

Resume (``Last-Event-ID`` header, or ``last_event_id`` in the query for clients that
reconnect by hand): an id equal to the current sequence sends nothing until the next change.
Any other id gets a fresh ``snapshot`` (and a refetch message). Values depend on the context
and are not logged, so a full snapshot is the exact way to bring a client up to date; it
is what a client missed, never less. An id ahead of this replica (the client saw another
one first) makes this replica read the change log at once before it answers.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import orjson
from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ff_api.auth import raw_key
from ff_api.context import InvalidContext, evaluation_context, read_json
from ff_api.errors import BadRequest
from ff_api.event_stream import Stream, StreamRoute, event_stream
from ff_api.hub import Batch
from ff_api.routes.sdk import event, last_event_id
from ff_api.snapshots import ProjectSnapshot
from ff_api.state import ApiState, state_of
from ff_core import tokens
from ff_core.errors import Forbidden, StoreError, Unauthorized
from ff_core.evaluation import CompiledEnvironment, Resolution, evaluate
from ff_core.models import ApiKey, KeyKind

DEFAULT_TTL_S = 600
MAX_TTL_S = 3600
# OFREP's advertised tokens are issued at the start of a window, so every bulk response in
# that window carries the same URL and the provider keeps its connection (it reconnects
# when the URL changes). Each such token still has MAX_TTL_S - window left.
OFREP_TOKEN_WINDOW_S = 300
OFREP_INACTIVITY_DELAY_S = 120

Values = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Viewer:
    """Whom a stream evaluates for: an environment and a fixed context."""

    project: str
    environment: str
    context: dict[str, Any]


# -- pure helpers ------------------------------------------------------------------------------


def resolved(result: Resolution) -> dict[str, Any]:
    """What a browser may see of one evaluation: the value, never the rule that chose it."""
    data: dict[str, Any] = {
        "value": result.value,
        "variant": result.variant,
        "reason": result.reason.value,
    }
    if result.error_code is not None:
        data["error_code"] = result.error_code.value
    return data


def visible_values(env: CompiledEnvironment, context: Mapping[str, Any], now: float) -> Values:
    return {
        key: resolved(evaluate(env, key, context, now))
        for key, compiled in sorted(env.flags.items())
        if compiled.flag.client_visible
    }


def diff(before: Values, after: Values) -> tuple[Values, list[str]]:
    """The flags whose evaluation changed, and the keys that are gone."""
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    return changed, sorted(set(before) - set(after))


def snapshot_event(seq: int, environment: str, values: Values) -> ServerSentEvent:
    return event({"seq": seq, "environment": environment, "flags": values}, "snapshot", seq)


def change_event(seq: int, changed: Values, removed: list[str]) -> ServerSentEvent:
    return event({"seq": seq, "flags": changed, "removed": removed}, "change", seq)


def refetch_event(seq: int) -> ServerSentEvent:
    """OFREP's notification: an unnamed event, so EventSource dispatches it as ``message``."""
    data = {"type": "refetchEvaluation", "etag": str(seq)}
    return ServerSentEvent(orjson.dumps(data).decode(), id=str(seq))


def token_ttl(raw: Any) -> int:
    if raw is None:
        return DEFAULT_TTL_S
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 1 <= raw <= MAX_TTL_S:
        raise BadRequest(f"ttl_s must be a number of seconds from 1 to {MAX_TTL_S}", field="ttl_s")
    return int(raw)


def token_claims(key: ApiKey, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "prj": key.project,
        "env": key.environment,
        "kid": key.id,
        "knd": key.kind.value,
        "ctx": context,
    }


def stream_url(request: Request, token: str) -> str:
    # The route's URL depends only on how the request reached us (scheme, host, root
    # path): looked up once for each, not per token (url_for walks every route).
    scope = request.scope
    host = request.headers.get("host")
    where = (scope.get("scheme"), host, scope.get("server"), scope.get("root_path"))
    base = _STREAM_URLS.get(where)
    if base is None:
        base = str(request.url_for("browser_stream"))
        if len(_STREAM_URLS) >= _STREAMS_LIMIT:
            _STREAM_URLS.clear()
        _STREAM_URLS[where] = base
    return f"{base}?{urlencode({'token': token})}"


_STREAM_URLS: dict[tuple[Any, ...], str] = {}


_STREAMS: dict[tuple[str, float, str, bytes], list[dict[str, Any]]] = {}
_STREAMS_LIMIT = 10_000


def event_streams(
    request: Request,
    secret: bytes,
    key: ApiKey,
    context: dict[str, Any],
    now: float | None = None,
    canonical: bytes | None = None,
) -> list[dict[str, Any]]:
    """OFREP's ``eventStreams``: our stream, with a token for this key and context.

    The token is the same for one key and context within a window, so it is signed once
    per window (signing and building the URL cost more than evaluating ten flags).
    ``canonical``: the context as sorted JSON, when the caller has it already."""
    at = time.time() if now is None else now
    issued = at - at % OFREP_TOKEN_WINDOW_S
    memo = (
        key.id,
        issued,
        request.headers.get("host", ""),
        canonical or orjson.dumps(context, option=orjson.OPT_SORT_KEYS, default=str),
    )
    streams = _STREAMS.get(memo)
    if streams is None:
        token = tokens.issue(
            secret, tokens.Audience.STREAM, token_claims(key, context), MAX_TTL_S, now=issued
        )
        streams = [
            {
                "type": "sse",
                "url": stream_url(request, token),
                "inactivityDelaySec": OFREP_INACTIVITY_DELAY_S,
            }
        ]
        if len(_STREAMS) >= _STREAMS_LIMIT:
            _STREAMS.clear()
        _STREAMS[memo] = streams
    return streams


# -- routes ------------------------------------------------------------------------------------


# A token travels in a URL (EventSource sends no headers), and URLs beyond ~8 KB are cut
# by common proxies: a stream token's context is capped well below that.
STREAM_TOKEN_CONTEXT_BYTES = 4_096


async def create_stream_token(request: Request) -> Response:
    """POST /api/v1/stream-tokens ``{"context": {...}, "ttl_s": 600}`` (server or client key)."""
    state = state_of(request)
    key = await state.auth.request_key(request, (KeyKind.SERVER, KeyKind.CLIENT))
    body = await read_json(request, state.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object with 'context' and optional 'ttl_s'")
    unknown = sorted(set(body) - {"context", "ttl_s"})
    if unknown:
        raise BadRequest(f"unknown fields {unknown}; expected 'context', 'ttl_s'", field=unknown[0])
    ttl = token_ttl(body.get("ttl_s"))
    try:
        context = evaluation_context(body.get("context"), STREAM_TOKEN_CONTEXT_BYTES)
    except InvalidContext as exc:
        raise BadRequest(str(exc), field="context") from None
    issued = int(time.time())
    token = tokens.issue(
        state.secret, tokens.Audience.STREAM, token_claims(key, context), ttl, now=issued
    )
    expires = datetime.fromtimestamp(issued + ttl, UTC)
    return JSONResponse(
        {
            "token": token,
            "expires_at": expires.isoformat().replace("+00:00", "Z"),
            "url": stream_url(request, token),
        },
        headers={"Cache-Control": "no-store"},
    )


async def browser_stream(request: Request) -> Response:
    """GET /api/v1/browser/stream?token=... or ?key=<client key>&context=<JSON>."""
    state = state_of(request)
    viewer = await _viewer(request, state)
    resume = last_event_id(request)
    # Refuse an environment that no longer exists now, as JSON, not mid-stream.
    (await state.snapshots.get(viewer.project)).environment(viewer.environment)
    return event_stream(lambda stream: value_events(state, viewer, resume, stream))


async def _viewer(request: Request, state: ApiState) -> Viewer:
    query = request.query_params
    token, raw = query.get("token"), query.get("key")
    if token is not None:
        if raw is not None or "context" in query:
            raise BadRequest("a stream token carries its own key and context", field="token")
        return await _token_viewer(state, token)
    if raw is not None:
        key = await state.auth.authenticate(raw, tuple(KeyKind))
        if key.kind is not KeyKind.CLIENT:
            raise Forbidden(
                f"{key.kind.value} keys are secrets and must never be put in a URL: send it as "
                "a header, or mint a stream token with POST /api/v1/stream-tokens",
                field="key",
            )
    else:
        header = raw_key(request)
        if header is None:
            raise Unauthorized(
                "missing credentials: EventSource sends none, so add ?token=<stream token> "
                "or ?key=<client key> to the URL"
            )
        key = await state.auth.authenticate(header, (KeyKind.SERVER, KeyKind.CLIENT))
    assert key.environment is not None
    try:
        context = evaluation_context(
            orjson.loads(query.get("context") or "{}"), state.settings.max_context_bytes
        )
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"context is not valid JSON: {exc}", field="context") from None
    except InvalidContext as exc:
        raise BadRequest(str(exc), field="context") from None
    return Viewer(key.project, key.environment, context)


async def _token_viewer(state: ApiState, token: str) -> Viewer:
    claims = tokens.verify(state.secret, tokens.Audience.STREAM, token)
    project, environment = claims.get("prj"), claims.get("env")
    key_id, context = claims.get("kid"), claims.get("ctx")
    if not (
        isinstance(project, str)
        and isinstance(environment, str)
        and isinstance(key_id, str)
        and isinstance(context, dict)
    ):
        raise Unauthorized("invalid ff-stream token")
    # Read from the store at every connect: a revoked issuer is refused at once.
    issuer = next((k for k in await state.store.list_api_keys(project) if k.id == key_id), None)
    if issuer is None or issuer.revoked_at is not None:
        raise Unauthorized("the key that issued this stream token was revoked or deleted")
    return Viewer(project, environment, context)


async def value_events(
    state: ApiState, viewer: Viewer, resume: int | None, stream: Stream
) -> AsyncIterator[ServerSentEvent | bytes]:
    """The stream's first events; then its live ones (``LiveValues``)."""
    # Subscribe before reading the snapshot: a change applied in between is then queued.
    stream.subscribe(state.hub, viewer.project)
    snapshot = await state.snapshots.get(viewer.project)
    if resume is not None and resume > snapshot.seq:
        # The client saw a replica that is ahead of this one: catch up rather than
        # send it older values.
        with contextlib.suppress(StoreError):  # else serve what this replica has
            await state.snapshots.refresh(viewer.project)
        snapshot = await state.snapshots.get(viewer.project)
    sent = _values(snapshot, viewer)
    if resume != snapshot.seq:
        yield snapshot_event(snapshot.seq, viewer.environment, sent)
        if resume is not None:
            yield refetch_event(snapshot.seq)
    stream.live(LiveValues(viewer, snapshot.seq, sent))


class LiveValues:
    """The events of each published batch for one browser stream, which has ``sent`` as of
    ``cursor``: the flags whose evaluation changed for its context (nothing when none did);
    the end when its environment is gone (a reconnect then says so as JSON)."""

    __slots__ = ("cursor", "sent", "viewer")  # one a stream: 10,000 may be open

    def __init__(self, viewer: Viewer, cursor: int, sent: Values) -> None:
        self.viewer, self.cursor, self.sent = viewer, cursor, sent

    def __call__(self, batch: Batch) -> list[bytes] | None:
        current, _ = batch
        if current.seq <= self.cursor:
            return []
        if self.viewer.environment not in current.environments:
            return None  # before anything changes: asked again, it says so again
        self.cursor = current.seq
        values = _values(current, self.viewer)
        changed, removed = diff(self.sent, values)
        self.sent = values
        if not (changed or removed):
            return []
        return [
            change_event(self.cursor, changed, removed).encode(),
            refetch_event(self.cursor).encode(),
        ]


def _values(snapshot: ProjectSnapshot, viewer: Viewer) -> Values:
    return visible_values(snapshot.environment(viewer.environment), viewer.context, time.time())


# -- the browser module and its example page ---------------------------------------------------

_ASSETS = {"ff.js": "text/javascript; charset=utf-8", "example.html": "text/html; charset=utf-8"}


def asset(name: str, if_none_match: str | None) -> Response:
    """A packaged file with a content ETag: cached briefly, revalidated cheaply."""
    body = resources.files("ff_api").joinpath("static", name).read_bytes()
    etag = f'"{sha256(body).hexdigest()[:32]}"'
    # Public code: any origin may load it (an allowed origin gets its own CORS headers).
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=300",
        "Access-Control-Allow-Origin": "*",
    }
    if if_none_match == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=_ASSETS[name], headers=headers)


async def ff_js(request: Request) -> Response:
    """GET /sdk/ff.js: the dependency-free browser module."""
    return asset("ff.js", request.headers.get("if-none-match"))


async def example_page(request: Request) -> Response:
    """GET /sdk/example?key=<client key>&context=<JSON>: flags, live."""
    return asset("example.html", request.headers.get("if-none-match"))


routes = [
    Route("/api/v1/stream-tokens", create_stream_token, methods=["POST"]),
    Route("/api/v1/browser/stream", StreamRoute(browser_stream), methods=["GET"]),
    Route("/sdk/ff.js", ff_js, methods=["GET"]),
    Route("/sdk/example", example_page, methods=["GET"]),
]
