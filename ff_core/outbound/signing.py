"""Webhook signatures: ``FF-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The HMAC is over ``<t>.<body>`` with the webhook's secret, so a receiver can tell the
body came from ff and was not changed, and refuse an old request replayed later (the
timestamp is signed too). Receivers may import :func:`verify`, or copy the stdlib-only
snippet in docs/WEBHOOKS.md.

The secret is never stored: it is derived as HMAC-SHA256(FF_KEY_SECRET, webhook id), so
every replica can sign, the table holds nothing a reader could sign with, and it is shown
once, at creation. Changing FF_KEY_SECRET changes every webhook's secret (as it voids
every API key); to rotate one webhook's secret, create a new webhook and delete the old.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

SIGNATURE_HEADER = "FF-Signature"
EVENT_ID_HEADER = "FF-Event-Id"
ATTEMPT_HEADER = "FF-Delivery-Attempt"
SECRET_PREFIX = "whsec_"
# How old (or how far in the future) a signed timestamp may be.
DEFAULT_TOLERANCE_S = 300


def webhook_secret(key_secret: bytes, webhook_id: str) -> str:
    digest = hmac.new(key_secret, f"ff-webhook:{webhook_id}".encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``FF-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs exactly ``body`` with ``secret`` within ``tolerance_s``."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp).partition(",v1=")[2]
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))
