"""The dashboard's kept project flags: current after every change, without whole reads.

On both stores (moto's DynamoDB server over HTTP, and memory), written through the
services as the API, the CLI or another dashboard would.
"""

from __future__ import annotations

from typing import Any

from ff_admin.projects import ProjectFlags
from ff_core.models import Actor, ChangeEntry, Flag, Project
from ff_core.store import ProjectState, Store
from tests.core.services_support import PROJECT, boolean_flag, project_services
from tests.core.test_services_tenants import ON_IN_DEV, put_registry_flag


class Counting:
    """The store, counting what the cache reads (and able to pretend log entries expired)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.loads = 0
        self.gets: list[str] = []
        self.expired_before = 0

    async def load_project(self, project: str) -> ProjectState:
        self.loads += 1
        return await self._store.load_project(project)

    async def get_flag(self, project: str, key: str) -> Flag:
        self.gets.append(key)
        return await self._store.get_flag(project, key)

    async def read_changes(
        self, project: str, after_seq: int, limit: int = 1000
    ) -> list[ChangeEntry]:
        changes = await self._store.read_changes(project, after_seq, limit)
        return [c for c in changes if c.seq > self.expired_before]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def expected(store: Store) -> list[Flag]:
    return sorted((await store.load_project(PROJECT)).flags.values(), key=lambda f: f.key)


async def test_flags__creates_updates_archive_delete__same_as_reading_whole(
    store: Store, alice: Actor
) -> None:
    services = await project_services(store, alice)
    for key in ("a", "b", "c"):
        await services.flags.create_flag(alice, PROJECT, boolean_flag(key))
    counting = Counting(store)
    kept = ProjectFlags(counting)  # type: ignore[arg-type]
    assert await kept.flags(PROJECT) == await expected(store)

    await services.flags.set_enabled_in(alice, PROJECT, "b", ["production"])
    await services.flags.create_flag(alice, PROJECT, boolean_flag("d"))
    await services.flags.delete_flag(alice, PROJECT, "a")
    await services.flags.update_flag(alice, PROJECT, "c", {"archived": True})
    got = await kept.flags(PROJECT)

    assert got == await expected(store)
    assert [f.key for f in got] == ["b", "c", "d"]
    assert counting.loads == 1  # read whole once; then only what changed
    assert sorted(counting.gets) == ["a", "b", "c", "d"]


async def test_flags__nothing_changed__no_flag_read(store: Store, alice: Actor) -> None:
    services = await project_services(store, alice)
    await services.flags.create_flag(alice, PROJECT, boolean_flag("a"))
    counting = Counting(store)
    kept = ProjectFlags(counting)  # type: ignore[arg-type]

    first = await kept.flags(PROJECT)
    again = await kept.flags(PROJECT)

    assert again == first
    assert (counting.loads, counting.gets) == (1, [])


async def test_flags__log_no_longer_reaches_back__read_whole_again(
    store: Store, alice: Actor
) -> None:
    services = await project_services(store, alice)
    await services.flags.create_flag(alice, PROJECT, boolean_flag("a"))
    counting = Counting(store)
    kept = ProjectFlags(counting)  # type: ignore[arg-type]
    await kept.flags(PROJECT)
    seq = await store.get_seq(PROJECT)
    await services.flags.create_flag(alice, PROJECT, boolean_flag("b"))
    await services.flags.create_flag(alice, PROJECT, boolean_flag("c"))
    counting.expired_before = seq + 1  # the entry right after what is kept has expired

    got = await kept.flags(PROJECT)

    assert [f.key for f in got] == ["a", "b", "c"]
    assert counting.loads == 2
    assert counting.gets == []


async def test_flags__more_projects_than_kept__least_recent_read_whole_again(
    store: Store, alice: Actor
) -> None:
    services = await project_services(store, alice)
    await services.projects.create_project(alice, Project(key="other", name="Other"))
    counting = Counting(store)
    kept = ProjectFlags(counting, max_projects=1)  # type: ignore[arg-type]

    await kept.flags(PROJECT)
    await kept.flags("other")
    await kept.flags(PROJECT)

    assert counting.loads == 3


async def test_tenants__onboarded_overridden_removed__same_as_reading_whole(
    store: Store, alice: Actor
) -> None:
    services = await project_services(store, alice)
    await put_registry_flag(services, alice, "checkout", ON_IN_DEV)
    await services.tenants.onboard(alice, PROJECT, "acme")
    counting = Counting(store)
    kept = ProjectFlags(counting)  # type: ignore[arg-type]
    assert list((await kept.current(PROJECT)).tenants) == ["acme"]

    await services.tenants.onboard(alice, PROJECT, "globex")
    await services.tenants.set_override(alice, PROJECT, "acme", "checkout", "production", "on")
    await services.tenants.remove(alice, PROJECT, "globex")
    await services.tenants.onboard(alice, PROJECT, "initech")
    got = await kept.current(PROJECT)

    whole = await store.load_project(PROJECT)
    assert dict(got.tenants) == whole.tenants
    assert dict(got.flags) == whole.flags
    assert got.seq == whole.seq
    assert got.tenants["acme"].value("checkout", "production") == whole.tenants["acme"].value(
        "checkout", "production"
    )
    assert counting.loads == 1  # read whole once; then only the changed tenants
    assert counting.gets == []  # no flag changed
