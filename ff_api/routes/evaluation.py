"""Evaluation: ff's own endpoints and the OpenFeature Remote Evaluation Protocol (OFREP).

Server keys see every flag of their environment; client keys (public by design) see only
``client_visible`` flags, and any other flag answers exactly as a missing one would.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ff_api.bulk import BulkAnswer, ofrep_error, ofrep_success
from ff_api.context import InvalidContext, evaluation_context, read_json
from ff_api.errors import BadRequest
from ff_api.routes.browser import OFREP_TOKEN_WINDOW_S, event_streams
from ff_api.state import ApiState, state_of
from ff_api.usage import UNKNOWN_FLAG
from ff_core.evaluation import CompiledEnvironment, ErrorCode, Reason, Resolution, evaluate
from ff_core.models import ApiKey, KeyKind

EVALUATION_KEYS = (KeyKind.SERVER, KeyKind.CLIENT)


async def _environment(request: Request) -> tuple[ApiState, ApiKey, CompiledEnvironment, int]:
    state = state_of(request)
    key = await state.auth.request_key(request, EVALUATION_KEYS)
    assert key.environment is not None
    snapshot = await state.snapshots.get(key.project)
    return state, key, snapshot.environment(key.environment), snapshot.seq


def _visible(key: ApiKey, env: CompiledEnvironment, flag: str) -> bool:
    compiled = env.flags.get(flag)
    return compiled is not None and (key.kind is KeyKind.SERVER or compiled.flag.client_visible)


def _resolve(key: ApiKey, env: CompiledEnvironment, flag: str, ctx: dict[str, Any]) -> Resolution:
    if not _visible(key, env, flag):
        return Resolution(
            flag, None, None, Reason.ERROR, ErrorCode.FLAG_NOT_FOUND, f"flag {flag!r} not found"
        )
    return evaluate(env, flag, ctx, now=time.time())


def _native(result: Resolution) -> dict[str, Any]:
    return {
        "value": result.value,
        "variant": result.variant,
        "reason": result.reason.value,
        "error_code": result.error_code.value if result.error_code else None,
        "error_message": result.error_message,
        "version": result.version,
    }


def _count(
    state: ApiState, key: ApiKey, env: CompiledEnvironment, result: Resolution
) -> Resolution:
    """Usage and the evaluation metric: one dict increment per evaluated flag."""
    _record(state, key.project, env.environment, result)
    return result


def _record(state: ApiState, project: str, environment: str, result: Resolution) -> None:
    flag = UNKNOWN_FLAG if result.error_code is ErrorCode.FLAG_NOT_FOUND else result.key
    state.usage.record(project, environment, flag, result.reason.value)


def _latency_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


# -- native ------------------------------------------------------------------------------------


async def evaluate_bulk(request: Request) -> Response:
    """POST /api/v1/evaluate ``{"context": {...}, "flags": [keys]?}``."""
    started = time.perf_counter()
    state, key, env, _ = await _environment(request)
    body = await read_json(request, state.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object with 'context' and optional 'flags'")
    try:
        ctx = evaluation_context(body.get("context"), state.settings.max_context_bytes)
    except InvalidContext as exc:
        raise BadRequest(str(exc), field="context") from None
    wanted = body.get("flags")
    if wanted is None:
        names = [f for f in env.flags if _visible(key, env, f)]
    elif isinstance(wanted, list) and all(isinstance(f, str) for f in wanted):
        names = wanted
    else:
        raise BadRequest("flags must be a list of flag keys", field="flags")
    flags = {
        name: _native(_count(state, key, env, _resolve(key, env, name, ctx)))
        for name in sorted(names)
    }
    return JSONResponse(
        {"environment": env.environment, "flags": flags, "latency_ms": _latency_ms(started)}
    )


async def evaluate_one(request: Request) -> Response:
    """GET /api/v1/flags/{key}/evaluate?context=<JSON object>."""
    started = time.perf_counter()
    state, key, env, _ = await _environment(request)
    raw = request.query_params.get("context", "{}")
    try:
        ctx = evaluation_context(orjson.loads(raw), state.settings.max_context_bytes)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"context is not valid JSON: {exc}", field="context") from None
    except InvalidContext as exc:
        raise BadRequest(str(exc), field="context") from None
    flag = request.path_params["key"]
    result = _count(state, key, env, _resolve(key, env, flag, ctx))
    status = 404 if result.error_code is ErrorCode.FLAG_NOT_FOUND else 200
    return JSONResponse(
        {"key": flag, **_native(result), "latency_ms": _latency_ms(started)}, status_code=status
    )


# -- OFREP -------------------------------------------------------------------------------------


async def _ofrep_context(request: Request, state: ApiState) -> dict[str, Any]:
    body = await read_json(request, state.settings.max_body_bytes)
    return ofrep_context(body, state)


def ofrep_context(body: Any, state: ApiState) -> dict[str, Any]:
    """The evaluation context of an OFREP request's parsed body."""
    if not isinstance(body, dict):
        raise InvalidContext("body must be a JSON object with a 'context' object")
    return evaluation_context(body.get("context"), state.settings.max_context_bytes)


