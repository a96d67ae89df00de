"""Tenants under ``/api/v1/projects/{project}/tenants``: thin handlers over ``TenantService``.

Onboarding writes a tenant's explicit state for every registry flag from the current
registry defaults, once (a retry writes nothing: 200 with ``created: false``); later
default changes never reach it. Overrides set or clear one flag in one environment; they
take ``If-Match: <tenant version>`` when sent (409 with the current version when stale).
Roles as for flags: viewer reads, editor onboards and overrides, admin offboards and
cleans up (they delete state, as deleting a flag does).
"""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ff_api.errors import BadRequest
from ff_api.principals import grant
from ff_api.responses import json_response
from ff_api.routes.management import (
    P,
    _body,
    _decode_cursor,
    _encode_cursor,
    _idempotency,
    _if_match,
    _limit,
    _note,
    _project,
    _written,
)
from ff_api.schemas import (
    FlagTenantPage,
    FlagTenantValueView,
    TenantCleanup,
    TenantCreate,
    TenantFlagValueView,
    TenantOnboarded,
    TenantOverride,
    TenantPage,
    TenantViewBody,
)
from ff_api.state import state_of
from ff_core.models import Role
from ff_core.services import TenantService


def _tenants(request: Request) -> TenantService:
    return state_of(request).services.tenants


def _after(request: Request) -> str | None:
    cursor = request.query_params.get("cursor")
    return _decode_cursor(cursor) if cursor else None


def _cursor(next_key: str | None) -> str | None:
    return _encode_cursor(next_key) if next_key is not None else None


async def onboard(request: Request) -> Response:
    """POST .../tenants ``{"key", "name"?}``: 201 onboarded now, 200 onboarded before."""
    project = _project(request)
    who = await grant(request, project, Role.EDITOR)
    body = await _body(request, TenantCreate, "tenant")
    tenant, created = await _tenants(request).onboard(
        who.actor,
        project,
        body.key,
        body.name,
        note=_note(request),
        idempotency_key=_idempotency(request),
    )
    if created:
        _written(request)
    answer = TenantOnboarded(tenant=tenant, created=created)
    return json_response(answer, 201 if created else 200, etag=tenant.version)


async def list_tenants(request: Request) -> Response:
    """GET .../tenants?limit=&cursor=: by key; pass ``next_cursor`` back as ``cursor``."""
    project = _project(request)
    await grant(request, project, Role.VIEWER)
    page = await _tenants(request).list_tenants(
        project, limit=_limit(request, 100, 500), after=_after(request)
    )
    return json_response(TenantPage(items=page.items, next_cursor=_cursor(page.next_cursor)))


async def view_tenant(request: Request) -> Response:
    """GET .../tenants/{tenant}: every registry flag x environment, explicit or default."""
    project = _project(request)
    await grant(request, project, Role.VIEWER)
    view = await _tenants(request).view(project, request.path_params["tenant"])
    body = TenantViewBody(
        tenant=view.tenant,
        values=[TenantFlagValueView(**dataclasses.asdict(v)) for v in view.values],
        orphaned=view.orphaned,
    )
    return json_response(body, etag=view.tenant.version)


async def flag_across_tenants(request: Request) -> Response:
    """GET .../flags/{key}/tenants?environment=&limit=&cursor=: one flag, every tenant."""
    project = _project(request)
    await grant(request, project, Role.VIEWER)
    environment = request.query_params.get("environment")
    if not environment:
        raise BadRequest("name the environment: ?environment=<key>", field="environment")
    key = request.path_params["key"]
    page = await _tenants(request).across(
        project, key, environment, limit=_limit(request, 100, 500), after=_after(request)
    )
    body = FlagTenantPage(
        flag=key,
        environment=environment,
        items=[FlagTenantValueView(**dataclasses.asdict(v)) for v in page.items],
        next_cursor=_cursor(page.next_cursor),
    )
    return json_response(body)


async def set_override(request: Request) -> Response:
    """PUT .../tenants/{tenant}/flags/{key}/{environment} ``{"variant"}``."""
    project = _project(request)
    who = await grant(request, project, Role.EDITOR)
    expected = _if_match(request, required=False)
    body = await _body(request, TenantOverride, "tenant override")
    params = request.path_params
    tenant = await _tenants(request).set_override(
        who.actor,
        project,
        params["tenant"],
        params["key"],
        params["environment"],
        body.variant,
        expected_version=expected,
        note=_note(request),
        idempotency_key=_idempotency(request),
    )
    _written(request)
    return json_response(tenant, etag=tenant.version)


async def clear_override(request: Request) -> Response:
    """DELETE .../tenants/{tenant}/flags/{key}/{environment}: back to the flag's default."""
    project = _project(request)
    who = await grant(request, project, Role.EDITOR)
    params = request.path_params
    tenant = await _tenants(request).clear_override(
        who.actor,
        project,
        params["tenant"],
        params["key"],
        params["environment"],
        expected_version=_if_match(request, required=False),
        note=_note(request),
        idempotency_key=_idempotency(request),
    )
    _written(request)
    return json_response(tenant, etag=tenant.version)


async def offboard(request: Request) -> Response:
    """DELETE .../tenants/{tenant}: its state goes, its history stays."""
    project = _project(request)
    who = await grant(request, project, Role.ADMIN)
    await _tenants(request).remove(
        who.actor,
        project,
        request.path_params["tenant"],
        expected_version=_if_match(request, required=False),
        note=_note(request),
        idempotency_key=_idempotency(request),
    )
    _written(request)
    return Response(status_code=204)


async def cleanup(request: Request) -> Response:
    """POST .../tenants/cleanup?dry_run=true: state for keys no longer in the registry."""
    project = _project(request)
    who = await grant(request, project, Role.ADMIN)
    raw = request.query_params.get("dry_run", "false")
    if raw not in ("true", "false"):
        raise BadRequest("dry_run must be true or false", field="dry_run")
    dry_run = raw == "true"
    removed = await _tenants(request).cleanup(
        who.actor, project, dry_run=dry_run, note=_note(request)
    )
    if removed and not dry_run:
        _written(request)
    return json_response(TenantCleanup(dry_run=dry_run, removed=removed))


T = f"{P}/tenants"

routes: list[BaseRoute] = [
    Route(T, list_tenants, methods=["GET"]),
    Route(T, onboard, methods=["POST"]),
    Route(f"{T}/cleanup", cleanup, methods=["POST"]),
    Route(f"{T}/{{tenant}}", view_tenant, methods=["GET"]),
    Route(f"{T}/{{tenant}}", offboard, methods=["DELETE"]),
    Route(f"{T}/{{tenant}}/flags/{{key}}/{{environment}}", set_override, methods=["PUT"]),
    Route(f"{T}/{{tenant}}/flags/{{key}}/{{environment}}", clear_override, methods=["DELETE"]),
    Route(f"{P}/flags/{{key}}/tenants", flag_across_tenants, methods=["GET"]),
]
