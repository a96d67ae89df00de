"""The dashboard's settings: ff_core's plus where it listens and how people sign in."""

from __future__ import annotations

import ipaddress
from enum import StrEnum

from pydantic import Field, SecretStr, model_validator

from ff_core.settings import Settings


class AuthMode(StrEnum):
    DEV = "dev"  # one named local user, for the embedded default; loopback only
    OIDC = "oidc"  # OpenID Connect (Google or any issuer)


class AdminSettings(Settings):
    auth: AuthMode = AuthMode.DEV
    dev_user: str = Field(default="dev@localhost", pattern=r"^[^@\s]+@[^@\s]+$")
    oidc_issuer: str | None = None  # e.g. https://accounts.google.com
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    # Empty: any verified email may sign in (and then sees only projects it is a member of).
    allowed_domains: list[str] = Field(default_factory=list)
    admin_host: str = "127.0.0.1"
    admin_port: int = Field(default=3000, ge=1, le=65535)
    # Where browsers reach the dashboard: the OIDC redirect URI and invitation links.
    public_url: str = "http://127.0.0.1:3000"
    # Where services and browsers reach ff_api: shown in the quickstart snippets.
    api_url: str = "http://127.0.0.1:8080"
    session_ttl_s: int = Field(default=12 * 3600, ge=60, le=30 * 24 * 3600)
    # How often the dashboard reads the change counter of each project an open page shows:
    # a change made elsewhere reaches open pages within about this plus one reload.
    live_poll_s: float = Field(default=0.25, gt=0, le=60)

    @model_validator(mode="after")
    def _auth_complete(self) -> AdminSettings:
        if self.auth is AuthMode.OIDC:
            missing = [
                name
                for name in ("oidc_issuer", "oidc_client_id", "oidc_client_secret")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    f"FF_AUTH=oidc needs {', '.join('FF_' + m.upper() for m in missing)}"
                )
        return self

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or host name) only accepts local connections."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_dev_bind(settings: AdminSettings) -> None:
    """Dev sign-in logs anyone in as ``dev_user``: refuse to serve it beyond this machine."""
    if settings.auth is AuthMode.DEV and not is_loopback(settings.admin_host):
        raise ValueError(
            f"FF_AUTH=dev signs everyone in as {settings.dev_user}; it only runs bound to "
            f"loopback, not FF_ADMIN_HOST={settings.admin_host!r}. Configure OIDC "
            "(FF_AUTH=oidc, FF_OIDC_ISSUER, FF_OIDC_CLIENT_ID, FF_OIDC_CLIENT_SECRET) instead"
        )
