"""The DynamoDB store (DESIGN 4): one table, every mutation one TransactWriteItems.

The only module that imports aioboto3. botocore errors become ff_core errors here.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError

from ff_core.errors import (
    AlreadyExists,
    FFError,
    NotFound,
    StoreError,
    StoreUnavailable,
    Throttled,
    VersionConflict,
)
from ff_core.models import (
    ApiKey,
    ChangeEntry,
    EntityKind,
    Flag,
    FlagUsage,
    HistoryEntry,
    Invitation,
    Member,
    Project,
    Segment,
    Tenant,
    UsageDelta,
)
from ff_core.settings import Settings
from ff_core.store import items as it
from ff_core.store.protocol import Committed, Page, ProjectState, Write

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

T = TypeVar("T")

_THROTTLED = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
    }
)
_UNAVAILABLE = frozenset({"InternalServerError", "ServiceUnavailable", "ResourceNotFoundException"})
_CHECK_FAILED = "ConditionalCheckFailed"
# Positions in the transaction, for reading CancellationReasons.
_ENTITY, _HISTORY, _CHANGE, _SEQ, _IDEMPOTENCY = range(5)
# Retries of a commit that lost the race for the project's change counter.
_SEQ_ATTEMPTS = 12
_RECORD_NAMES = {"api_key": "API key", "invitation": "invitation"}
# Usage items whose expired day counts are known, to be removed by their next update.
_EXPIRED_USAGE_LIMIT = 10_000


def translate(exc: ClientError | BotoCoreError, table: str) -> FFError:
    """One place where botocore's errors become ff's."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _THROTTLED:
            return Throttled(f"DynamoDB throttled the request ({code}); retry shortly")
        if code == "ResourceNotFoundException":
            return StoreUnavailable(f"table {table!r} does not exist; run `ff table create`")
        if code in _UNAVAILABLE:
            return StoreUnavailable(f"DynamoDB is unavailable ({code})")
        return StoreError(f"DynamoDB refused the request ({code})")
    return StoreUnavailable(f"DynamoDB is unreachable ({type(exc).__name__})")


def client_config(settings: Settings) -> AioConfig:
    """Explicit timeouts and botocore's standard retry mode (its defaults wait 60 s): for
    the store's client and every other AWS client ff opens (the SQS sink)."""
    return AioConfig(
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
    )


