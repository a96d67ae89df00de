"""Export and import of a whole project, against moto's DynamoDB server over HTTP.

"Writes nothing" is checked on the table itself: a Scan for every item whose partition key
names the target project, whatever the code under test believes it wrote.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from botocore.exceptions import EndpointConnectionError

from ff_core import transfer
from ff_core.errors import AlreadyExists, InvalidDefinition, NotFound, StoreUnavailable
from ff_core.models import (
    Action,
    Actor,
    ActorKind,
    ChangeKind,
    EntityKind,
    Project,
)
from ff_core.settings import Settings
from ff_core.store import DynamoStore
from ff_core.store import transfer as store_transfer
from ff_core.transfer import Outcome
from tests.conftest import TEST_CREDENTIALS
from tests.core.services_support import boolean_flag, config
from tests.core.transfer_support import AT, SOURCE, answers, histories, project_items, seed


async def _open(settings: Settings) -> AsyncIterator[DynamoStore]:
    async with DynamoStore.open(settings, credentials=TEST_CREDENTIALS) as store:
        await store.ensure_table()
        yield store


@pytest.fixture
async def target_store(moto_endpoint: str) -> AsyncIterator[DynamoStore]:
    """A second table on the same server: where a project moves to."""
    table = f"ff-target-{uuid.uuid4().hex[:12]}"
    async for store in _open(Settings(dynamodb_endpoint=moto_endpoint, table=table)):
        yield store


async def _export(settings: Settings) -> bytes:
    async for store in _open(settings):
        await seed(store, Actor(kind=ActorKind.USER, subject="alice"))
        return (await transfer.export_project(store, SOURCE)).to_json()
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def exported(moto_endpoint: str) -> bytes:
    """The seeded project's export, made once: the damaged-document tests only read it."""
    table = f"ff-export-{uuid.uuid4().hex[:12]}"
    return asyncio.run(_export(Settings(dynamodb_endpoint=moto_endpoint, table=table)))


# -- moving a project --------------------------------------------------------------------------


async def test_export_import__other_table__same_answers_and_history(
    dynamo_store: DynamoStore, target_store: DynamoStore, alice: Actor
) -> None:
    await seed(dynamo_store, alice)
    document = await transfer.export_project(dynamo_store, SOURCE)

    seen: list[tuple[int, int]] = []
    report = await transfer.import_project(
        target_store,
        transfer.load(document.to_json()),
        actor=alice,
        progress=lambda done, total: seen.append((done, total)),
    )

    assert report.outcome is Outcome.CREATED
    assert report.written == {"project": 1, "flags": 4, "segments": 1, "tenants": 1, "history": 12}
    source, moved = await dynamo_store.load_project(SOURCE), await target_store.load_project(SOURCE)
    assert (moved.project, moved.flags, moved.segments, moved.tenants, moved.seq) == (
        source.project,
        source.flags,
        source.segments,
        source.tenants,
        source.seq,
    )
    assert await answers(target_store, SOURCE) == await answers(dynamo_store, SOURCE)
    assert await histories(target_store, SOURCE) == await histories(dynamo_store, SOURCE)
    assert [p.key for p in await target_store.list_projects()] == [SOURCE]
    # 12 history items and 6 entities in one batch, then META and counter.
    assert seen == [(18, 19), (19, 19)]


async def test_export__deleted_entities__their_history_is_exported(
    dynamo_store: DynamoStore, alice: Actor
) -> None:
    await seed(dynamo_store, alice)

    document = await transfer.export_project(dynamo_store, SOURCE)

    assert "legacy" not in {f.key for f in document.flags}
    assert [(e.key, e.action) for e in document.history if e.key in ("legacy", "gone")] == [
        ("gone", Action.CREATED),
        ("gone", Action.DELETED),
        ("legacy", Action.CREATED),
        ("legacy", Action.DELETED),
    ]
    assert [e.seq for e in document.history] == sorted(e.seq for e in document.history)
    assert document.seq == max(e.seq for e in document.history)


async def test_import__other_project__keys_rewritten_and_source_untouched(
    dynamo_store: DynamoStore, alice: Actor
) -> None:
    await seed(dynamo_store, alice)
    before = await project_items(dynamo_store, SOURCE)
    document = await transfer.export_project(dynamo_store, SOURCE)

    await transfer.import_project(dynamo_store, document, "shop-copy", actor=alice)

    copy = await dynamo_store.load_project("shop-copy")
    assert copy.project.key == "shop-copy"
    assert await answers(dynamo_store, "shop-copy") == await answers(dynamo_store, SOURCE)
    project_history = await dynamo_store.list_history("shop-copy", EntityKind.PROJECT, "shop-copy")
    assert [(e.project, e.key, (e.new or {})["key"]) for e in project_history.items] == [
        ("shop-copy", "shop-copy", "shop-copy")
    ]
    flag_history = await dynamo_store.list_history("shop-copy", EntityKind.FLAG, "legacy")
    assert {e.project for e in flag_history.items} == {"shop-copy"}
    assert await project_items(dynamo_store, SOURCE) == before


