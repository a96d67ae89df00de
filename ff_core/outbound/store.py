"""Webhooks, the dispatch cursor and the delivery log, in the store's single table.

| pk                        | sk                    | item                                        |
|---------------------------|-----------------------|---------------------------------------------|
| WEBHOOKS#<p>              | <webhook id>          | webhook (JSON ``doc``)                      |
| OUTBOUND                  | <p>                   | a project that has (or had) webhooks        |
| OUTBOX#<p>                | CURSOR                | seq up to which events were enqueued        |
| PENDING#<p>               | <target>#<seq:012d>   | a delivery to make: body, tries, due, lease |
| DELIVERIES#<p>#<target>   | <seq:012d>            | the delivery log entry, TTL                 |

None of these is under ``PROJECT#<p>``: ``load_project`` reads that partition whole. The
pending items are the work queue (small: removed once delivered or given up), so each
round reads them, never the whole log. A delivery changes both items in one transaction.

Claims (several replicas, one delivery): a replica claims a due pending item with a
conditional update (its lease has run out), sends, then settles it on condition that it
still holds the claim. A replica that died mid-send loses its claim when the lease runs
out, and another sends again: at least once, and the event id lets receivers notice.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from ff_core.errors import NotFound
from ff_core.models import EntityKind
from ff_core.outbound.models import Attempt, Delivery, DeliveryStatus, Event, Webhook
from ff_core.store import DynamoStore, Page
from ff_core.store.dynamodb import translate

T = TypeVar("T")
Item = dict[str, Any]
_INDEX_PK = "OUTBOUND"
_CURSOR = "CURSOR"


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _seq_sk(seq: int) -> str:
    return f"{seq:012d}"


@dataclass(frozen=True, slots=True)
class Pending:
    """A delivery to make, as claimed by this replica."""

    project: str
    target: str
    seq: int
    body: bytes
    attempts: int
    owner: str


class OutboundStore:
    def __init__(self, store: DynamoStore, *, log_ttl_days: int = 7) -> None:
        self._client = store._client
        self._table = store._table
        self._ttl_s = log_ttl_days * 86_400

    async def _call(self, operation: Awaitable[T]) -> T:
        try:
            return await operation
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, self._table) from exc

    async def _conditional(self, operation: Awaitable[Any]) -> bool:
        """False when a condition failed (someone else got there first)."""
        try:
            await operation
            return True
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                return False
            raise translate(exc, self._table) from exc
        except BotoCoreError as exc:
            raise translate(exc, self._table) from exc

    async def _query(self, **kwargs: Any) -> list[Item]:
        items: list[Item] = []
        start: Item | None = None
        while True:
            args = dict(kwargs, TableName=self._table, ConsistentRead=True)
            if start is not None:
                args["ExclusiveStartKey"] = start
            response = await self._call(self._client.query(**args))
            items.extend(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if start is None:
                return items

    # -- webhooks ----------------------------------------------------------------------------

    async def save_webhook(self, webhook: Webhook) -> None:
        await self._call(
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": {"S": f"WEBHOOKS#{webhook.project}"},
                                "sk": {"S": webhook.id},
                                "doc": {"S": webhook.model_dump_json()},
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {"pk": {"S": _INDEX_PK}, "sk": {"S": webhook.project}},
                        }
                    },
                ]
            )
        )

    async def list_webhooks(self, project: str) -> list[Webhook]:
        items = await self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"WEBHOOKS#{project}"}},
        )
        return [Webhook.model_validate_json(item["doc"]["S"]) for item in items]

    async def get_webhook(self, project: str, webhook_id: str) -> Webhook:
        response = await self._call(
            self._client.get_item(
                TableName=self._table,
                Key={"pk": {"S": f"WEBHOOKS#{project}"}, "sk": {"S": webhook_id}},
                ConsistentRead=True,
            )
        )
        item = response.get("Item")
        if item is None:
            raise NotFound(
                f"webhook {webhook_id!r} not found in project {project!r}",
                entity="webhook",
                key=webhook_id,
            )
        return Webhook.model_validate_json(item["doc"]["S"])

    async def delete_webhook(self, project: str, webhook_id: str) -> None:
        """Its pending deliveries are dropped by the dispatcher; its log expires."""
        deleted = await self._conditional(
            self._client.delete_item(
                TableName=self._table,
                Key={"pk": {"S": f"WEBHOOKS#{project}"}, "sk": {"S": webhook_id}},
                ConditionExpression="attribute_exists(pk)",
            )
        )
        if not deleted:
            raise NotFound(
                f"webhook {webhook_id!r} not found in project {project!r}",
                entity="webhook",
                key=webhook_id,
            )

    async def outbound_projects(self) -> list[str]:
        """Projects that have (or had) webhooks: the ones the dispatcher follows."""
        return await self.partition_keys(_INDEX_PK)

    async def partition_keys(self, pk: str) -> list[str]:
        """The sort keys of partition ``pk`` (``PROJECTS``: every project)."""
        items = await self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ProjectionExpression="sk",
        )
        return [item["sk"]["S"] for item in items]

    # -- the dispatch cursor -------------------------------------------------------------------

    async def get_cursor(self, project: str) -> int | None:
        response = await self._call(
            self._client.get_item(
                TableName=self._table,
                Key={"pk": {"S": f"OUTBOX#{project}"}, "sk": {"S": _CURSOR}},
                ConsistentRead=True,
            )
        )
        item = response.get("Item")
        return None if item is None else int(item["seq"]["N"])

    async def move_cursor(self, project: str, old: int | None, new: int) -> bool:
        """Move it from ``old`` (None: no cursor yet) to ``new``; False if another replica
        moved it meanwhile."""
        if old is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "#s = :old",
                "ExpressionAttributeNames": {"#s": "seq"},
                "ExpressionAttributeValues": {":old": {"N": str(old)}},
            }
        return await self._conditional(
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"OUTBOX#{project}"},
                    "sk": {"S": _CURSOR},
                    "seq": {"N": str(new)},
                },
                **condition,
            )
        )

    # -- deliveries ----------------------------------------------------------------------------

    async def enqueue(self, target: str, event: Event, now: datetime) -> bool:
        """The log entry and the pending item of ``event`` to ``target``; False when they
        exist already (another replica enqueued it)."""
        project = event.project
        ttl = {"N": str(int(now.timestamp()) + self._ttl_s)}
        log = {
            "pk": {"S": f"DELIVERIES#{project}#{target}"},
            "sk": {"S": _seq_sk(event.seq)},
            "target": {"S": target},
            "event_id": {"S": event.id},
            "seq": {"N": str(event.seq)},
            "entity": {"S": event.entity.value},
            "key": {"S": event.key},
            "status": {"S": DeliveryStatus.PENDING.value},
            "attempts": {"N": "0"},
            "tries": {"L": []},
            "next_attempt_at": {"S": now.isoformat()},
            "created_at": {"S": now.isoformat()},
            "ttl": ttl,
        }
        pending = {
            "pk": {"S": f"PENDING#{project}"},
            "sk": {"S": f"{target}#{_seq_sk(event.seq)}"},
            "body": {"B": event.body()},
            "attempts": {"N": "0"},
            "due": {"N": str(_ms(now))},
            "lease": {"N": "0"},
            "owner": {"S": ""},
            "ttl": ttl,
        }
        new_only: Item = {"ConditionExpression": "attribute_not_exists(pk)"}
        ops: list[Any] = [
            {"Put": {"TableName": self._table, "Item": log} | new_only},
            {"Put": {"TableName": self._table, "Item": pending} | new_only},
        ]
        return await self._conditional(self._client.transact_write_items(TransactItems=ops))

    async def due(self, project: str, now: datetime) -> list[tuple[str, int]]:
        """(target, seq) of the pending deliveries due now and not claimed, shuffled so that
        replicas rarely reach for the same one at the same moment."""
        items = await self._query(
            KeyConditionExpression="pk = :pk",
            FilterExpression="#due <= :now AND #lease < :now",
            ExpressionAttributeNames={"#due": "due", "#lease": "lease"},
            ExpressionAttributeValues={
                ":pk": {"S": f"PENDING#{project}"},
                ":now": {"N": str(_ms(now))},
            },
        )
        found = []
        for item in items:
            target, _, seq = item["sk"]["S"].rpartition("#")
            found.append((target, int(seq)))
        random.shuffle(found)
        return found

    async def claim(
        self, project: str, target: str, seq: int, owner: str, now: datetime, lease_s: float
    ) -> Pending | None:
        """Take the delivery for ``lease_s`` and count the attempt; None when it is not due,
        claimed by another replica, or gone."""
        key = {"pk": {"S": f"PENDING#{project}"}, "sk": {"S": f"{target}#{_seq_sk(seq)}"}}
        try:
            response = await self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET #lease = :until, #owner = :me ADD attempts :one",
                ConditionExpression="attribute_exists(pk) AND #due <= :now AND #lease < :now",
                ExpressionAttributeNames={"#lease": "lease", "#owner": "owner", "#due": "due"},
                ExpressionAttributeValues={
                    ":until": {"N": str(_ms(now) + int(lease_s * 1000))},
                    ":me": {"S": owner},
                    ":one": {"N": "1"},
                    ":now": {"N": str(_ms(now))},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise translate(exc, self._table) from exc
        except BotoCoreError as exc:
            raise translate(exc, self._table) from exc
        claimed = response["Attributes"]
        # Read back: a store whose conditional writes are not atomic under concurrent
        # requests (moto's) may let two claims through; the later write wins the item, and
        # only its owner sends.
        check = await self._call(
            self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        )
        current = check.get("Item")
        if current is None or current["owner"]["S"] != owner:
            return None
        return Pending(
            project=project,
            target=target,
            seq=seq,
            body=bytes(claimed["body"]["B"]),
            attempts=int(claimed["attempts"]["N"]),
            owner=owner,
        )

    async def settle(
        self,
        pending: Pending,
        attempt: Attempt,
        status: DeliveryStatus,
        retry_at: datetime | None = None,
    ) -> bool:
        """Record ``attempt``: delivered or failed for good (the pending item goes), or
        pending again from ``retry_at``. False when this replica no longer held the claim."""
        project, target, seq = pending.project, pending.target, pending.seq
        pending_key = {"pk": {"S": f"PENDING#{project}"}, "sk": {"S": f"{target}#{_seq_sk(seq)}"}}
        held: Item = {
            "ConditionExpression": "#owner = :me AND attempts = :n",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {
                ":me": {"S": pending.owner},
                ":n": {"N": str(pending.attempts)},
            },
        }
        if status is DeliveryStatus.PENDING:
            assert retry_at is not None
            held["ExpressionAttributeNames"] |= {"#due": "due", "#lease": "lease"}
            held["ExpressionAttributeValues"] |= {
                ":due": {"N": str(_ms(retry_at))},
                ":zero": {"N": "0"},
            }
            pending_op: Item = {
                "Update": {
                    "TableName": self._table,
                    "Key": pending_key,
                    "UpdateExpression": "SET #due = :due, #lease = :zero",
                }
                | held
            }
        else:
            pending_op = {"Delete": {"TableName": self._table, "Key": pending_key} | held}
        names = {"#status": "status", "#tries": "tries"}
        values: Item = {
            ":status": {"S": status.value},
            ":n": {"N": str(pending.attempts)},
            ":try": {"L": [{"M": _encode_attempt(attempt)}]},
        }
        sets = ["#status = :status", "attempts = :n", "#tries = list_append(#tries, :try)"]
        removes = []
        for name, value in (
            ("last_status_code", attempt.status_code),
            ("last_error", attempt.error),
        ):
            if value is None:
                removes.append(name)
            else:
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = {"N": str(value)} if isinstance(value, int) else {"S": value}
        if status is DeliveryStatus.DELIVERED:
            sets.append("delivered_at = :at")
            values[":at"] = {"S": attempt.at.isoformat()}
        if retry_at is not None:
            sets.append("next_attempt_at = :next")
            values[":next"] = {"S": retry_at.isoformat()}
        else:
            removes.append("next_attempt_at")
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        log_op: Item = {
            "Update": {
                "TableName": self._table,
                "Key": {
                    "pk": {"S": f"DELIVERIES#{project}#{target}"},
                    "sk": {"S": _seq_sk(seq)},
                },
                "UpdateExpression": update,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }
        ops: list[Any] = [pending_op, log_op]
        return await self._conditional(self._client.transact_write_items(TransactItems=ops))

    async def drop(self, project: str, target: str, seq: int) -> None:
        """Forget a pending delivery whose target no longer exists."""
        await self._call(
            self._client.delete_item(
                TableName=self._table,
                Key={"pk": {"S": f"PENDING#{project}"}, "sk": {"S": f"{target}#{_seq_sk(seq)}"}},
            )
        )

    async def list_deliveries(
        self, project: str, target: str, *, limit: int = 50, before: int | None = None
    ) -> Page[Delivery]:
        """Newest first; ``before`` is the ``next_cursor`` of the previous page."""
        pk = f"DELIVERIES#{project}#{target}"
        args: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ScanIndexForward": False,
            "ConsistentRead": True,
            "Limit": limit + 1,
        }
        if before is not None:
            args["ExclusiveStartKey"] = {"pk": {"S": pk}, "sk": {"S": _seq_sk(before)}}
        response = await self._call(self._client.query(**args))
        found = [decode_delivery(item) for item in response.get("Items", [])]
        more = len(found) > limit
        items = found[:limit]
        return Page(items=items, next_cursor=str(items[-1].seq) if more else None)


def _encode_attempt(attempt: Attempt) -> Item:
    item: Item = {"at": {"S": attempt.at.isoformat()}}
    if attempt.status_code is not None:
        item["status_code"] = {"N": str(attempt.status_code)}
    if attempt.error is not None:
        item["error"] = {"S": attempt.error}
    return item


def _time(item: Item, name: str) -> datetime | None:
    value = item.get(name)
    return None if value is None else datetime.fromisoformat(value["S"]).astimezone(UTC)


def decode_delivery(item: Item) -> Delivery:
    tries = [
        Attempt(
            at=datetime.fromisoformat(t["M"]["at"]["S"]),
            status_code=int(t["M"]["status_code"]["N"]) if "status_code" in t["M"] else None,
            error=t["M"]["error"]["S"] if "error" in t["M"] else None,
        )
        for t in item.get("tries", {}).get("L", [])
    ]
    return Delivery(
        target=item["target"]["S"],
        event_id=item["event_id"]["S"],
        seq=int(item["seq"]["N"]),
        entity=EntityKind(item["entity"]["S"]),
        key=item["key"]["S"],
        status=DeliveryStatus(item["status"]["S"]),
        attempts=int(item["attempts"]["N"]),
        tries=tuple(tries),
        last_status_code=int(item["last_status_code"]["N"]) if "last_status_code" in item else None,
        last_error=item["last_error"]["S"] if "last_error" in item else None,
        next_attempt_at=_time(item, "next_attempt_at"),
        delivered_at=_time(item, "delivered_at"),
        created_at=_time(item, "created_at") or datetime.fromtimestamp(0, UTC),
    )
