"""Settings from ``FF_*`` environment variables, validated at start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, StringConstraints
from pydantic_settings import BaseSettings, SettingsConfigDict

from ff_core import limits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FF_", extra="ignore", frozen=True)

    table: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{3,255}$")] = "ff-flags"
    # No endpoint and no region set: the embedded DynamoDB (moto's server on loopback).
    dynamodb_endpoint: str | None = None
    region: str = "us-east-1"
    data_dir: Path = Path(".ff-data")
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