# -- idempotence and resuming -----------------------------------------------------------------


async def test_import__twice__second_writes_nothing_and_says_so(
    dynamo_store: DynamoStore, target_store: DynamoStore, alice: Actor
) -> None:
    await seed(dynamo_store, alice)
    document = await transfer.export_project(dynamo_store, SOURCE)
    await transfer.import_project(target_store, document, actor=alice)
    after_first = await target_store.dump_items()

    again = await transfer.import_project(target_store, document, actor=alice)

    assert again.outcome is Outcome.ALREADY_IMPORTED
    assert sum(again.written.values()) == 0
    assert "already holds this export: nothing written" in again.summary()
    assert await target_store.dump_items() == after_first


def fail_after(store: DynamoStore, calls: int) -> list[int]:
    """BatchWriteItem works ``calls`` times, then the connection is lost: a stand-in for the
    importing process dying or the network failing mid-import (DynamoDB itself cannot be made
    to fail on cue). The requests before really reach the server."""
    made: list[int] = []
    original: Callable[..., Awaitable[Any]] = store._client.batch_write_item

    async def batch(**kwargs: Any) -> Any:
        if len(made) >= calls:
            raise EndpointConnectionError(endpoint_url="http://dynamodb.invalid")
        made.append(len(kwargs["RequestItems"][store.table]))
        return await original(**kwargs)

    store._client.batch_write_item = batch  # type: ignore[method-assign]
    return made


