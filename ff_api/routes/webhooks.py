"""Webhook management under ``/api/v1/projects/{project}/webhooks`` (admin role).

The secret receivers verify signatures with is in the creation answer only (docs/
WEBHOOKS.md). A bad URL is a 400 naming what is wrong with it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ff_api.context import read_json
from ff_api.errors import BadRequest
from ff_api.principals import grant
from ff_api.responses import json_response
from ff_api.state import state_of
from ff_core.errors import InvalidDefinition, StoreUnavailable
from ff_core.models import Role
from ff_core.outbound import DeliveryPage, WebhookCreate, WebhookList, WebhookService
from ff_core.outbound.models import webhook_url
from ff_core.store import DynamoStore
from ff_core.validation import validated

_MAX_PAGE = 200


def _service(request: Request) -> WebhookService:
    state = state_of(request)
    if not isinstance(state.store, DynamoStore):
        raise StoreUnavailable("webhooks need the DynamoDB store")
    return WebhookService(
        state.store, state.secret, log_ttl_days=state.settings.webhook_log_ttl_days
    )


def _project(request: Request) -> str:
    project: str = request.path_params["project"]
    return project


async def list_webhooks(request: Request) -> Response:
    project = _project(request)
    await grant(request, project, Role.ADMIN)
    return json_response(WebhookList(items=await _service(request).list(project)))


async def create_webhook(request: Request) -> Response:
    """POST .../webhooks: the signing secret is in this answer and nowhere else, ever."""
    project = _project(request)
    await grant(request, project, Role.ADMIN)
    raw = await read_json(request, state_of(request).settings.max_management_body_bytes)
    if not isinstance(raw, dict):
        raise BadRequest("the body must be a JSON object (webhook)")
    body = validated(lambda: WebhookCreate.model_validate(raw), "webhook")
    try:
        webhook_url(body.url)
    except InvalidDefinition as exc:
        raise BadRequest(exc.message, field="url") from None
    created = await _service(request).create(project, body)
    return json_response(created, 201)


async def delete_webhook(request: Request) -> Response:
    project = _project(request)
    await grant(request, project, Role.ADMIN)
    await _service(request).delete(project, request.path_params["webhook_id"])
    return Response(status_code=204)


async def list_deliveries(request: Request) -> Response:
    """GET .../webhooks/{id}/deliveries?limit=&before=: newest event first."""
    project = _project(request)
    await grant(request, project, Role.ADMIN)
    raw_limit = request.query_params.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= _MAX_PAGE:
        raise BadRequest(f"limit must be a whole number from 1 to {_MAX_PAGE}", field="limit")
    raw_before = request.query_params.get("before") or None
    if raw_before is not None and not (raw_before.isdigit() and len(raw_before) <= 12):
        raise BadRequest("before must be a next_cursor this API returned", field="before")
    page = await _service(request).deliveries(
        project,
        request.path_params["webhook_id"],
        limit=int(raw_limit),
        before=None if raw_before is None else int(raw_before),
    )
    return json_response(DeliveryPage(items=page.items, next_cursor=page.next_cursor))


P = "/api/v1/projects/{project}"

routes: list[BaseRoute] = [
    Route(f"{P}/webhooks", list_webhooks, methods=["GET"]),
    Route(f"{P}/webhooks", create_webhook, methods=["POST"]),
    Route(f"{P}/webhooks/{{webhook_id}}", delete_webhook, methods=["DELETE"]),
    Route(f"{P}/webhooks/{{webhook_id}}/deliveries", list_deliveries, methods=["GET"]),
]
