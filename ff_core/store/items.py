"""Turning models into DynamoDB items and back: pure, tested without AWS (DESIGN 4).

| pk                      | sk               | item                                   |
|-------------------------|------------------|----------------------------------------|
| PROJECTS                | <p>              | the project list (written on create)   |
| PROJECT#<p>             | META             | project                                |
| PROJECT#<p>             | FLAG#<key>       | flag, ``version``                      |
| PROJECT#<p>             | SEGMENT#<key>    | segment, ``version``                   |
| PROJECT#<p>             | TENANT#<tenant>  | explicit tenant state, ``version``     |
| PROJECT#<p>             | SEQ              | the project's change counter           |
| HISTORY#<p>#<entity>    | <iso-ts>#<seq>   | audit entry                            |
| CHANGES#<p>             | <seq:012d>       | change-log entry, TTL                  |
| IDEMPOTENCY#<p>#<key>   | META             | what a write's idempotency key did, TTL |
| USAGE#<p>               | <flag key>       | evaluation counts per environment, TTL |
| APIKEY#<hash>           | META             | API key, looked up by its hash         |
| KEYS#<p>                | <key id>         | the project's API keys                 |
| MEMBER#<email>          | PROJECT#<p>      | a user's membership                    |
| MEMBERS#<p>             | <email>          | the project's members                  |
| INVITE#<token hash>     | META             | invitation, looked up by its hash, TTL |
| INVITES#<p>             | <invitation id>  | the project's invitations, TTL         |
| SESSIONS#<email>        | META             | when the user last signed out, TTL     |

Documents are stored as one JSON string attribute ``doc``: no float-to-Decimal
conversions, and the item validates through the same pydantic model on the way back.

Usage items live in their own partition, so loading a project never reads them. Their
attributes are flat (``t#<env>`` total, ``l#<env>`` last evaluation in epoch microseconds,
``d#<env>#<YYYYMMDD>`` a day's count) so one UpdateItem can ``ADD`` to any of them
without a parent map having to exist first.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ff_core import limits
from ff_core.errors import IdempotencyKeyReused, InvalidDefinition
from ff_core.models import (
    ApiKey,
    ChangeEntry,
    ChangeKind,
    EntityKind,
    EnvironmentUsage,
    Flag,
    FlagUsage,
    HistoryEntry,
    Invitation,
    Member,
    Model,
    Project,
    Segment,
    Tenant,
    UsageDelta,
)
from ff_core.models.usage import window_start
from ff_core.store.protocol import Committed, Entity, Page, Write

Item = dict[str, Any]

PROJECTS_PK = "PROJECTS"
META = "META"
SEQ = "SEQ"
_SK_PREFIX = {
    EntityKind.FLAG: "FLAG#",
    EntityKind.SEGMENT: "SEGMENT#",
    EntityKind.TENANT: "TENANT#",
}
_MAX_BYTES = {
    EntityKind.FLAG: limits.MAX_FLAG_BYTES,
    EntityKind.SEGMENT: limits.MAX_SEGMENT_BYTES,
    EntityKind.TENANT: limits.MAX_TENANT_BYTES,
}


def project_pk(project: str) -> str:
    return f"PROJECT#{project}"


def entity_sk(entity: EntityKind, key: str) -> str:
    return META if entity is EntityKind.PROJECT else f"{_SK_PREFIX[entity]}{key}"


def history_pk(project: str, entity: EntityKind, key: str) -> str:
    name = key if entity is EntityKind.FLAG else f"@{entity.value}:{key}"
    return f"HISTORY#{project}#{name}"


def changes_pk(project: str) -> str:
    return f"CHANGES#{project}"


def change_sk(seq: int) -> str:
    return f"{seq:012d}"


def idempotency_pk(project: str, idempotency_key: str) -> str:
    return f"IDEMPOTENCY#{project}#{idempotency_key}"


def history_id(at: datetime, seq: int) -> str:
    """Sorts by time, unique within a project (the seq), and is the history item's sort key."""
    return f"{at.isoformat(timespec='microseconds')}#{seq:012d}"


def dump(model: Model) -> str:
    return model.model_dump_json()


def encode_entity(project: str, entity: EntityKind, model: Entity) -> Item:
    doc = dump(model)
    size = len(doc.encode())
    limit = _MAX_BYTES.get(entity)
    if limit is not None and size > limit:
        raise InvalidDefinition(
            f"{entity.value} {model.key!r} is {size} bytes serialised; the limit is {limit} bytes "
            "(a DynamoDB item holds at most 400 KB, and its history entry holds two copies)",
            field=entity.value,
            limit=limit,
        )
    return {
        "pk": {"S": project_pk(project)},
        "sk": {"S": entity_sk(entity, model.key)},
        "kind": {"S": entity.value},
        "version": {"N": str(model.version)},
        "doc": {"S": doc},
    }


def decode_entity(item: Item) -> Entity:
    kind = EntityKind(item["kind"]["S"])
    doc = item["doc"]["S"]
    if kind is EntityKind.FLAG:
        return Flag.model_validate_json(doc)
    if kind is EntityKind.SEGMENT:
        return Segment.model_validate_json(doc)
    if kind is EntityKind.TENANT:
        return Tenant.model_validate_json(doc)
    return Project.model_validate_json(doc)