async def test_import__fails_midway__not_loadable_and_rerun_completes(
    dynamo_store: DynamoStore, moto_endpoint: str, alice: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(dynamo_store, alice)
    document = await transfer.export_project(dynamo_store, SOURCE)
    settings = Settings(dynamodb_endpoint=moto_endpoint, table=f"ff-t-{uuid.uuid4().hex[:12]}")
    # Batches of 5, so that this small project takes several and the failure falls between.
    monkeypatch.setattr(store_transfer, "BATCH", 5)
    async for flaky in _open(settings):
        made = fail_after(flaky, 2)
        with pytest.raises(StoreUnavailable):
            await transfer.import_project(flaky, document, "moved", actor=alice)
        assert made == [5, 5]
        assert len(await project_items(flaky, "moved")) == 10
        with pytest.raises(NotFound):  # no META yet: nothing can load a half-imported project
            await flaky.load_project("moved")

    async for store in _open(settings):
        resumed = await transfer.import_project(store, document, "moved", actor=alice)
        last = await transfer.import_project(store, document, "moved", actor=alice)

        assert resumed.outcome is Outcome.COMPLETED
        assert resumed.present["history"] == 10
        assert resumed.written["history"] == len(document.history) - 10
        assert await answers(store, "moved") == await answers(dynamo_store, SOURCE)
        assert last.outcome is Outcome.ALREADY_IMPORTED


async def test_import__dry_run__reports_and_writes_nothing(
    dynamo_store: DynamoStore, target_store: DynamoStore, alice: Actor
) -> None:
    await seed(dynamo_store, alice)
    document = await transfer.export_project(dynamo_store, SOURCE)

    report = await transfer.import_project(target_store, document, actor=alice, dry_run=True)

    assert (report.outcome, report.dry_run) == (Outcome.CREATED, True)
    assert report.summary().startswith("project 'shop' (created): would write 1 project, 4 flags")
    assert await target_store.dump_items() == []


# -- existing targets --------------------------------------------------------------------------


async def test_import__target_has_other_flags__refused_and_unchanged(
    dynamo_store: DynamoStore, alice: Actor
) -> None:
    services = await seed(dynamo_store, alice)
    await services.projects.create_project(alice, Project(key="busy", name="Busy"))
    await services.flags.create_flag(alice, "busy", boolean_flag("checkout"))
    before = await project_items(dynamo_store, "busy")
    document = await transfer.export_project(dynamo_store, SOURCE)

    with pytest.raises(AlreadyExists) as refused:
        await transfer.import_project(dynamo_store, document, "busy", actor=alice)

    assert "never merges or overwrites" in refused.value.message
    assert refused.value.details["conflicts"] == [
        "flag 'checkout' is version 1 there and differs from the document's (version 2)",
        "the history of flag 'checkout' has entries the document lacks",
    ]
    assert await project_items(dynamo_store, "busy") == before


async def test_import__target_exists_but_empty__filled_audited_and_followers_told(
    dynamo_store: DynamoStore, alice: Actor, bob: Actor
) -> None:
    services = await seed(dynamo_store, alice)
    await services.projects.create_project(bob, Project(key="fresh", name="Fresh"))
    seq_before = await dynamo_store.get_seq("fresh")
    document = await transfer.export_project(dynamo_store, SOURCE)

    # After the fake clock's writes, so that it is the newest entry.
    at = datetime(2031, 1, 1, tzinfo=UTC)
    report = await transfer.import_project(dynamo_store, document, "fresh", actor=bob, now=at)

    assert report.outcome is Outcome.INTO_EXISTING
    state = await dynamo_store.load_project("fresh")
    assert state.project.name == "Shop"
    assert state.seq == document.seq + 1
    changes = await dynamo_store.read_changes("fresh", seq_before)
    # One project change: every follower of "fresh" reloads it whole.
    assert [(c.seq, c.entity, c.change) for c in changes] == [
        (document.seq + 1, EntityKind.PROJECT, ChangeKind.UPSERT)
    ]
    audit = await dynamo_store.list_history("fresh", EntityKind.PROJECT, "fresh")
    assert [(e.action, e.actor, e.note) for e in audit.items] == [
        (
            Action.UPDATED,
            bob,
            f"imported from project 'shop' exported at {document.exported_at.isoformat()}",
        ),
        (Action.CREATED, bob, ""),
    ]
    assert await answers(dynamo_store, "fresh") == await answers(dynamo_store, SOURCE)
    again = await transfer.import_project(dynamo_store, document, "fresh", actor=bob)
    assert again.outcome is Outcome.ALREADY_IMPORTED


# -- refused documents write nothing ----------------------------------------------------------


def _without_flag(data: dict[str, Any], key: str, *, history: bool) -> None:
    data["flags"] = [f for f in data["flags"] if f["key"] != key]
    if history:
        data["history"] = [e for e in data["history"] if e["key"] != key]


def corrupt(name: str, text: bytes) -> bytes:
    data = orjson.loads(text)
    if name == "bad JSON":
        return b"\x00{not json" + text[:100]
    if name == "truncated":
        return text[: len(text) // 2]
    if name == "flag missing fields":
        del data["flags"][1]["variants"]
    elif name == "history of an entity not in the document":
        _without_flag(data, "banner", history=False)
    elif name == "missing prerequisite":
        _without_flag(data, "checkout", history=True)
    elif name == "missing segment":
        data["segments"] = []
        data["history"] = [e for e in data["history"] if e["key"] != "beta"]
    elif name == "not an export":
        data["format"] = "something-else"
    return orjson.dumps(data)


EXPECTED = {
    "bad JSON": "not valid JSON (a corrupted or truncated file?)",
    "truncated": "not valid JSON (a corrupted or truncated file?)",
    "flag missing fields": "flags[1] ('checkout'): variants: Field required",
    "history of an entity not in the document": "flag 'banner' is not in the document, and its "
    "history does not end with its deletion",
    "missing prerequisite": "flags[1] ('gated'): environments.production.prerequisites: "
    "flag 'checkout' is not in the document",
    "missing segment": "flags[1] ('checkout'): environments.production.rules: segment(s) "
    "['beta'] not in the document",
    "not an export": "format is 'something-else', not 'ff-export': not an ff export",
}


@pytest.mark.parametrize("damage", sorted(EXPECTED))
async def test_import__damaged_document__refused_naming_it_and_nothing_written(
    exported: bytes, target_store: DynamoStore, alice: Actor, damage: str
) -> None:
    async def attempt() -> None:
        document = transfer.load(corrupt(damage, exported))
        await transfer.import_project(target_store, document, "moved", actor=alice)

    with pytest.raises(InvalidDefinition) as refused:
        await attempt()

    assert EXPECTED[damage] in refused.value.message
    assert "nothing was written" in refused.value.message
    assert await project_items(target_store, "moved") == []
    assert await target_store.dump_items() == []


def test_validate__several_problems__all_named_in_one_error() -> None:
    flag = boolean_flag("checkout", environments={"prod": config()}).model_dump(mode="json")
    bad = {**flag, "key": "broken", "name": ""}
    gated = boolean_flag(
        "gated", environments={"production": config(prerequisites={"nope": "on"})}
    ).model_dump(mode="json")
    data = {
        "format": "ff-export",
        "version": 1,
        "exported_at": AT.isoformat(),
        "source_project": SOURCE,
        "seq": 0,
        "project": Project(key=SOURCE, name="Shop").model_dump(mode="json"),
        "flags": [flag, bad, gated, flag],
        "extra": True,
    }

    with pytest.raises(InvalidDefinition) as refused:
        transfer.validate(data)

    assert refused.value.details["problems"] == [
        "extra: unknown field",
        "flags[1] ('broken'): name: String should have at least 1 character",
        "flags[3] ('checkout'): key appears again (first at flags[0])",
        "flags[0] ('checkout'): environment 'prod' is not one of the project's environments "
        "['development', 'staging', 'production']",
        "flags[2] ('gated'): environments.production.prerequisites: flag 'nope' is not in the "
        "document",
    ]


def test_validate__prerequisite_cycle__refused() -> None:
    a = boolean_flag("a", environments={"production": config(prerequisites={"b": "on"})})
    b = boolean_flag("b", environments={"production": config(prerequisites={"a": "on"})})
    document = transfer.ExportDocument(
        exported_at=AT,
        source_project=SOURCE,
        seq=0,
        project=Project(key=SOURCE, name="Shop"),
        flags=(a, b),
    )

    problems = transfer.check(document)

    assert len(problems) == 1
    assert problems[0].startswith("flags: prerequisites in 'production' form a cycle ")
