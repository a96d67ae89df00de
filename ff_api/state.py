"""What the lifespan builds and every handler uses."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from ff_api.auth import KeyAuthenticator
from ff_api.bulk import BulkAnswers
from ff_api.hub import Hub
from ff_api.metrics import Metrics
from ff_api.settings import ApiSettings
from ff_api.snapshots import Snapshots
from ff_api.usage import UsageRecorder
from ff_core.services import Services
from ff_core.store import Store


@dataclass
class ApiState:
    settings: ApiSettings
    store: Store
    services: Services
    snapshots: Snapshots
    auth: KeyAuthenticator
    hub: Hub
    # The deployment's secret: key hashes, and (derived per purpose) signed tokens.
    secret: bytes
    usage: UsageRecorder
    metrics: Metrics
    # OFREP bulk answers kept per environment snapshot and context.
    bulk: BulkAnswers = field(default_factory=BulkAnswers)


def state_of(request: Request) -> ApiState:
    state: ApiState = request.app.state.ff
    return state
