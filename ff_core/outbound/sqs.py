"""The SQS sink: each event as one message, its id in the body and in a message attribute.

Standard queues deliver at least once (and so does the dispatcher), so consumers
de-duplicate by ``event_id``; a FIFO queue (URL ending in ``.fifo``) also gets the id as
``MessageDeduplicationId`` and the project as ``MessageGroupId``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aioboto3
from botocore.exceptions import BotoCoreError, ClientError

from ff_core.settings import Settings
from ff_core.store.dynamodb import client_config


class SqsSink:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self.queue_url = queue_url
        self._fifo = queue_url.endswith(".fifo")

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[SqsSink]:
        """A client with the store's timeouts and retries, the standard credential chain."""
        assert settings.outbound_sqs_queue_url is not None
        config = client_config(settings)
        session = aioboto3.Session()
        async with session.client(
            "sqs",
            endpoint_url=settings.outbound_sqs_endpoint,
            region_name=settings.region or "us-east-1",
            config=config,
        ) as client:
            yield cls(client, settings.outbound_sqs_queue_url)

    async def send(self, project: str, event_id: str, body: bytes) -> str | None:
        """None when SQS took the message; else why not (no secrets: an error code)."""
        extra: dict[str, Any] = {}
        if self._fifo:
            extra = {"MessageGroupId": project, "MessageDeduplicationId": event_id}
        try:
            await self._client.send_message(
                QueueUrl=self.queue_url,
                MessageBody=body.decode(),
                MessageAttributes={
                    "event_id": {"DataType": "String", "StringValue": event_id},
                    "project": {"DataType": "String", "StringValue": project},
                },
                **extra,
            )
        except ClientError as exc:
            return f"SQS refused the message ({exc.response.get('Error', {}).get('Code', '?')})"
        except BotoCoreError as exc:
            return f"SQS is unreachable ({type(exc).__name__})"
        return None