def history_entry(write: Write, seq: int) -> HistoryEntry:
    version = write.new.version if write.new is not None else (write.expected_version or 0) + 1
    return HistoryEntry(
        id=history_id(write.at, seq),
        project=write.project,
        entity=write.entity,
        key=write.key,
        action=write.action,
        actor=write.actor,
        at=write.at,
        environment=write.environment,
        environments=write.scoped_to,
        note=write.note,
        old=write.old.model_dump(mode="json") if write.old is not None else None,
        new=write.new.model_dump(mode="json") if write.new is not None else None,
        version=version,
        seq=seq,
        rolled_back_to=write.rolled_back_to,
    )


def change_entry(write: Write, seq: int, version: int) -> ChangeEntry:
    return ChangeEntry(
        seq=seq,
        project=write.project,
        entity=write.entity,
        key=write.key,
        change=ChangeKind.DELETE if write.new is None else ChangeKind.UPSERT,
        environments=write.environments,
        version=version,
        at=write.at,
    )


def encode_history(entry: HistoryEntry) -> Item:
    return {
        "pk": {"S": history_pk(entry.project, entry.entity, entry.key)},
        "sk": {"S": entry.id},
        "doc": {"S": dump(entry)},
    }


def encode_change(entry: ChangeEntry, ttl: int) -> Item:
    return {
        "pk": {"S": changes_pk(entry.project)},
        "sk": {"S": change_sk(entry.seq)},
        "doc": {"S": dump(entry)},
        "ttl": {"N": str(ttl)},
    }


def encode_seq(project: str, seq: int) -> Item:
    return {"pk": {"S": project_pk(project)}, "sk": {"S": SEQ}, "seq": {"N": str(seq)}}


def encode_project_index(project: str) -> Item:
    return {"pk": {"S": PROJECTS_PK}, "sk": {"S": project}}


def encode_idempotency(write: Write, seq: int, version: int, hid: str, ttl: int) -> Item:
    return {
        "pk": {"S": idempotency_pk(write.project, write.idempotency_key)},
        "sk": {"S": META},
        "fingerprint": {"S": write.fingerprint},
        "seq": {"N": str(seq)},
        "version": {"N": str(version)},
        "history_id": {"S": hid},
        "ttl": {"N": str(ttl)},
    }


def replayed(idempotency_key: str, fingerprint: str, item: Item) -> Committed:
    """The result of a write whose idempotency key was applied before; refuses a different write."""
    if item["fingerprint"]["S"] != fingerprint:
        raise IdempotencyKeyReused(
            f"idempotency key {idempotency_key!r} was already used for a different request"
        )
    return Committed(
        seq=int(item["seq"]["N"]),
        version=int(item["version"]["N"]),
        history_id=item["history_id"]["S"],
        replayed=True,
    )


def history_page(entries: list[HistoryEntry], limit: int) -> Page[HistoryEntry]:
    """Up to ``limit + 1`` entries, newest first: the extra one says that more exist."""
    if len(entries) > limit:
        entries = entries[:limit]
        return Page(entries, next_cursor=entries[-1].id)
    return Page(entries, next_cursor=None)


def apikey_items(key: ApiKey) -> tuple[Item, Item]:
    """The record looked up by hash, and its entry in the project's key list."""
    doc = {"S": dump(key)}
    return (
        {"pk": {"S": f"APIKEY#{key.hash}"}, "sk": {"S": META}, "doc": doc},
        {"pk": {"S": f"KEYS#{key.project}"}, "sk": {"S": key.id}, "doc": doc},
    )


