"""``/openapi.json``: generated from the routes the app serves and the pydantic models.

Every served route must have an entry in ``OPERATIONS`` (method, path) naming its
summary, credentials, body and response models; building the document fails loudly for
a route without one, and a test builds it from the real app. Schemas come from pydantic
(``models_json_schema``), so the contract cannot drift from the validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ff_api import schemas as s
from ff_api.usage import UsageReport
from ff_core.models import Environment, EnvironmentConfig, Flag, Member, Project, Segment, Tenant
from ff_core.outbound import DeliveryPage, WebhookCreate, WebhookCreated, WebhookList

ADMIN = ("adminKey", "session")  # management: an admin key or the dashboard's session
EVAL = ("serverKey", "clientKey")
SERVER = ("serverKey",)
NONE: tuple[str, ...] = ()


@dataclass(frozen=True)
class Op:
    summary: str
    auth: tuple[str, ...] = ADMIN
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    query: tuple[str, ...] = ()
    media: str = "application/json"
    headers: tuple[str, ...] = ()
    # Other answers than ``status`` and a problem: (status, JSON body model or None).
    also: tuple[tuple[int, type[BaseModel] | None], ...] = ()


NOT_MODIFIED = (304, None)
# OFREP's own error bodies (malformed JSON or a bad key still get a problem).
OFREP_ERRORS = ((400, s.OfrepFailure), (404, s.OfrepFailure))


P = "/api/v1/projects/{project}"
OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/healthz"): Op("Liveness", NONE, response=s.Status),
    ("GET", "/readyz"): Op("Readiness: the store answers", NONE, response=s.Status),
    ("GET", "/openapi.json"): Op("This document", NONE),
    # evaluation
    ("POST", "/api/v1/evaluate"): Op(
        "Evaluate flags (bulk) with reasons and variants",
        EVAL,
        body=s.EvaluationRequest,
        response=s.NativeBulk,
    ),
    ("GET", "/api/v1/flags/{key}/evaluate"): Op(
        "Evaluate one flag; context is a JSON object in the query",
        EVAL,
        response=s.NativeOne,
        query=("context",),
        also=((404, s.NativeOne),),  # an unknown flag: the result, reason ERROR
    ),
    ("POST", "/ofrep/v1/evaluate/flags"): Op(
        "OFREP bulk evaluation (ETag / If-None-Match -> 304; eventStreams)",
        EVAL,
        body=s.OfrepRequest,
        response=s.OfrepBulk,
        headers=("If-None-Match",),
        also=(NOT_MODIFIED, (400, s.OfrepFailure)),
    ),
    ("POST", "/ofrep/v1/evaluate/flags/{key}"): Op(
        "OFREP single-flag evaluation",
        EVAL,
        body=s.OfrepRequest,
        response=s.OfrepSuccess,
        also=OFREP_ERRORS,
    ),
    # SDK sync
    ("GET", "/api/v1/sdk/flags"): Op(
        "Every definition of the key's environment (ETag by change sequence)",
        SERVER,
        response=s.SdkDefinitions,
        headers=("If-None-Match",),
        also=(NOT_MODIFIED,),
    ),
    ("GET", "/api/v1/sdk/stream"): Op(
        "Definition change stream (SSE: snapshot, upsert, delete, retarget; ids are change "
        "sequences)",
        SERVER,
        media="text/event-stream",
        headers=("Last-Event-ID",),
    ),
    # browsers
    ("POST", "/api/v1/stream-tokens"): Op(
        "Mint a short-lived browser stream token that fixes the user's context",
        EVAL,
    ),
    ("GET", "/api/v1/browser/stream"): Op(
        "Evaluated values of client-visible flags for EventSource (SSE), plus OFREP "
        "refetchEvaluation messages; ?token= or ?key=<client key>&context=",
        NONE,
        media="text/event-stream",
        query=("token", "key", "context", "last_event_id"),
        headers=("Last-Event-ID",),
    ),
    ("GET", "/sdk/ff.js"): Op(
        "The browser module (dependency-free)", NONE, media="text/javascript"
    ),
    ("GET", "/sdk/example"): Op("An example page using /sdk/ff.js", NONE, media="text/html"),
    # operations and usage
    ("GET", "/metrics"): Op("Prometheus metrics", NONE, media="text/plain"),
    ("POST", "/api/v1/sdk/usage"): Op(
        "SDK-reported evaluation counts (202: accepted, ignored)",
        SERVER,
        body=UsageReport,
        status=202,
    ),
    ("GET", f"{P}/usage"): Op("Evaluation counts, last evaluated and staleness per flag"),
    ("GET", f"{P}/flags/{{key}}/usage"): Op("One flag's evaluation counts"),
    # management
    ("GET", "/api/v1/me"): Op("Who the credentials name, and their memberships", response=s.Me),
    ("GET", "/api/v1/projects"): Op("Projects the caller belongs to", response=s.ProjectList),
    ("POST", "/api/v1/projects"): Op(
        "Create a project (signed-in users; the creator becomes owner)",
        ("session",),
        body=s.ProjectCreate,
        response=Project,
        status=201,
    ),
    ("GET", P): Op("A project", response=Project),
    ("PATCH", P): Op(
        "Change name, description, tenant_attribute or registry_enforced (admin); "
        "If-Match: the project's version",
        response=Project,
        headers=("If-Match",),
    ),
    ("POST", f"{P}/environments"): Op(
        "Add an environment (admin); 200 when it exists already (nothing written)",
        body=Environment,
        response=Project,
        status=201,
        also=((200, Project),),
    ),
    ("GET", f"{P}/flags"): Op(
        "Flag summaries: search, tag, archived filter, cursor pages",
        response=s.FlagPage,
        query=("search", "tag", "archived", "limit", "cursor"),
    ),
    ("POST", f"{P}/flags"): Op(
        "Create a flag (editor)", body=Flag, response=s.FlagView, status=201
    ),
    ("GET", f"{P}/flags/{{key}}"): Op("A flag's full definition", response=s.FlagView),
    ("PATCH", f"{P}/flags/{{key}}"): Op(
        "Change metadata fields (editor); If-Match: the flag's version",
        response=s.FlagView,
        headers=("If-Match",),
    ),
    ("DELETE", f"{P}/flags/{{key}}"): Op(
        "Delete a flag (admin)", status=204, headers=("If-Match",)
    ),
    ("PUT", f"{P}/flags/{{key}}/environments/{{environment}}"): Op(
        "Replace one environment's config (editor); If-Match required",
        body=EnvironmentConfig,
        response=s.FlagView,
        headers=("If-Match",),
    ),
    ("POST", f"{P}/flags/{{key}}/set-enabled-in"): Op(
        "Switch the flag on or off per environment (editor)",
        body=s.SetEnabledIn,
        response=s.FlagView,
    ),
    ("GET", f"{P}/flags/{{key}}/history"): Op(
        "Audit history, newest first", response=s.HistoryPage, query=("limit", "before")
    ),
    ("POST", f"{P}/flags/{{key}}/rollback"): Op(
        "Restore the flag as of a history entry (editor)", body=s.Rollback, response=s.FlagView
    ),
    ("GET", f"{P}/segments"): Op("Segments"),
    ("POST", f"{P}/segments"): Op(
        "Create a segment (editor)", body=Segment, response=Segment, status=201
    ),
    ("GET", f"{P}/segments/{{key}}"): Op("A segment", response=Segment),
    ("PUT", f"{P}/segments/{{key}}"): Op(
        "Replace a segment (editor); If-Match required",
        body=Segment,
        response=Segment,
        headers=("If-Match",),
    ),
    ("DELETE", f"{P}/segments/{{key}}"): Op("Delete an unused segment (editor)", status=204),
    ("GET", f"{P}/segments/{{key}}/history"): Op(
        "A segment's audit history", response=s.HistoryPage, query=("limit", "before")
    ),
    ("GET", f"{P}/keys"): Op("API keys (prefix only; admin)"),
    ("POST", f"{P}/keys"): Op(
        "Create an API key; the raw key is in this response only (admin)",
        body=s.KeyCreate,
        response=s.KeyCreated,
        status=201,
    ),
    ("DELETE", f"{P}/keys/{{key_id}}"): Op(
        "Revoke a key (admin); every replica refuses it within the poll interval",
        response=s.KeyView,
    ),
    ("GET", f"{P}/members"): Op("Members and roles"),
    ("PUT", f"{P}/members/{{email}}"): Op(
        "Add a member or change their role (admin; owners grant ownership)",
        body=s.MemberSet,
        response=Member,
    ),
    ("DELETE", f"{P}/members/{{email}}"): Op("Remove a member (admin)", status=204),
    # tenants (registry flags' explicit state per tenant)
    ("GET", f"{P}/tenants"): Op(
        "Tenants by key, cursor pages", response=s.TenantPage, query=("limit", "cursor")
    ),
    ("POST", f"{P}/tenants"): Op(
        "Onboard a tenant from the registry defaults (editor); 200 when onboarded before "
        "(nothing written)",
        body=s.TenantCreate,
        response=s.TenantOnboarded,
        status=201,
        also=((200, s.TenantOnboarded),),
    ),
    ("POST", f"{P}/tenants/cleanup"): Op(
        "Remove tenant state for keys no longer in the registry (admin); dry_run=true lists it",
        response=s.TenantCleanup,
        query=("dry_run",),
    ),
    ("GET", f"{P}/tenants/{{tenant}}"): Op(
        "One tenant: every registry flag x environment, explicit or default, and orphaned keys",
        response=s.TenantViewBody,
    ),
    ("DELETE", f"{P}/tenants/{{tenant}}"): Op(
        "Offboard a tenant (admin): its state goes, its history stays",
        status=204,
        headers=("If-Match",),
    ),
    ("PUT", f"{P}/tenants/{{tenant}}/flags/{{key}}/{{environment}}"): Op(
        "Override one flag for a tenant in one environment (editor); If-Match: tenant version",
        body=s.TenantOverride,
        response=Tenant,
        headers=("If-Match",),
    ),
    ("DELETE", f"{P}/tenants/{{tenant}}/flags/{{key}}/{{environment}}"): Op(
        "Clear a tenant's value: it gets the flag's default (editor)",
        response=Tenant,
        headers=("If-Match",),
    ),
    ("GET", f"{P}/flags/{{key}}/tenants"): Op(
        "One registry flag across tenants in an environment, cursor pages",
        response=s.FlagTenantPage,
        query=("environment", "limit", "cursor"),
    ),
    # outbound change events (docs/WEBHOOKS.md)
    ("GET", f"{P}/webhooks"): Op("Webhooks (admin)", response=WebhookList),
    ("POST", f"{P}/webhooks"): Op(
        "Create a webhook; its signing secret is in this response only (admin)",
        body=WebhookCreate,
        response=WebhookCreated,
        status=201,
    ),
    ("DELETE", f"{P}/webhooks/{{webhook_id}}"): Op("Delete a webhook (admin)", status=204),
    ("GET", f"{P}/webhooks/{{webhook_id}}/deliveries"): Op(
        "A webhook's delivery log, newest event first (admin)",
        response=DeliveryPage,
        query=("limit", "before"),
    ),
}

SECURITY_SCHEMES = {
    "serverKey": {"type": "http", "scheme": "bearer", "description": "A server key (ffs_...)"},
    "clientKey": {"type": "http", "scheme": "bearer", "description": "A client key (ffc_...)"},
    "adminKey": {"type": "http", "scheme": "bearer", "description": "An admin key (ffa_...)"},
    "session": {"type": "apiKey", "in": "cookie", "name": "ff_session"},
}
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def served(routes: list[BaseRoute]) -> list[tuple[str, str]]:
    """(method, path) of every route, paths in OpenAPI form (``{key:path}`` -> ``{key}``)."""
    return [
        (method, _PARAM.sub(r"{\1}", route.path))
        for route in routes
        if isinstance(route, Route)
        for method in sorted(route.methods or ())
        if method != "HEAD"
    ]


def build(routes: list[BaseRoute], version: str) -> dict[str, Any]:
    operations = served(routes)
    missing = [op for op in operations if op not in OPERATIONS]
    if missing:
        raise LookupError(f"routes without an OpenAPI entry: {missing}")
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (s.Problem, "serialization"),
    ]
    for key in operations:
        op = OPERATIONS[key]
        if op.body is not None:
            wanted.append((op.body, "validation"))
        if op.response is not None:
            wanted.append((op.response, "serialization"))
        wanted += [(model, "serialization") for _, model in op.also if model is not None]
    refs, definitions = models_json_schema(
        list(dict.fromkeys(wanted)), ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for method, path in operations:
        op = OPERATIONS[(method, path)]
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "ff", "version": version},
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def _operation(
    method: str, path: str, op: Op, refs: dict[tuple[Any, JsonSchemaMode], Any]
) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(path)
    ]
    params += [{"name": q, "in": "query", "schema": {"type": "string"}} for q in op.query]
    params += [{"name": h, "in": "header", "schema": {"type": "string"}} for h in op.headers]
    if method != "GET" and op.auth == ADMIN:
        params += [
            {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}},
            {"name": "note", "in": "query", "schema": {"type": "string"}},
        ]
    if op.status == 204:
        ok: dict[str, Any] = {"description": "Done"}
    else:
        schema = refs[(op.response, "serialization")] if op.response else {"type": "object"}
        ok = {"description": "OK", "content": {op.media: {"schema": schema}}}
    problem = {
        "description": "A problem: 4xx names what was wrong, 5xx never carries a stack trace",
        "content": {"application/problem+json": {"schema": refs[(s.Problem, "serialization")]}},
    }
    responses = {str(op.status): ok}
    for status, model in op.also:
        responses[str(status)] = _also(status, model, refs, problem)
    operation: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "parameters": params,
        "responses": {**responses, "4XX": problem, "5XX": problem},
        "security": [{name: []} for name in op.auth],
    }
    if op.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    return operation


def _also(
    status: int,
    model: type[BaseModel] | None,
    refs: dict[tuple[Any, JsonSchemaMode], Any],
    problem: dict[str, Any],
) -> dict[str, Any]:
    if model is None:
        return {"description": "Not modified" if status == 304 else "No content"}
    content = {"application/json": {"schema": refs[(model, "serialization")]}}
    if status >= 400:  # the route's own body, or a problem from the shared error mapping
        content |= problem["content"]
    return {"description": "See the summary", "content": content}


async def openapi(request: Request) -> Response:
    spec = getattr(request.app.state, "openapi", None)
    if spec is None:
        spec = request.app.state.openapi = build(request.app.routes, _version())
    return JSONResponse(spec)


def _version() -> str:
    try:
        return metadata.version("ff")
    except metadata.PackageNotFoundError:  # running from a checkout that is not installed
        return "0+unknown"


routes: list[BaseRoute] = [Route("/openapi.json", openapi, methods=["GET"])]
