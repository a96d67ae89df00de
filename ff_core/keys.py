"""API keys: generated here, shown once, stored only as an HMAC-SHA256 and a short prefix."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from ff_core.models import KeyKind

_PREFIXES = {KeyKind.SERVER: "ffs_", KeyKind.CLIENT: "ffc_", KeyKind.ADMIN: "ffa_"}
DISPLAY_PREFIX_LENGTH = 12


def generate(kind: KeyKind) -> str:
    """A new raw key; its kind is readable from the prefix so a misplaced key is recognisable."""
    return _PREFIXES[kind] + secrets.token_urlsafe(32)


def digest(raw: str, secret: bytes) -> str:
    """What is stored and looked up: the raw key never is."""
    return hmac.new(secret, raw.encode(), hashlib.sha256).hexdigest()


def display_prefix(raw: str) -> str:
    return raw[:DISPLAY_PREFIX_LENGTH]


def looks_like_key(raw: str) -> bool:
    return any(raw.startswith(p) for p in _PREFIXES.values()) and len(raw) < 128
