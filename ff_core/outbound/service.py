"""Managing webhooks: what the API routes and the CLI call."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from ff_core.errors import InvalidDefinition, NotFound
from ff_core.outbound.models import (
    MAX_WEBHOOKS_PER_PROJECT,
    Delivery,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    is_webhook_id,
    webhook_url,
)
from ff_core.outbound.signing import webhook_secret
from ff_core.outbound.store import OutboundStore
from ff_core.store import DynamoStore, Page


class WebhookService:
    def __init__(self, store: DynamoStore, key_secret: bytes, *, log_ttl_days: int = 7) -> None:
        self._store = store
        self._outbound = OutboundStore(store, log_ttl_days=log_ttl_days)
        self._key_secret = key_secret

    async def create(self, project: str, request: WebhookCreate) -> WebhookCreated:
        """A webhook receiving the project's changes from now on; the secret is in the
        answer and nowhere else (derived, never stored: ff_core/outbound/signing.py)."""
        url = webhook_url(request.url)
        await self._store.get_project(project)  # NotFound for a project that does not exist
        if len(await self._outbound.list_webhooks(project)) >= MAX_WEBHOOKS_PER_PROJECT:
            raise InvalidDefinition(
                f"project {project!r} has {MAX_WEBHOOKS_PER_PROJECT} webhooks, the most it "
                "may have; delete one first",
                field="webhooks",
                limit=MAX_WEBHOOKS_PER_PROJECT,
            )
        webhook = Webhook(
            id="wh_" + secrets.token_hex(8),
            project=project,
            url=url,
            events=request.events,
            enabled=request.enabled,
            created_at=datetime.now(UTC),
            start_seq=await self._store.get_seq(project),
        )
        await self._outbound.save_webhook(webhook)
        return WebhookCreated(webhook=webhook, secret=webhook_secret(self._key_secret, webhook.id))

    async def list(self, project: str) -> list[Webhook]:
        return sorted(await self._outbound.list_webhooks(project), key=lambda w: w.created_at)

    async def get(self, project: str, webhook_id: str) -> Webhook:
        if not is_webhook_id(webhook_id):
            raise _missing(project, webhook_id)
        return await self._outbound.get_webhook(project, webhook_id)

    async def delete(self, project: str, webhook_id: str) -> None:
        if not is_webhook_id(webhook_id):
            raise _missing(project, webhook_id)
        await self._outbound.delete_webhook(project, webhook_id)

    async def deliveries(
        self, project: str, webhook_id: str, *, limit: int = 50, before: int | None = None
    ) -> Page[Delivery]:
        """The webhook's delivery log, newest event first."""
        await self.get(project, webhook_id)
        return await self._outbound.list_deliveries(project, webhook_id, limit=limit, before=before)


def _missing(project: str, webhook_id: str) -> NotFound:
    return NotFound(
        f"webhook {webhook_id[:40]!r} not found in project {project!r}",
        entity="webhook",
        key=webhook_id[:40],
    )
