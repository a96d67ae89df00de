"""Outbound change events: signed webhooks with retries and a delivery log, and an SQS
sink; at least once, each event with a stable id (docs/WEBHOOKS.md)."""

from ff_core.outbound.dispatcher import Dispatcher
from ff_core.outbound.models import (
    Attempt,
    Delivery,
    DeliveryPage,
    DeliveryStatus,
    Event,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    event_id,
)
from ff_core.outbound.runner import start_outbound
from ff_core.outbound.service import WebhookService
from ff_core.outbound.signing import sign, verify, webhook_secret
from ff_core.outbound.sqs import SqsSink
from ff_core.outbound.store import OutboundStore

__all__ = [
    "Attempt",
    "Delivery",
    "DeliveryPage",
    "DeliveryStatus",
    "Dispatcher",
    "Event",
    "OutboundStore",
    "SqsSink",
    "Webhook",
    "WebhookCreate",
    "WebhookCreated",
    "WebhookList",
    "WebhookService",
    "event_id",
    "sign",
    "start_outbound",
    "verify",
    "webhook_secret",
]
