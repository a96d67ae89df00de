"""API keys and invitation tokens: generated here, shown once, stored only as an HMAC-SHA256
(and, for a key, a short prefix)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from ff_core.errors import InvalidDefinition
from ff_core.models import KeyKind
from ff_core.settings import Settings

_PREFIXES = {KeyKind.SERVER: "ffs_", KeyKind.CLIENT: "ffc_", KeyKind.ADMIN: "ffa_"}
INVITATION_PREFIX = "ffi_"
DISPLAY_PREFIX_LENGTH = 12


def generate(kind: KeyKind) -> str:
    """A new raw key; its kind is readable from the prefix so a misplaced key is recognisable."""
    return _PREFIXES[kind] + secrets.token_urlsafe(32)


def generate_invitation_token() -> str:
    """A new raw invitation token: hashed like a key, but never accepted as one."""
    return INVITATION_PREFIX + secrets.token_urlsafe(32)


def looks_like_invitation_token(raw: str) -> bool:
    return raw.startswith(INVITATION_PREFIX) and len(raw) < 128


def digest(raw: str, secret: bytes) -> str:
    """What is stored and looked up: the raw key never is."""
    return hmac.new(secret, raw.encode(), hashlib.sha256).hexdigest()


def display_prefix(raw: str) -> str:
    return raw[:DISPLAY_PREFIX_LENGTH]


def looks_like_key(raw: str) -> bool:
    return any(raw.startswith(p) for p in _PREFIXES.values()) and len(raw) < 128


def load_secret(settings: Settings) -> bytes:
    """The HMAC secret for key hashes: FF_KEY_SECRET, or the embedded store's own."""
    if settings.key_secret is not None:
        return settings.key_secret.get_secret_value().encode()
    if not settings.embedded:
        raise InvalidDefinition(
            "FF_KEY_SECRET (at least 32 characters) is required with a real DynamoDB: "
            "every replica must hash API keys with the same secret",
            field="key_secret",
        )
    path = settings.data_dir / "key-secret"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_bytes().strip()
