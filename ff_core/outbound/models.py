"""Webhooks, the events they receive, and the delivery log (docs/WEBHOOKS.md)."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import Field

from ff_core.errors import InvalidDefinition
from ff_core.models import Actor, ChangeEntry, EntityKind, HistoryEntry, Model

WEBHOOK_ID_PATTERN = r"^wh_[a-z0-9]{16}$"
MAX_URL_LENGTH = 2_048
MAX_WEBHOOKS_PER_PROJECT = 50
# The delivery log of the SQS sink sits beside the webhooks' under this target name.
SQS_TARGET = "sqs"
_WEBHOOK_ID = re.compile(WEBHOOK_ID_PATTERN)


def event_id(project: str, seq: int) -> str:
    """Stable across retries, replicas and sinks: what consumers de-duplicate by."""
    return f"{project}:{seq}"


def is_webhook_id(raw: str) -> bool:
    return _WEBHOOK_ID.match(raw) is not None


def webhook_url(raw: str) -> str:
    """``raw`` if it is an absolute http(s) URL without credentials; else InvalidDefinition
    naming what is wrong (credentials in a URL would be stored and shown in clear: the
    signature is the receiver's proof of origin)."""
    if not raw or len(raw) > MAX_URL_LENGTH:
        raise InvalidDefinition(
            f"url: 1 to {MAX_URL_LENGTH} characters", field="url", limit=MAX_URL_LENGTH
        )
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 (parses the port: ValueError when out of range)
    except ValueError:
        raise InvalidDefinition(f"url: {raw[:100]!r} is not a URL", field="url") from None
    # Before any message quotes the URL back.
    if parts.username is not None or parts.password is not None:
        raise InvalidDefinition(
            "url: credentials in the URL are refused; verify the FF-Signature header instead",
            field="url",
        )
    if parts.scheme not in ("http", "https"):
        raise InvalidDefinition(
            f"url: only http:// and https:// URLs can receive webhooks, not {raw[:100]!r}",
            field="url",
        )
    if not parts.hostname:
        raise InvalidDefinition(f"url: {raw[:100]!r} names no host", field="url")
    if any(c.isspace() for c in raw):
        raise InvalidDefinition("url: must not contain spaces", field="url")
    return raw


class Webhook(Model):
    id: str = Field(pattern=WEBHOOK_ID_PATTERN)
    project: str
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    # Entity kinds whose changes are sent; empty: every change.
    events: tuple[EntityKind, ...] = ()
    enabled: bool = True
    created_at: datetime
    # The project's change sequence when it was created: it receives the changes after it.
    start_seq: int = Field(ge=0)

    def wants(self, change: ChangeEntry) -> bool:
        return (
            self.enabled
            and change.seq > self.start_seq
            and (not self.events or change.entity in self.events)
        )


class EventActor(Model):
    kind: str
    subject: str
    name: str | None = None


class Event(Model):
    """The JSON body of one outbound event: a change-log entry plus, when its history entry
    is found, who did it and how."""

    id: str
    project: str
    seq: int
    entity: EntityKind
    key: str
    change: str
    environments: tuple[str, ...] = ()
    version: int
    at: datetime
    action: str | None = None
    actor: EventActor | None = None
    note: str | None = None

    @classmethod
    def of(cls, change: ChangeEntry, history: HistoryEntry | None) -> Event:
        actor: Actor | None = history.actor if history is not None else None
        return cls(
            id=event_id(change.project, change.seq),
            project=change.project,
            seq=change.seq,
            entity=change.entity,
            key=change.key,
            change=change.change.value,
            environments=change.environments,
            version=change.version,
            at=change.at,
            action=history.action.value if history is not None else None,
            actor=None
            if actor is None
            else EventActor(kind=actor.kind.value, subject=actor.subject, name=actor.name),
            note=(history.note or None) if history is not None else None,
        )

    def body(self) -> bytes:
        """The bytes sent and signed (consumers verify these bytes, not a re-encoding)."""
        return self.model_dump_json().encode()


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Attempt(Model):
    at: datetime
    # The receiver's HTTP status, or None when no answer came (error says why).
    status_code: int | None = None
    error: str | None = None


class Delivery(Model):
    """One event to one target (a webhook id, or ``sqs``): the delivery log's entry."""

    target: str
    event_id: str
    seq: int
    entity: EntityKind
    key: str
    status: DeliveryStatus
    attempts: int = 0
    tries: tuple[Attempt, ...] = ()
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    created_at: datetime


# -- API and CLI bodies ---------------------------------------------------------------------


class WebhookCreate(Model):
    # Checked by ``webhook_url`` (http or https, a host, no credentials), not here: a bad
    # URL is a 400 that says what is wrong with it.
    url: str
    events: tuple[EntityKind, ...] = ()
    enabled: bool = True


class WebhookCreated(Model):
    webhook: Webhook
    # Shown once: the key receivers verify FF-Signature with (docs/WEBHOOKS.md).
    secret: str


class WebhookList(Model):
    items: list[Webhook]


class DeliveryPage(Model):
    items: list[Delivery]
    # Pass back as ``before`` for the next (older) page; None on the last page.
    next_cursor: str | None = None
