"""The contract every Store implementation passes (DESIGN 4; STYLE 6).

Runs once per implementation through the parametrised ``store`` fixture: the DynamoDB
store on moto's server over HTTP, and the in-memory store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ff_core import limits
from ff_core.errors import (
    AlreadyExists,
    IdempotencyKeyReused,
    InvalidDefinition,
    NotFound,
    VersionConflict,
)
from ff_core.models import (
    Action,
    Actor,
    ApiKey,
    ChangeKind,
    EntityKind,
    EnvironmentConfig,
    Flag,
    KeyKind,
    Member,
    Project,
    Role,
    Segment,
    Serve,
    Target,
    boolean_variants,
)
from ff_core.store import Entity, Store, Write

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def write(
    actor: Actor,
    new: Entity | None,
    *,
    old: Entity | None = None,
    entity: EntityKind = EntityKind.FLAG,
    key: str | None = None,
    expected: int | None = None,
    idem: str,
    at: datetime = T0,
    action: Action = Action.UPDATED,
) -> Write:
    target = new if new is not None else old
    assert target is not None
    return Write(
        project="demo",
        entity=entity,
        key=key or target.key,
        action=action,
        actor=actor,
        at=at,
        new=new,
        old=old,
        expected_version=expected,
        idempotency_key=idem,
        fingerprint=f"fp-{idem}",
        environments=("production",),
        environment="production",
        note=f"note {idem}",
    )


def flag(version: int, enabled: bool = False, key: str = "checkout") -> Flag:
    return Flag(
        key=key,
        name="Checkout",
        salt="s",
        variants=boolean_variants(),
        environments={
            "production": EnvironmentConfig(
                enabled=enabled, off_variant="off", fallthrough=Serve(variant="on")
            )
        },
        version=version,
    )


async def seeded(store: Store, actor: Actor) -> None:
    await store.ensure_table()
    project = Project(key="demo", name="Demo", version=1)
    await store.commit(
        write(actor, project, entity=EntityKind.PROJECT, idem="p", action=Action.CREATED)
    )


async def everything(store: Store) -> dict[str, Any]:
    """Everything a project holds, to compare before and after a refused write."""
    state = await store.load_project("demo")
    history = {
        key: (await store.list_history("demo", EntityKind.FLAG, key, limit=500)).items
        for key in ("checkout", "search")
    }
    return {
        "state": state,
        "history": history,
        "changes": await store.read_changes("demo", 0),
        "seq": await store.get_seq("demo"),
    }


async def test_ensure_table__called_twice__is_idempotent(store: Store) -> None:
    await store.ensure_table()
    await store.ensure_table()
    assert await store.list_projects() == []


async def test_commit__create_project__readable_listed_and_logged(
    store: Store, alice: Actor
) -> None:
    await seeded(store, alice)

    project = await store.get_project("demo")
    assert project.version == 1
    assert [p.key for p in await store.list_projects()] == ["demo"]
    assert await store.get_seq("demo") == 1
    [change] = await store.read_changes("demo", 0)
    assert (change.seq, change.entity, change.key) == (1, EntityKind.PROJECT, "demo")


async def test_commit__create_flag__state_history_and_change_log_together(
    store: Store, alice: Actor
) -> None:
    await seeded(store, alice)

    committed = await store.commit(write(alice, flag(1), idem="c1", action=Action.CREATED))

    assert (committed.seq, committed.version, committed.replayed) == (2, 1, False)
    assert await store.get_flag("demo", "checkout") == flag(1)
    state = await store.load_project("demo")
    assert list(state.flags) == ["checkout"]
    assert state.seq == 2
    [entry] = (await store.list_history("demo", EntityKind.FLAG, "checkout")).items
    assert entry.id == committed.history_id
    assert (entry.actor, entry.action, entry.note, entry.old) == (
        alice,
        Action.CREATED,
        "note c1",
        None,
    )
    assert entry.new == flag(1).model_dump(mode="json")
    assert (entry.seq, entry.version, entry.environment) == (2, 1, "production")
    change = (await store.read_changes("demo", 1))[0]
    assert (change.seq, change.key, change.change, change.version) == (
        2,
        "checkout",
        ChangeKind.UPSERT,
        1,
    )
    assert change.environments == ("production",)


async def test_commit__stale_version__version_conflict_and_nothing_written(
    store: Store, alice: Actor, bob: Actor
) -> None:
    await seeded(store, alice)
    await store.commit(write(alice, flag(1), idem="c1", action=Action.CREATED))
    await store.commit(write(alice, flag(2, True), old=flag(1), expected=1, idem="u1"))
    before = await everything(store)

    with pytest.raises(VersionConflict) as caught:
        await store.commit(write(bob, flag(2, False), old=flag(1), expected=1, idem="u2"))

    assert (caught.value.expected, caught.value.current) == (1, 2)
    assert await everything(store) == before


async def test_commit__create_existing__version_conflict_and_nothing_written(
    store: Store, alice: Actor
) -> None:
    await seeded(store, alice)
    await store.commit(write(alice, flag(1), idem="c1", action=Action.CREATED))
    before = await everything(store)

    with pytest.raises(VersionConflict):
        await store.commit(write(alice, flag(1), idem="c2", action=Action.CREATED))

    assert await everything(store) == before


async def test_commit__same_idempotency_key_twice__writes_once(store: Store, alice: Actor) -> None:
    await seeded(store, alice)
    first = await store.commit(write(alice, flag(1), idem="c1", action=Action.CREATED))
    after_first = await everything(store)

    again = await store.commit(write(alice, flag(1), idem="c1", action=Action.CREATED))

    assert again.replayed
    assert (again.seq, again.version, again.history_id) == (
        first.seq,
        first.version,
        first.history_id,
    )
    assert await everything(store) == after_first
    assert await store.replay("demo", "c1", "fp-c1") == again


async def test_commit__idempotency_key_with_other_request__refused_and_nothing_written(
    store: Store, alice: Actor
) -> None:
    await seeded(store, alice)
    await store.commit(write(alice, flag(1), idem="c1", action=Action.CREATED))
    before = await everything(store)
    other = write(alice, flag(2, True), old=flag(1), expected=1, idem="c1")
    other = Write(**{**{f: getattr(other, f) for f in other.__slots__}, "fingerprint": "else"})

    with pytest.raises(IdempotencyKeyReused):
        await store.commit(other)

    assert await everything(store) == before


async def test_commit__delete__gone_but_history_kept(store: Store, alice: Actor) -> None:
    await seeded(store, alice)
    await store.commit(write(alice, flag(1), idem="c1", action=Action.CREATED))

    await store.commit(
        write(alice, None, old=flag(1), expected=1, idem="d1", action=Action.DELETED)
    )

    with pytest.raises(NotFound):
        await store.get_flag("demo", "checkout")
    assert "checkout" not in (await store.load_project("demo")).flags
    page = await store.list_history("demo", EntityKind.FLAG, "checkout")
    assert [e.action for e in page.items] == [Action.DELETED, Action.CREATED]
    assert page.items[0].new is None
    assert page.items[0].version == 2
    assert (await store.read_changes("demo", 2))[0].change is ChangeKind.DELETE


async def test_list_history__many_entries__newest_first_in_pages(
    store: Store, alice: Actor
) -> None:
    await seeded(store, alice)
    await store.commit(write(alice, flag(1), idem="v1", action=Action.CREATED))
    for version in range(2, 8):
        await store.commit(
            write(
                alice,
                flag(version, version % 2 == 0),
                old=flag(version - 1),
                expected=version - 1,
                idem=f"v{version}",
                at=T0 + timedelta(seconds=version),
            )
        )

    seen: list[int] = []
    pages = 0
    cursor: str | None = None
    while True:
        page = await store.list_history("demo", EntityKind.FLAG, "checkout", 3, cursor)
        pages += 1
        seen.extend(e.version for e in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == [7, 6, 5, 4, 3, 2, 1]
    assert pages == 3


async def test_read_changes__after_many_writes__gapless_ordered_and_paged(
    store: Store, alice: Actor
) -> None:
    await seeded(store, alice)
    for i in range(10):
        await store.commit(
            write(alice, flag(1, key=f"flag-{i}"), idem=f"c{i}", action=Action.CREATED)
        )

    changes = await store.read_changes("demo", 0)
    assert [c.seq for c in changes] == list(range(1, 12))
    assert [c.seq for c in await store.read_changes("demo", 4, limit=3)] == [5, 6, 7]
    assert await store.read_changes("demo", 11) == []


async def test_commit__flag_over_size_limit__refused_and_nothing_written(
    store: Store, alice: Actor
) -> None:
    await seeded(store, alice)
    keys = tuple(f"user-{i:06d}-{'x' * 8}" for i in range(limits.MAX_VALUES_PER_TARGET))
    config = EnvironmentConfig(
        off_variant="off",
        fallthrough=Serve(variant="on"),
        targets=(Target(variant="on", values=keys),),
    )
    huge = flag(1).replace(environments={"production": config})
    before = await everything(store)

    with pytest.raises(InvalidDefinition, match=str(limits.MAX_FLAG_BYTES)):
        await store.commit(write(alice, huge, idem="big", action=Action.CREATED))

    assert await everything(store) == before


async def test_segments__create_and_read__round_trip(store: Store, alice: Actor) -> None:
    await seeded(store, alice)
    segment = Segment(key="beta", name="Beta", included=("u1",), version=1)

    await store.commit(
        write(alice, segment, entity=EntityKind.SEGMENT, idem="s1", action=Action.CREATED)
    )

    assert await store.get_segment("demo", "beta") == segment
    assert (await store.load_project("demo")).segments == {"beta": segment}
    [entry] = (await store.list_history("demo", EntityKind.SEGMENT, "beta")).items
    assert entry.entity is EntityKind.SEGMENT


async def test_reads__missing_things__not_found(store: Store, alice: Actor) -> None:
    await store.ensure_table()
    with pytest.raises(NotFound):
        await store.get_project("nope")
    with pytest.raises(NotFound):
        await store.load_project("nope")
    await seeded(store, alice)
    with pytest.raises(NotFound):
        await store.get_flag("demo", "nope")
    with pytest.raises(NotFound):
        await store.get_segment("demo", "nope")
    with pytest.raises(NotFound):
        await store.get_history_entry("demo", EntityKind.FLAG, "nope", "2026#000000000001")
    assert (await store.list_history("demo", EntityKind.FLAG, "nope")).items == []
    assert await store.get_seq("nope") == 0


def api_key(key_id: str, *, project: str = "demo", revoked: bool = False) -> ApiKey:
    return ApiKey(
        id=key_id,
        project=project,
        kind=KeyKind.SERVER,
        name="backend",
        prefix="ffs_abcdefgh",
        hash=f"{key_id:0>64}",
        environment="production",
        created_by="alice",
        created_at=T0,
        revoked_at=T0 if revoked else None,
    )


async def test_api_keys__create_find_list_revoke__by_hash_and_project(store: Store) -> None:
    await store.ensure_table()
    await store.save_api_key(api_key("k1"), create=True)
    await store.save_api_key(api_key("k2"), create=True)
    await store.save_api_key(api_key("k3", project="other"), create=True)

    await store.save_api_key(api_key("k1", revoked=True), create=False)

    found = await store.get_api_key(api_key("k1").hash)
    assert found is not None
    assert found.revoked_at == T0
    assert await store.get_api_key("f" * 64) is None
    assert [k.id for k in await store.list_api_keys("demo")] == ["k1", "k2"]
    assert [k.revoked_at for k in await store.list_api_keys("demo")] == [T0, None]
    with pytest.raises(AlreadyExists):
        await store.save_api_key(api_key("k2"), create=True)
    with pytest.raises(NotFound):
        await store.save_api_key(api_key("k9"), create=False)


async def test_members__save_list_delete__both_directions(store: Store) -> None:
    await store.ensure_table()
    for project, email, role in [
        ("demo", "a@x.io", Role.OWNER),
        ("demo", "b@x.io", Role.VIEWER),
        ("other", "a@x.io", Role.EDITOR),
    ]:
        await store.save_member(
            Member(project=project, email=email, role=role, added_by="root", added_at=T0)
        )

    await store.save_member(
        Member(project="demo", email="b@x.io", role=Role.EDITOR, added_by="root", added_at=T0)
    )
    await store.delete_member("other", "a@x.io")

    assert [(m.email, m.role) for m in await store.list_members("demo")] == [
        ("a@x.io", Role.OWNER),
        ("b@x.io", Role.EDITOR),
    ]
    assert [m.project for m in await store.list_memberships("a@x.io")] == ["demo"]
    assert await store.list_members("other") == []
