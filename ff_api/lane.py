"""The OFREP routes' fast lane: ``POST /ofrep/v1/evaluate/flags`` (bulk) and
``POST /ofrep/v1/evaluate/flags/{key}`` (one flag) answered from the edge layer
(ff_api/access.py) when nothing about the request is unusual.

Services and browsers ask these routes again and again, and on one process the bulk route
served ~4,000 requests a second where a trivial Starlette endpoint served ~7,800: the
general stack (Starlette's error layer, exception layer and router, the rate-limit layer,
a ``Request``, the route function and its ``Response`` object, each with their own frames
and ``send`` wrappers) cost more than the answer, which is one dict lookup of a kept
answer (ff_api/bulk.py), or for one flag a microsecond of evaluation. bench/README.md has
the figures.

The lane answers only when every check passes, each made without waiting:

- no query string (a bulk refetch with ``?flagConfigEtag`` may have to read the change
  log);
- for one flag, a key that could be a flag's (``limits.FLAG_KEY_PATTERN``): anything else
  is the router's to answer;
- no ``Origin`` header (the edge layer does not offer the lane cross-origin requests, so
  CORS stays Starlette's);
- an API key in the headers, known to this replica and unexpired
  (``KeyAuthenticator.cached``), not revoked, a server or client key;
- its project's snapshot loaded;
- the body within the size limit, a JSON object with a valid context.

The headers it reads (the key's two, ``Host`` and ``If-None-Match``) are read in one
pass. A request with a key is charged the rate limiter's token first, as the rate-limit
layer would charge it (the same limiter, ``ratelimit.charge``, which marks the request
so that the layer does not charge it again), and a spent key gets the layer's 429; one
without a key is handed on uncharged, for the layer to charge. Any request that fails a
check goes to the full stack as if the lane were not there (with the body, if the lane
read it, handed on). The others get what the route answers (``evaluation.bulk_response``:
same body, ETag, 304, usage counts; ``evaluation.one_response``: same value, 404 or 400,
usage counts). A bulk body the lane has seen with the key under the same environment is
not parsed again: ``state.bulk`` recalls its answer (``BulkAnswers.recall``), and the
answer keeps its last rendered body (``Answer.rendered``). The edge layer adds the
request id, ``Vary``, the metrics and the access log, as for any request.
tests/api/test_lane.py holds the lane's answers to the full stack's, byte for byte.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from ff_api.auth import first_headers, headers_key
from ff_api.context import parse_json
from ff_api.errors import unexpected
from ff_api.ratelimit import RateLimiter, charge, refuse
from ff_api.routes.evaluation import (
    EVALUATION_KEYS,
    bulk_answer,
    bulk_response,
    ofrep_context,
    one_response,
)
from ff_api.state import ApiState
from ff_core.limits import FLAG_KEY_PATTERN

PATH = "/ofrep/v1/evaluate/flags"
ONE = PATH + "/"  # then the flag's key
_FLAG_KEY = re.compile(FLAG_KEY_PATTERN)
# Every header the lane reads, in one pass: the key's two, and the bulk answer's two.
_HEADERS = frozenset({b"authorization", b"x-api-key", b"host", b"if-none-match"})


class OfrepLane:
    prefix = PATH  # the edge layer offers the lane every path that starts with it

    def __init__(self, limiter: RateLimiter | None) -> None:
        self._limiter = limiter
        self.answered = 0  # requests the lane answered (tests read it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """None once the request is answered; else the ``receive`` the full stack must
        read the request from."""
        if scope["method"] != "POST" or scope["query_string"]:
            return receive
        path: str = scope["path"]
        flag = None  # the bulk route's
        if path != PATH:
            flag = path[len(ONE) :]
            if not path.startswith(ONE) or _FLAG_KEY.fullmatch(flag) is None:
                return receive
        headers = first_headers(scope, _HEADERS)
        raw = headers_key(headers)
        if raw is None:  # the stack answers it (its rate-limit layer charges it)
            return receive
        # Then, as the rate-limit layer would (a header key and no query string: ``raw``
        # is the request's one credential): a refused key costs no more than there.
        if self._limiter is not None and (wait_s := charge(self._limiter, scope, only=raw)):
            await refuse(wait_s, send)
            return None
        state: ApiState | None = getattr(scope["app"].state, "ff", None)
        if state is None:  # no lifespan has run (an app driven bare): the stack answers
            return receive
        key = state.auth.cached(raw)
        if key is None or key.revoked_at is not None or key.kind not in EVALUATION_KEYS:
            return receive
        snapshot = state.snapshots.loaded_snapshot(key.project)
        if snapshot is None or key.environment not in snapshot.environments:
            return receive
        replay = _Replay(receive)
        body = b""
        while True:  # one message, from uvicorn, when the body came in whole
            message = await replay.read()
            if message["type"] != "http.request":
                return replay
            body += message.get("body", b"")
            if len(body) > state.settings.max_body_bytes:
                return replay
            if not message.get("more_body", False):
                break
        env = snapshot.environment(key.environment)
        # A bulk request whose body was answered before under this environment: no parsing.
        known = state.bulk.recall(key, env, body) if flag is None else None
        if known is not None:
            ctx = known.ctx
        else:
            try:
                ctx = ofrep_context(parse_json(body), state)
            except Exception:  # bad JSON, a bad context, one too large: the route answers it
                return replay
        request = Request(scope, replay)
        try:
            if flag is not None:
                response = one_response(state, key, env, flag, ctx)
            else:
                if known is None:
                    known = bulk_answer(state, key, env, snapshot.seq, ctx)
                    state.bulk.remember(key, env, body, known)
                host = headers.get(b"host", b"").decode("latin-1")
                etag = headers.get(b"if-none-match")
                response = bulk_response(
                    request,
                    state,
                    key,
                    snapshot.seq,
                    known,
                    host,
                    etag.decode("latin-1") if etag is not None else None,
                )
        except Exception as exc:  # a defect: answered and logged as the app's handler does
            response = await unexpected(request, exc)
        self.answered += 1
        await response(scope, replay, send)
        return None


class _Replay:
    """The request's ``receive``, which keeps what the lane read (``read``) for the full
    stack to read again (calling it)."""

    __slots__ = ("_read", "_receive")

    def __init__(self, receive: Receive) -> None:
        self._read: list[Message] = []
        self._receive = receive

    async def read(self) -> Message:
        message = await self._receive()
        self._read.append(message)
        return message

    async def __call__(self) -> Message:
        if self._read:
            return self._read.pop(0)
        return await self._receive()