class DynamoStore:
    def __init__(self, client: DynamoDBClient, settings: Settings) -> None:
        self._client = client
        self._table = settings.table
        self.region = settings.region or "us-east-1"
        self._change_ttl_s = settings.change_log_ttl_days * 86_400
        self._idempotency_ttl_s = settings.idempotency_ttl_hours * 3_600
        # DynamoDB serialises conditional writes; moto does not reliably (ENVIRONMENT.md), and
        # within one process a lock also spares the commits a lost race for the counter.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # (project, flag) -> day counts its item holds beyond the window (from the last update).
        self._expired_usage: dict[tuple[str, str], frozenset[str]] = {}

    @property
    def table(self) -> str:
        return self._table

    @classmethod
    @asynccontextmanager
    async def open(
        cls, settings: Settings, *, credentials: tuple[str, str] | None = None
    ) -> AsyncIterator[DynamoStore]:
        config = client_config(settings)
        extra: dict[str, Any] = {}
        if credentials is not None:
            extra = {"aws_access_key_id": credentials[0], "aws_secret_access_key": credentials[1]}
        session = aioboto3.Session()
        async with session.client(
            "dynamodb",
            endpoint_url=settings.dynamodb_endpoint,
            region_name=settings.region or "us-east-1",
            config=config,
            **extra,
        ) as client:
            yield cls(client, settings)

    async def _call(self, operation: Awaitable[T]) -> T:
        try:
            return await operation
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, self._table) from exc

    # -- table -------------------------------------------------------------------------------

    async def ensure_table(self) -> None:
        """Create the table if it is missing; idempotent."""
        try:
            await self._client.describe_table(TableName=self._table)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise translate(exc, self._table) from exc
            await self._create_table()

    async def _create_table(self) -> None:
        try:
            await self._client.create_table(
                TableName=self._table,
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
        except ClientError as exc:
            # Another process created it between our describe and create.
            if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise translate(exc, self._table) from exc
        waiter = self._client.get_waiter("table_exists")
        await waiter.wait(TableName=self._table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        await self._call(
            self._client.update_time_to_live(
                TableName=self._table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
            )
        )

    # -- writes ------------------------------------------------------------------------------

    async def commit(self, write: Write) -> Committed:
        async with self._locks[write.project]:
            for attempt in range(_SEQ_ATTEMPTS):
                done = await self.replay(write.project, write.idempotency_key, write.fingerprint)
                if done is not None:
                    return done
                seq = await self.get_seq(write.project) + 1
                transaction, committed = self._transaction(write, seq)
                try:
                    await self._client.transact_write_items(TransactItems=transaction)
                    return committed
                except ClientError as exc:
                    await self._cancelled(exc, write, attempt)
                except BotoCoreError as exc:
                    # The response may have been lost after the commit: the next round reads
                    # the idempotency item and returns what was done, or writes it now.
                    if attempt >= 2:
                        raise translate(exc, self._table) from exc
                    await asyncio.sleep(0.05 * (attempt + 1))
            raise Throttled("too many concurrent writes to this project; retry shortly")

    async def _cancelled(self, exc: ClientError, write: Write, attempt: int) -> None:
        """Decide what a cancelled transaction means; returns to retry, raises otherwise."""
        error = exc.response.get("Error", {})
        if error.get("Code") != "TransactionCanceledException":
            raise translate(exc, self._table) from exc
        reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
        failed = {i for i, code in enumerate(reasons) if code == _CHECK_FAILED}
        if _IDEMPOTENCY in failed:
            return  # applied already: the next round replays its result
        if _ENTITY in failed:
            current = await self._current_version(write)
            raise VersionConflict(
                f"{write.entity.value} {write.key!r} changed meanwhile: expected version "
                f"{write.expected_version}, current version {current}",
                expected=write.expected_version or 0,
                current=current,
            )
        if failed or "TransactionConflict" in reasons or not reasons:
            # Lost the race for the change counter (or a conflicting transaction): retry.
            await asyncio.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
            return
        raise translate(exc, self._table) from exc

    def _transaction(self, write: Write, seq: int) -> tuple[list[Any], Committed]:
        table = self._table
        now = int(time.time())
        history = it.history_entry(write, seq)
        change = it.change_entry(write, seq, history.version)
        pk, sk = it.project_pk(write.project), it.entity_sk(write.entity, write.key)
        if write.expected_version is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": {"N": str(write.expected_version)}},
            }
        if write.new is None:
            entity_op = {
                "Delete": {"TableName": table, "Key": {"pk": {"S": pk}, "sk": {"S": sk}}}
                | condition
            }
        else:
            entity_op = {
                "Put": {
                    "TableName": table,
                    "Item": it.encode_entity(write.project, write.entity, write.new),
                }
                | condition
            }
        if seq == 1:
            seq_condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            seq_condition = {
                "ConditionExpression": "#s = :s",
                "ExpressionAttributeNames": {"#s": "seq"},
                "ExpressionAttributeValues": {":s": {"N": str(seq - 1)}},
            }
        new_only = {"ConditionExpression": "attribute_not_exists(pk)"}
        ops: list[Any] = [
            entity_op,
            {"Put": {"TableName": table, "Item": it.encode_history(history)} | new_only},
            {
                "Put": {
                    "TableName": table,
                    "Item": it.encode_change(change, now + self._change_ttl_s),
                }
                | new_only
            },
            {
                "Put": {"TableName": table, "Item": it.encode_seq(write.project, seq)}
                | seq_condition
            },
            {
                "Put": {
                    "TableName": table,
                    "Item": it.encode_idempotency(
                        write, seq, history.version, history.id, now + self._idempotency_ttl_s
                    ),
                }
                | new_only
            },
        ]
        if write.entity is EntityKind.PROJECT and write.expected_version is None:
            ops.append({"Put": {"TableName": table, "Item": it.encode_project_index(write.key)}})
        return ops, Committed(seq=seq, version=history.version, history_id=history.id)

    async def replay(
        self, project: str, idempotency_key: str, fingerprint: str
    ) -> Committed | None:
        """What an earlier write with this idempotency key did, or None if there was none."""
        item = await self._get(it.idempotency_pk(project, idempotency_key), it.META)
        return None if item is None else it.replayed(idempotency_key, fingerprint, item)

    async def _current_version(self, write: Write) -> int | None:
        item = await self._get(it.project_pk(write.project), it.entity_sk(write.entity, write.key))
        return None if item is None else int(item["version"]["N"])

    # -- whole-table copies (the embedded store's persistence) ---------------------------------

    async def dump_items(self) -> list[dict[str, Any]]:
        """Every item of the table, in DynamoDB's JSON form."""
        out: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            args: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True}
            if start is not None:
                args["ExclusiveStartKey"] = start
            response = await self._call(self._client.scan(**args))
            out.extend(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if start is None:
                return out

    async def load_items(self, items: list[dict[str, Any]]) -> None:
        for i in range(0, len(items), 25):
            requests: Any = [{"PutRequest": {"Item": item}} for item in items[i : i + 25]]
            while requests:
                response = await self._call(
                    self._client.batch_write_item(RequestItems={self._table: requests})
                )
                requests = response.get("UnprocessedItems", {}).get(self._table, [])

    # -- reads -------------------------------------------------------------------------------

    async def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = await self._call(
            self._client.get_item(
                TableName=self._table,
                Key={"pk": {"S": pk}, "sk": {"S": sk}},
                ConsistentRead=True,
            )
        )
        return response.get("Item")

    async def _query(self, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        start: dict[str, Any] | None = None
        while True:
            page_args = dict(kwargs, TableName=self._table)
            if start is not None:
                page_args["ExclusiveStartKey"] = start
            response = await self._call(self._client.query(**page_args))
            for item in response.get("Items", []):
                yield item
            start = response.get("LastEvaluatedKey")
            if start is None:
                return

    async def list_projects(self) -> list[Project]:
        keys = [
            item["sk"]["S"]
            async for item in self._query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": it.PROJECTS_PK}},
            )
        ]
        return [await self.get_project(key) for key in keys]

    async def get_project(self, project: str) -> Project:
        item = await self._get(it.project_pk(project), it.META)
        if item is None:
            raise NotFound(f"project {project!r} not found", entity="project", key=project)
        return Project.model_validate_json(item["doc"]["S"])

    async def load_project(self, project: str) -> ProjectState:
        meta: Project | None = None
        flags: dict[str, Flag] = {}
        segments: dict[str, Segment] = {}
        tenants: dict[str, Tenant] = {}
        seq = 0
        async for item in self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": it.project_pk(project)}},
            ConsistentRead=True,
        ):
            if item["sk"]["S"] == it.SEQ:
                seq = int(item["seq"]["N"])
                continue
            entity = it.decode_entity(item)
            if isinstance(entity, Flag):
                flags[entity.key] = entity
            elif isinstance(entity, Segment):
                segments[entity.key] = entity
            elif isinstance(entity, Tenant):
                tenants[entity.key] = entity
            else:
                meta = entity
        if meta is None:
            raise NotFound(f"project {project!r} not found", entity="project", key=project)
        return ProjectState(meta, flags, segments, seq, tenants)

    async def get_flag(self, project: str, key: str) -> Flag:
        item = await self._get(it.project_pk(project), it.entity_sk(EntityKind.FLAG, key))
        if item is None:
            raise NotFound(f"flag {key!r} not found in project {project!r}", entity="flag", key=key)
        return Flag.model_validate_json(item["doc"]["S"])

    async def get_segment(self, project: str, key: str) -> Segment:
        item = await self._get(it.project_pk(project), it.entity_sk(EntityKind.SEGMENT, key))
        if item is None:
            raise NotFound(
                f"segment {key!r} not found in project {project!r}", entity="segment", key=key
            )
        return Segment.model_validate_json(item["doc"]["S"])

    async def get_tenant(self, project: str, key: str) -> Tenant:
        item = await self._get(it.project_pk(project), it.entity_sk(EntityKind.TENANT, key))
        if item is None:
            raise NotFound(
                f"tenant {key!r} not found in project {project!r}", entity="tenant", key=key
            )
        return Tenant.model_validate_json(item["doc"]["S"])

    async def get_seq(self, project: str) -> int:
        item = await self._get(it.project_pk(project), it.SEQ)
        return 0 if item is None else int(item["seq"]["N"])

    async def list_history(
        self, project: str, entity: EntityKind, key: str, limit: int = 50, before: str | None = None
    ) -> Page[HistoryEntry]:
        pk = it.history_pk(project, entity, key)
        args: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ScanIndexForward": False,
            "Limit": limit + 1,
        }
        if before is not None:
            args["ExclusiveStartKey"] = {"pk": {"S": pk}, "sk": {"S": before}}
        response = await self._call(self._client.query(**args))
        entries = [HistoryEntry.model_validate_json(i["doc"]["S"]) for i in response["Items"]]
        return it.history_page(entries, limit)

    async def get_history_entry(
        self, project: str, entity: EntityKind, key: str, history_id: str
    ) -> HistoryEntry:
        item = await self._get(it.history_pk(project, entity, key), history_id)
        if item is None:
            raise NotFound(
                f"history entry {history_id!r} of {entity.value} {key!r} not found",
                entity="history",
                key=history_id,
            )
        return HistoryEntry.model_validate_json(item["doc"]["S"])

    async def read_changes(
        self, project: str, after_seq: int, limit: int = 1000
    ) -> list[ChangeEntry]:
        response = await self._call(
            self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND sk > :after",
                ExpressionAttributeValues={
                    ":pk": {"S": it.changes_pk(project)},
                    ":after": {"S": it.change_sk(after_seq)},
                },
                ConsistentRead=True,
                Limit=limit,
            )
        )
        return [ChangeEntry.model_validate_json(i["doc"]["S"]) for i in response["Items"]]

    # -- access: API keys and members ---------------------------------------------------------

    async def save_api_key(self, key: ApiKey, *, create: bool) -> None:
        by_hash, listed = it.apikey_items(key)
        await self._save_record(by_hash, listed, create=create, entity="api_key", key=key.id)

    async def _save_record(
        self, by_hash: it.Item, listed: it.Item, *, create: bool, entity: str, key: str
    ) -> None:
        """A record looked up by hash and its entry in the project's list, written together;
        create requires the record to be new, update requires it to exist."""
        condition = "attribute_not_exists(pk)" if create else "attribute_exists(pk)"
        try:
            await self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": by_hash,
                            "ConditionExpression": condition,
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": listed}},
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                what = _RECORD_NAMES[entity]
                if create:
                    raise AlreadyExists(f"{what} {key!r} exists already") from exc
                raise NotFound(f"{what} {key!r} not found", entity=entity, key=key) from exc
            raise translate(exc, self._table) from exc
        except BotoCoreError as exc:
            raise translate(exc, self._table) from exc

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        item = await self._get(f"APIKEY#{key_hash}", it.META)
        return None if item is None else ApiKey.model_validate_json(item["doc"]["S"])

    async def list_api_keys(self, project: str) -> list[ApiKey]:
        return [
            ApiKey.model_validate_json(item["doc"]["S"])
            async for item in self._query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"KEYS#{project}"}},
                ConsistentRead=True,
            )
        ]

    async def save_member(self, member: Member) -> None:
        by_email, by_project = it.member_items(member)
        await self._call(
            self._client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table, "Item": by_email}},
                    {"Put": {"TableName": self._table, "Item": by_project}},
                ]
            )
        )

    async def delete_member(self, project: str, email: str) -> None:
        await self._call(
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": {
                                "pk": {"S": f"MEMBER#{email}"},
                                "sk": {"S": f"PROJECT#{project}"},
                            },
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": {"pk": {"S": f"MEMBERS#{project}"}, "sk": {"S": email}},
                        }
                    },
                ]
            )
        )

    async def list_members(self, project: str) -> list[Member]:
        return await self._members(f"MEMBERS#{project}")

    async def list_memberships(self, email: str) -> list[Member]:
        return await self._members(f"MEMBER#{email}")

    async def _members(self, pk: str) -> list[Member]:
        return [
            Member.model_validate_json(item["doc"]["S"])
            async for item in self._query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
                ConsistentRead=True,
            )
        ]

    # -- invitations ---------------------------------------------------------------------------

    async def save_invitation(self, invitation: Invitation, *, create: bool) -> None:
        by_hash, listed = it.invitation_items(invitation)
        await self._save_record(
            by_hash, listed, create=create, entity="invitation", key=invitation.id
        )

    async def get_invitation_by_hash(self, token_hash: str) -> Invitation | None:
        item = await self._get(it.invitation_pk(token_hash), it.META)
        return None if item is None else it.decode_invitation(item)

    async def list_invitations(self, project: str) -> list[Invitation]:
        return [
            it.decode_invitation(item)
            async for item in self._query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": it.invitations_pk(project)}},
                ConsistentRead=True,
            )
        ]

    # -- sessions ------------------------------------------------------------------------------

    async def end_sessions(self, email: str, before: datetime) -> None:
        try:
            await self._client.update_item(
                TableName=self._table, **it.sessions_ended_update(email, before)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return  # a later sign-out is stored already
            raise translate(exc, self._table) from exc
        except BotoCoreError as exc:
            raise translate(exc, self._table) from exc

    async def sessions_ended(self, email: str) -> datetime | None:
        item = await self._get(it.sessions_pk(email), it.META)
        return None if item is None else it.decode_sessions_ended(item)

    # -- usage ---------------------------------------------------------------------------------

    async def record_usage(self, project: str, flag: str, deltas: Mapping[str, UsageDelta]) -> None:
        """One UpdateItem; a second only when another replica recorded a later evaluation
        time meanwhile (DynamoDB's SET cannot keep a maximum, so a condition guards it)."""
        if not deltas:
            return
        ident = (project, flag)
        expired = self._expired_usage.pop(ident, frozenset())
        forward = set(deltas)
        while True:
            args = it.usage_update(project, flag, deltas, forward=forward, expired=expired)
            try:
                response = await self._client.update_item(TableName=self._table, **args)
                break
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise translate(exc, self._table) from exc
                old: Any = exc.response.get("Item", {})  # ReturnValuesOnConditionCheckFailure
                stored = it.usage_lasts(old)
                later = {e for e in forward if e in stored and stored[e] >= deltas[e].last}
                # Keep the later times; without that knowledge, let the counts through alone.
                forward = forward - later if later else set()
            except BotoCoreError as exc:
                raise translate(exc, self._table) from exc
        if len(self._expired_usage) >= _EXPIRED_USAGE_LIMIT:
            self._expired_usage.clear()
        now = max(d.last for d in deltas.values())
        names = it.expired_usage_names(response.get("Attributes", {}), now)
        if names:
            self._expired_usage[ident] = names

    async def get_usage(self, project: str, *, now: datetime) -> list[FlagUsage]:
        return [
            it.decode_usage(item, now)
            async for item in self._query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": it.usage_pk(project)}},
            )
        ]

    async def get_flag_usage(self, project: str, flag: str, *, now: datetime) -> FlagUsage:
        item = await self._get(it.usage_pk(project), flag)
        return FlagUsage(project=project, flag=flag) if item is None else it.decode_usage(item, now)
