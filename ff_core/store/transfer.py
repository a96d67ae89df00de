"""Raw reads and writes of a whole project, for export and import (ff_core/transfer.py).

Only the DynamoDB store: the embedded store is moto's DynamoDB behind the same class, and
MemoryStore is a test double. Items are built by ``items.py``; this module only moves them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ff_core.errors import Throttled, VersionConflict
from ff_core.models import EntityKind, HistoryEntry, Project
from ff_core.store import items as it
from ff_core.store.dynamodb import DynamoStore, translate
from ff_core.store.protocol import Entity

# BatchWriteItem takes at most 25 puts a call.
BATCH = 25
# Unprocessed items (throttling) are retried this many rounds, backing off, before giving up.
_BATCH_ROUNDS = 8
# Reading a project whose counter moves meanwhile is retried; a busy project may need a few.
_READ_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class StoredProject:
    """A project's partition as one consistent read saw it: ``seq`` None when no counter is
    stored (a project that was never written)."""

    meta: Project | None
    entities: dict[tuple[EntityKind, str], Entity]
    seq: int | None

    @property
    def empty(self) -> bool:
        return self.meta is None and not self.entities and self.seq is None


async def _seq(store: DynamoStore, project: str) -> int | None:
    item = await store._get(it.project_pk(project), it.SEQ)
    return None if item is None else int(item["seq"]["N"])


async def read_project(store: DynamoStore, project: str) -> StoredProject:
    """Every item of ``PROJECT#<project>``, consistent with its counter.

    A partition larger than one Query page is read in several calls; the counter is read
    before and after, and every write moves it, so equal readings mean no write came between.
    """
    for _ in range(_READ_ATTEMPTS):
        before = await _seq(store, project)
        meta: Project | None = None
        entities: dict[tuple[EntityKind, str], Entity] = {}
        async for item in store._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": it.project_pk(project)}},
            ConsistentRead=True,
        ):
            if "kind" not in item:  # the counter
                continue
            entity = it.decode_entity(item)
            if isinstance(entity, Project):
                meta = entity
            else:
                entities[(EntityKind(item["kind"]["S"]), entity.key)] = entity
        if await _seq(store, project) == before:
            return StoredProject(meta, entities, before)
    raise Throttled(f"project {project!r} kept changing while it was read; retry")


async def read_history(store: DynamoStore, project: str) -> list[HistoryEntry]:
    """Every history entry of ``project``, deleted entities' included, oldest first.

    History lives in one partition per entity, and a deleted flag's is named nowhere else
    (the change log expires), so this is a Scan of the whole table: export and import are
    rare, and the Scan is paginated so it never holds more than one page of other items.
    """
    prefix = f"HISTORY#{project}#"
    entries: list[HistoryEntry] = []
    start: dict[str, Any] | None = None
    while True:
        args: dict[str, Any] = {
            "TableName": store.table,
            "FilterExpression": "begins_with(pk, :prefix)",
            "ExpressionAttributeValues": {":prefix": {"S": prefix}},
            "ConsistentRead": True,
        }
        if start is not None:
            args["ExclusiveStartKey"] = start
        response = await store._call(store._client.scan(**args))
        entries.extend(HistoryEntry.model_validate_json(i["doc"]["S"]) for i in response["Items"])
        start = response.get("LastEvaluatedKey")
        if start is None:
            return sorted(entries, key=lambda e: (e.seq, e.id))


async def put_items(
    store: DynamoStore, items: list[it.Item], done: Callable[[int], None] | None = None
) -> None:
    """Put ``items`` 25 a call (not one transaction: those hold 100 items). Puts overwrite,
    so running the same list again after a failure completes it. ``done(n)`` after each call."""
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        requests: Any = [{"PutRequest": {"Item": item}} for item in chunk]
        for round_ in range(_BATCH_ROUNDS):
            response = await store._call(
                store._client.batch_write_item(RequestItems={store.table: requests})
            )
            requests = response.get("UnprocessedItems", {}).get(store.table, [])
            if not requests:
                break
            await asyncio.sleep(min(0.05 * 2**round_, 2.0))
        else:
            raise Throttled("DynamoDB kept refusing the import's writes; run it again later")
        if done is not None:
            done(len(chunk))


def _put(table: str, item: it.Item, condition: dict[str, Any]) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": item} | condition}


def _new() -> dict[str, Any]:
    return {"ConditionExpression": "attribute_not_exists(pk)"}


def _equals(name: str, value: int | None) -> dict[str, Any]:
    if value is None:
        return _new()
    return {
        "ConditionExpression": "#a = :a",
        "ExpressionAttributeNames": {"#a": name},
        "ExpressionAttributeValues": {":a": {"N": str(value)}},
    }


async def finish(
    store: DynamoStore,
    project: str,
    *,
    meta: it.Item,
    meta_version: int | None,
    seq: it.Item,
    seq_before: int | None,
    new_items: list[it.Item],
    index: it.Item | None,
) -> None:
    """The last step of an import, in one transaction: the project's META and counter, on
    the condition that they are still what the import read (``None``: absent), with items that
    must be new (a change-log and a history entry). Until it commits the project is not
    loadable (no META) or unchanged."""
    table = store.table
    ops: Any = [
        _put(table, meta, _equals("version", meta_version)),
        _put(table, seq, _equals("seq", seq_before)),
        *(_put(table, item, _new()) for item in new_items),
    ]
    if index is not None:
        ops.append({"Put": {"TableName": table, "Item": index}})
    try:
        await store._client.transact_write_items(TransactItems=ops)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
            raise VersionConflict(
                f"project {project!r} was changed by someone else during the import "
                "(its settings or change counter moved); run the import again",
                expected=seq_before or 0,
                current=await _seq(store, project),
            ) from exc
        raise translate(exc, table) from exc
    except BotoCoreError as exc:
        raise translate(exc, table) from exc
