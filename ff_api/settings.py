"""The API's settings: ff_core's plus where it listens, CORS and how often it polls."""

from __future__ import annotations

from pydantic import Field, SecretStr

from ff_core.settings import Settings


class ApiSettings(Settings):
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    # Worker processes of one replica (each keeps its own snapshots and follows the log).
    api_workers: int = Field(default=1, ge=1, le=64)
    # Origins allowed to call the evaluation and browser-stream routes (never with credentials).
    cors_origins: list[str] = Field(default_factory=list)
    # How often each replica reads the change log: bounds cross-replica propagation.
    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    max_body_bytes: int = Field(default=65_536, ge=1_024, le=4_194_304)
    # Management writes carry whole flags (each up to 150,000 bytes serialised).
    max_management_body_bytes: int = Field(default=262_144, ge=16_384, le=4_194_304)
    max_context_bytes: int = Field(default=32_768, ge=256, le=1_048_576)
    # Keep-alive comments on event streams, and each subscriber's queue bound.
    sse_ping_s: float = Field(default=15.0, gt=0, le=300)
    subscriber_queue_size: int = Field(default=256, ge=1, le=100_000)
    # Evaluation counts are written to the store this often (one update per flag); 0: never.
    usage_flush_s: float = Field(default=60.0, ge=0, le=3_600)
    # When set, GET /metrics needs 'Authorization: Bearer <token>'; unset, it is open.
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    # Requests per second per API key, stream token or session, per replica (ff_api/
    # ratelimit.py); up to rate_limit_burst at once after a quiet spell. 0: no limit.
    rate_limit_per_key_rps: float = Field(default=1_000.0, ge=0, le=1_000_000)
    rate_limit_burst: int = Field(default=2_000, ge=1, le=10_000_000)
