"""The async SDK: local evaluation over a snapshot kept current by the API, DynamoDB or a file.

    from ff_core.client import FlagClient

    async with FlagClient(url="https://flags.example", server_key="ffs_...") as flags:
        if await flags.is_enabled("new-checkout", {"targeting_key": "user-1"}):
            ...

The OpenFeature provider is ``ff_core.client.provider.FlagProvider``.
"""

from ff_core.client.backoff import Backoff
from ff_core.client.client import FlagClient
from ff_core.client.details import Context, ContextLike, EvaluationDetails, Status
from ff_core.client.library import configure
from ff_core.client.options import ClientOptions
from ff_core.client.snapshot import Change, Snapshot
from ff_core.client.sources import Feed, Rejected, Source
from ff_core.evaluation import ErrorCode, Reason

__all__ = [
    "Backoff",
    "Change",
    "ClientOptions",
    "Context",
    "ContextLike",
    "ErrorCode",
    "EvaluationDetails",
    "Feed",
    "FlagClient",
    "Reason",
    "Rejected",
    "Snapshot",
    "Source",
    "Status",
    "configure",
]
