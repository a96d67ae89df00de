"""Settings from ``FF_*`` environment variables, validated at start."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import Field, SecretStr, StringConstraints, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ff_core import limits
from ff_core.validation import field_errors

S = TypeVar("S", bound=BaseSettings)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FF_", extra="ignore", frozen=True)

    table: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{3,255}$")] = "ff-flags"
    # Neither endpoint nor region set: the embedded DynamoDB (moto's server on loopback,
    # started by `ff serve`). A region alone means real DynamoDB in that region.
    dynamodb_endpoint: str | None = None
    region: str | None = None
    data_dir: Path = Path(".ff-data")
    embedded_port: int = Field(default=4567, ge=0, le=65535)
    default_project: Annotated[str, StringConstraints(pattern=limits.PROJECT_KEY_PATTERN)] = (
        "default"
    )
    environment: Annotated[str, StringConstraints(pattern=limits.ENVIRONMENT_KEY_PATTERN)] = (
        "development"
    )
    # botocore waits 60 s by default; a flag store must fail fast instead.
    connect_timeout_s: float = Field(default=2.0, gt=0, le=60)
    read_timeout_s: float = Field(default=5.0, gt=0, le=60)
    max_attempts: int = Field(default=3, ge=1, le=10)
    change_log_ttl_days: int = Field(default=7, ge=1, le=365)
    idempotency_ttl_hours: int = Field(default=24, ge=1, le=24 * 30)
    # Keys are stored as HMAC-SHA256(key_secret, raw key). Required with a real DynamoDB;
    # the embedded store keeps a generated one in its data directory.
    key_secret: SecretStr | None = Field(default=None, min_length=32)
    # Outbound change events (ff_core/outbound, docs/WEBHOOKS.md): run by `ff api`.
    outbound_enabled: bool = True
    outbound_poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    outbound_sqs_queue_url: str | None = None
    outbound_sqs_endpoint: str | None = None
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_backoff_initial_s: float = Field(default=30.0, gt=0, le=3_600)
    webhook_backoff_max_s: float = Field(default=1_800.0, gt=0, le=86_400)
    # A claimed delivery not settled within this is taken over (its replica died); keep it
    # above FF_WEBHOOK_TIMEOUT_S.
    webhook_lease_s: float = Field(default=60.0, gt=0, le=3_600)
    webhook_concurrency: int = Field(default=8, ge=1, le=256)
    webhook_log_ttl_days: int = Field(default=7, ge=1, le=365)

    @property
    def embedded(self) -> bool:
        return self.dynamodb_endpoint is None and self.region is None


def read_settings(model: type[S]) -> S | None:
    """``model()`` from the ``FF_*`` variables, or None after printing one line per invalid
    variable to stderr (never a traceback, never the value: it may be a secret)."""
    try:
        return model()
    except ValidationError as exc:
        for error in field_errors(exc):
            message = error["message"].removeprefix("Value error, ")
            if error["field"] == "(body)":  # a rule across several variables
                print(f"error: {message}", file=sys.stderr)
            else:
                print(f"error: FF_{error['field'].upper()}: {message}", file=sys.stderr)
        return None