def member_items(member: Member) -> tuple[Item, Item]:
    """By email (a user's projects) and by project (its members)."""
    doc = {"S": dump(member)}
    return (
        {
            "pk": {"S": f"MEMBER#{member.email}"},
            "sk": {"S": f"PROJECT#{member.project}"},
            "doc": doc,
        },
        {"pk": {"S": f"MEMBERS#{member.project}"}, "sk": {"S": member.email}, "doc": doc},
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A sign-out record outlives the longest dashboard session (30 days) it could refuse.
SESSIONS_RETENTION_S = 31 * 86_400


def sessions_pk(email: str) -> str:
    return f"SESSIONS#{email}"


def sessions_ended_update(email: str, before: datetime) -> dict[str, Any]:
    """UpdateItem arguments: store ``before`` (epoch microseconds) unless a later one is."""
    at = (before - _EPOCH) // timedelta(microseconds=1)
    ttl = int(before.timestamp()) + SESSIONS_RETENTION_S
    return {
        "Key": {"pk": {"S": sessions_pk(email)}, "sk": {"S": META}},
        "UpdateExpression": "SET ended_us = :at, #ttl = :ttl",
        "ConditionExpression": "attribute_not_exists(ended_us) OR ended_us < :at",
        "ExpressionAttributeNames": {"#ttl": "ttl"},
        "ExpressionAttributeValues": {":at": {"N": str(at)}, ":ttl": {"N": str(ttl)}},
    }


def decode_sessions_ended(item: Item) -> datetime:
    return _EPOCH + timedelta(microseconds=int(item["ended_us"]["N"]))


# An invitation stays readable (as expired, accepted or revoked) this long after it expires.
INVITATION_RETENTION_DAYS = 30


def invitation_pk(token_hash: str) -> str:
    return f"INVITE#{token_hash}"


def invitations_pk(project: str) -> str:
    return f"INVITES#{project}"


def invitation_ttl(invitation: Invitation) -> int:
    return int(invitation.expires_at.timestamp()) + INVITATION_RETENTION_DAYS * 86_400


def invitation_items(invitation: Invitation) -> tuple[Item, Item]:
    """The record looked up by token hash, and its entry in the project's list; both expire."""
    doc = {"S": dump(invitation)}
    ttl = {"N": str(invitation_ttl(invitation))}
    return (
        {
            "pk": {"S": invitation_pk(invitation.token_hash)},
            "sk": {"S": META},
            "doc": doc,
            "ttl": ttl,
        },
        {
            "pk": {"S": invitations_pk(invitation.project)},
            "sk": {"S": invitation.id},
            "doc": doc,
            "ttl": ttl,
        },
    )


def decode_invitation(item: Item) -> Invitation:
    return Invitation.model_validate_json(item["doc"]["S"])


# -- usage ---------------------------------------------------------------------------------------

# A usage item nobody wrote for this long expires (a deleted flag's, or one unused for a year).
USAGE_TTL_DAYS = 400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def usage_pk(project: str) -> str:
    return f"USAGE#{project}"


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


def _day_name(environment: str, day: date) -> str:
    return f"d#{environment}#{day:%Y%m%d}"


def usage_update(
    project: str,
    flag: str,
    deltas: Mapping[str, UsageDelta],
    *,
    forward: Collection[str],
    expired: Collection[str],
) -> dict[str, Any]:
    """UpdateItem arguments (less the table): ADD every count to its total and its day; SET
    the last-evaluated time of the ``forward`` environments, on the condition that it only
    moves forward; REMOVE the ``expired`` day counts."""
    at = max(d.last for d in deltas.values())
    names: dict[str, str] = {"#ttl": "ttl"}
    values: dict[str, Any] = {":ttl": {"N": str(int(at.timestamp()) + USAGE_TTL_DAYS * 86_400)}}
    adds: list[str] = []
    sets = ["#ttl = :ttl"]
    conditions: list[str] = []
    added: set[str] = set()
    for i, (env, delta) in enumerate(sorted(deltas.items())):
        day = _day_name(env, delta.last.astimezone(UTC).date())
        names |= {f"#t{i}": f"t#{env}", f"#d{i}": day}
        values[f":n{i}"] = {"N": str(delta.count)}
        adds += [f"#t{i} :n{i}", f"#d{i} :n{i}"]
        added.add(day)
        if env in forward:
            names[f"#l{i}"] = f"l#{env}"
            values[f":l{i}"] = {"N": str(_micros(delta.last))}
            sets.append(f"#l{i} = :l{i}")
            conditions.append(f"(attribute_not_exists(#l{i}) OR #l{i} <= :l{i})")
    expression = f"ADD {', '.join(adds)} SET {', '.join(sets)}"
    removed = sorted(set(expired) - added)
    if removed:
        names |= {f"#r{j}": name for j, name in enumerate(removed)}
        expression += " REMOVE " + ", ".join(f"#r{j}" for j in range(len(removed)))
    args: dict[str, Any] = {
        "Key": {"pk": {"S": usage_pk(project)}, "sk": {"S": flag}},
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValues": "ALL_NEW",
    }
    if conditions:
        args["ConditionExpression"] = " AND ".join(conditions)
        args["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return args


def usage_lasts(item: Item) -> dict[str, datetime]:
    """Each environment's stored last-evaluated time."""
    return {
        name[2:]: _EPOCH + int(value["N"]) * _MICROSECOND
        for name, value in item.items()
        if name.startswith("l#")
    }


def expired_usage_names(item: Item, now: datetime) -> frozenset[str]:
    """The item's day counts that fell out of the window: the next update removes them."""
    first = f"{window_start(now):%Y%m%d}"
    return frozenset(
        name for name in item if name.startswith("d#") and name.rpartition("#")[2] < first
    )


def decode_usage(item: Item, now: datetime) -> FlagUsage:
    totals: dict[str, int] = {}
    days: dict[str, dict[date, int]] = {}
    for name, value in item.items():
        if name.startswith("t#"):
            totals[name[2:]] = int(value["N"])
        elif name.startswith("d#"):
            env, _, day = name[2:].rpartition("#")
            days.setdefault(env, {})[date.fromisoformat(day)] = int(value["N"])
    lasts = usage_lasts(item)
    environments = {
        env: EnvironmentUsage.build(total, lasts.get(env), days.get(env, {}), now)
        for env, total in totals.items()
    }
    project = item["pk"]["S"].removeprefix("USAGE#")
    return FlagUsage.build(project, item["sk"]["S"], environments)
