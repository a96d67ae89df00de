"""Operations: Prometheus metrics, SDK usage reports, and flag usage for the dashboard."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ff_api.auth import raw_key
from ff_api.context import read_json
from ff_api.errors import BadRequest
from ff_api.principals import grant
from ff_api.responses import json_response
from ff_api.state import state_of
from ff_api.usage import UsageReport
from ff_core.errors import NotFound, Unauthorized
from ff_core.models import FlagUsage, KeyKind, Role
from ff_core.models.usage import STALE_AFTER_DAYS, USAGE_WINDOW_DAYS
from ff_core.validation import field_errors, summarise


async def metrics(request: Request) -> Response:
    """GET /metrics: Prometheus text format; with FF_METRICS_TOKEN set, only for its bearer."""
    state = state_of(request)
    token = state.settings.metrics_token
    if token is not None:
        sent = (raw_key(request) or "").encode()
        if not hmac.compare_digest(sent, token.get_secret_value().encode()):
            raise Unauthorized("send the metrics token as 'Authorization: Bearer <token>'")
    body, content_type = state.metrics.exposition(request.headers.get("accept", ""))
    return Response(body, headers={"Content-Type": content_type})


async def sdk_usage(request: Request) -> Response:
    """POST /api/v1/sdk/usage ``{"counts": {flag: n}}``: an SDK's local evaluations.

    Counts go to the key's environment. Flags the environment does not have (deleted since
    the SDK evaluated them) are ignored and listed back; anything malformed refuses the
    whole report, and nothing of it is counted.
    """
    state = state_of(request)
    key = await state.auth.request_key(request, (KeyKind.SERVER,))
    assert key.environment is not None
    raw = await read_json(request, state.settings.max_body_bytes)
    if not isinstance(raw, dict):
        raise BadRequest('the body must be a JSON object: {"counts": {"<flag>": <count>}}')
    try:
        report = UsageReport.model_validate(raw)
    except ValidationError as exc:
        errors = field_errors(exc)
        raise BadRequest(f"invalid usage report: {summarise(errors)}", errors=errors) from None
    snapshot = await state.snapshots.get(key.project)
    known = snapshot.environment(key.environment).flags
    counts = {flag: n for flag, n in report.counts.items() if flag in known}
    state.usage.report(key.project, key.environment, counts)
    ignored = sorted(flag for flag in report.counts if flag not in known)
    return json_response({"accepted": len(counts), "ignored": ignored}, 202)


def _window(now: datetime) -> dict[str, Any]:
    return {
        "as_of": now.isoformat(),
        "window_days": USAGE_WINDOW_DAYS,
        "stale_after_days": STALE_AFTER_DAYS,
    }


async def project_usage(request: Request) -> Response:
    """GET /api/v1/projects/{project}/usage: every current flag, never-evaluated ones too."""
    project = request.path_params["project"]
    await grant(request, project, Role.VIEWER)
    state = state_of(request)
    now = datetime.now(UTC)
    snapshot = await state.snapshots.get(project)
    recorded = {u.flag: u for u in await state.store.get_usage(project, now=now)}
    flags = [recorded.get(k) or FlagUsage(project=project, flag=k) for k in snapshot.state.flags]
    listed = [f.model_dump(mode="json") for f in sorted(flags, key=lambda u: u.flag)]
    return json_response({"project": project, **_window(now), "flags": listed})


async def flag_usage(request: Request) -> Response:
    """GET /api/v1/projects/{project}/flags/{key}/usage."""
    project, flag = request.path_params["project"], request.path_params["key"]
    await grant(request, project, Role.VIEWER)
    state = state_of(request)
    snapshot = await state.snapshots.get(project)
    if flag not in snapshot.state.flags:
        raise NotFound(f"flag {flag!r} not found in project {project!r}", entity="flag", key=flag)
    now = datetime.now(UTC)
    usage = await state.store.get_flag_usage(project, flag, now=now)
    return json_response({**_window(now), **usage.model_dump(mode="json")})


routes = [
    Route("/metrics", metrics, methods=["GET"]),
    Route("/api/v1/sdk/usage", sdk_usage, methods=["POST"]),
    Route("/api/v1/projects/{project}/usage", project_usage, methods=["GET"]),
    Route("/api/v1/projects/{project}/flags/{key}/usage", flag_usage, methods=["GET"]),
]
