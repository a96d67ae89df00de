"""Opening the store that the settings describe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ff_core.embedded import CREDENTIALS, running_endpoint
from ff_core.errors import StoreUnavailable
from ff_core.settings import Settings
from ff_core.store import DynamoStore


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[DynamoStore]:
    """The configured DynamoDB, or the embedded one that `ff serve` is running."""
    if not settings.embedded:
        async with DynamoStore.open(settings) as store:
            yield store
        return
    endpoint = running_endpoint(settings.data_dir)
    if endpoint is None:
        raise StoreUnavailable(
            f"no DynamoDB configured and no embedded one running for {settings.data_dir}: "
            "start it with `ff serve`, or set FF_DYNAMODB_ENDPOINT or FF_REGION"
        )
    local = settings.model_copy(update={"dynamodb_endpoint": endpoint})
    async with DynamoStore.open(local, credentials=CREDENTIALS) as store:
        yield store
