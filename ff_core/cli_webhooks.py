"""``ff webhooks ...``: outbound change events to HTTP receivers (docs/WEBHOOKS.md).

The secret is printed by ``create`` only; it is derived from FF_KEY_SECRET, never stored.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ff_core import keys
from ff_core.cli_support import JsonOpt, ProjectOpt, _print, _run
from ff_core.errors import StoreUnavailable
from ff_core.models import EntityKind
from ff_core.outbound import Delivery, Webhook, WebhookCreate, WebhookCreated, WebhookService
from ff_core.services import Services
from ff_core.settings import Settings
from ff_core.store import DynamoStore, Page

app = typer.Typer(
    help="Webhooks: signed HTTP POSTs of every change, retried (docs/WEBHOOKS.md).",
    no_args_is_help=True,
)


def _service(services: Services, settings: Settings) -> WebhookService:
    if not isinstance(services.store, DynamoStore):
        raise StoreUnavailable("webhooks need the DynamoDB store")
    return WebhookService(
        services.store, keys.load_secret(settings), log_ttl_days=settings.webhook_log_ttl_days
    )


@app.command("create")
def create(
    url: str,
    project: ProjectOpt = None,
    events: Annotated[
        list[EntityKind] | None,
        typer.Option("--events", help="Only changes of these kinds (repeat); default: all"),
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it switched off")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a webhook for the project's changes from now on; prints its secret once."""

    async def work(services: Services, settings: Settings) -> WebhookCreated:
        request = WebhookCreate(url=url, events=tuple(events or ()), enabled=not disabled)
        return await _service(services, settings).create(
            project or settings.default_project, request
        )

    created = _run(work)
    if as_json:
        _print(created.model_dump(mode="json"), True)
        return
    typer.echo(f"created {created.webhook.id} -> {created.webhook.url}")
    typer.echo(f"secret: {created.secret}")
    typer.echo("(shown once: receivers verify FF-Signature with it; see docs/WEBHOOKS.md)")


@app.command("list")
def list_webhooks(project: ProjectOpt = None, as_json: JsonOpt = False) -> None:
    """The project's webhooks (never their secrets)."""

    async def work(services: Services, settings: Settings) -> list[Webhook]:
        return await _service(services, settings).list(project or settings.default_project)

    found = _run(work)
    rows = [["ID", "URL", "EVENTS", "ENABLED", "CREATED"]] + [
        [
            w.id,
            w.url,
            ",".join(e.value for e in w.events) or "all",
            "yes" if w.enabled else "no",
            w.created_at.isoformat(timespec="seconds"),
        ]
        for w in found
    ]
    _print([w.model_dump(mode="json") for w in found], as_json, rows)


@app.command("delete")
def delete(webhook_id: str, project: ProjectOpt = None) -> None:
    """Delete a webhook; its pending deliveries are dropped."""

    async def work(services: Services, settings: Settings) -> None:
        await _service(services, settings).delete(project or settings.default_project, webhook_id)

    _run(work)
    typer.echo(f"deleted {webhook_id}")


@app.command("deliveries")
def deliveries(
    webhook_id: str,
    project: ProjectOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="Entries per page")] = 50,
    before: Annotated[
        int | None, typer.Option(help="The next page: the cursor printed last time")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A webhook's delivery log, newest event first."""

    async def work(services: Services, settings: Settings) -> Page[Delivery]:
        return await _service(services, settings).deliveries(
            project or settings.default_project, webhook_id, limit=limit, before=before
        )

    page = _run(work)
    rows = [["EVENT", "STATUS", "ATTEMPTS", "LAST", "DELIVERED / NEXT"]] + [
        [
            d.event_id,
            d.status.value,
            str(d.attempts),
            d.last_error or (str(d.last_status_code) if d.last_status_code else ""),
            (d.delivered_at or d.next_attempt_at or d.created_at).isoformat(timespec="seconds"),
        ]
        for d in page.items
    ]
    data = {"items": [d.model_dump(mode="json") for d in page.items], "next": page.next_cursor}
    _print(data, as_json, rows)
    if not as_json and page.next_cursor:
        typer.echo(f"more: --before {page.next_cursor}", err=True)