async def ofrep_one(request: Request) -> Response:
    """POST /ofrep/v1/evaluate/flags/{key}."""
    state, key, env, _ = await _environment(request)
    flag = request.path_params["key"]
    try:
        ctx = await _ofrep_context(request, state)
    except InvalidContext as exc:
        return JSONResponse(ofrep_error(flag, ErrorCode.INVALID_CONTEXT, str(exc)), 400)
    return one_response(state, key, env, flag, ctx)


def one_response(
    state: ApiState, key: ApiKey, env: CompiledEnvironment, flag: str, ctx: dict[str, Any]
) -> Response:
    """The OFREP answer for one flag and ``ctx``, counted in usage: what ``ofrep_one`` and
    the fast lane (ff_api/lane.py) both send."""
    result = _count(state, key, env, _resolve(key, env, flag, ctx))
    if result.error_code is ErrorCode.FLAG_NOT_FOUND:
        return JSONResponse(ofrep_error(flag, result.error_code, result.error_message or ""), 404)
    if result.error_code is not None:
        return JSONResponse(ofrep_error(flag, result.error_code, result.error_message or ""), 400)
    # orjson, as the bulk answers' flags are: JSONResponse's json.dumps was ~4 % of a request.
    return Response(orjson.dumps(ofrep_success(result)), media_type="application/json")


async def ofrep_bulk(request: Request) -> Response:
    """POST /ofrep/v1/evaluate/flags: every visible flag; ETag / If-None-Match -> 304.

    A refetch prompted by our stream carries ``?flagConfigEtag=<seq>``; a replica that is
    behind that reads the change log first, so it never answers 304 with stale values.
    """
    state, key, env, seq = await _environment(request)
    # Parsing the query string costs more than the check; a refetch prompted by us has one.
    wanted = ""
    if request.scope["query_string"]:
        wanted = request.query_params.get("flagConfigEtag", "")
    if wanted.isdigit() and int(wanted) > seq:
        await state.snapshots.refresh(key.project)
        state, key, env, seq = await _environment(request)
    try:
        ctx = await _ofrep_context(request, state)
    except InvalidContext as exc:
        return JSONResponse({"errorCode": "INVALID_CONTEXT", "errorDetails": str(exc)}, 400)
    headers = request.headers
    return bulk_response(
        request,
        state,
        key,
        seq,
        bulk_answer(state, key, env, seq, ctx),
        headers.get("host", ""),
        headers.get("if-none-match"),
    )


def bulk_answer(
    state: ApiState, key: ApiKey, env: CompiledEnvironment, seq: int, ctx: dict[str, Any]
) -> BulkAnswer:
    canonical = orjson.dumps(ctx, option=orjson.OPT_SORT_KEYS, default=str)
    answer, kept = state.bulk.answer(key, env, seq, ctx, canonical, time.time())
    return BulkAnswer(answer, kept, ctx, canonical)


def bulk_response(
    request: Request,
    state: ApiState,
    key: ApiKey,
    seq: int,
    bulk: BulkAnswer,
    host: str,
    if_none_match: str | None,
) -> Response:
    """The OFREP bulk answer as sent (``host`` and ``if_none_match``: the request's
    headers), counted in usage: what ``ofrep_bulk`` and the fast lane (ff_api/lane.py)
    both send."""
    answer = bulk.answer
    if bulk.kept:
        state.usage.record_answer(answer)
    else:
        for result in answer.results:
            _record(state, answer.project, answer.environment, result)
    if if_none_match == answer.etag:
        return Response(status_code=304, headers={"ETag": answer.etag})
    now = time.time()
    memo = (
        key.id,
        now - now % OFREP_TOKEN_WINDOW_S,
        f"{seq}\0{request.scope.get('scheme')}\0{host}".encode(),
    )
    rendered = answer.rendered
    if rendered is None or rendered[0] != memo:
        # The rest of the body: OFREP's change notifications (our browser stream, with a
        # token for this key and context) and the seq.
        tail = {
            "metadata": {"seq": seq},
            "eventStreams": event_streams(
                request, state.secret, key, bulk.ctx, now, bulk.canonical
            ),
        }
        body = answer.body[: answer.cut] + orjson.dumps(tail)[1:]
        built = Response(body, headers={"ETag": answer.etag}, media_type="application/json")
        rendered = (memo, built.raw_headers)
        answer.body, answer.rendered = body, rendered
    return Rendered(answer.body, rendered[1])


class Rendered(Response):
    """A 200 whose body and headers were built before: sent as they are."""

    def __init__(self, body: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = list(raw_headers)  # a copy: layers outside may add to it


routes = [
    Route("/api/v1/evaluate", evaluate_bulk, methods=["POST"]),
    Route("/api/v1/flags/{key}/evaluate", evaluate_one, methods=["GET"]),
    Route("/ofrep/v1/evaluate/flags", ofrep_bulk, methods=["POST"]),
    Route("/ofrep/v1/evaluate/flags/{key:path}", ofrep_one, methods=["POST"]),
]
