"""Registry sync: make a project's flags what its registry file says (docs/REGISTRY.md).

The registry owns some fields of its flags (``REGISTRY_FIELDS``, the defaults); admins own
the rest, and every environment an admin changed. So a sync never overwrites an admin's
config: an environment still at its registry default moves to the new default, any other
keeps its state and is reported. Tenants onboarded earlier keep their explicit state
whatever a sync does (their values are stored per tenant, DESIGN 2).

FlagService refuses changing registry-owned fields in an enforced project, so a sync
writes with its own plans through the Writer: every write audited, one transaction each.
Everything is validated before the first write; a sync that applies nothing writes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from ff_core.errors import InvalidDefinition
from ff_core.models import Action, Actor, EntityKind, Flag, Project, RegistryDefinition
from ff_core.registry import Problem, Registry, RegistryInvalid, default_config, is_default
from ff_core.services.checks import REGISTRY_FIELDS, check_references, dependents
from ff_core.services.writer import Change, Plan, Writer
from ff_core.store import Entity, ProjectState, Store
from ff_core.validation import validated

NOTE = "registry sync"
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class FlagUpdate:
    key: str
    # Registry-owned fields that change ("default": the defaults; "registry": adopted).
    fields: tuple[str, ...]
    # Environments moved to the new default (they were at the old one, or had no config).
    environments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KeptDefault:
    """An environment whose registry default changed, but which an admin changed: the sync
    leaves it as it is (the new default still applies to tenants onboarded from now on)."""

    key: str
    environment: str
    default: str


@dataclass(frozen=True, slots=True)
class Orphan:
    """A stored flag the file does not list."""

    key: str
    # Still in the registry: the sync takes it out (state kept, writes refused).
    registered: bool
    # Flags that name it as a prerequisite (a prune is refused while there are any).
    dependents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SyncPlan:
    project: str
    create: list[str] = field(default_factory=list)
    update: list[FlagUpdate] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)
    kept: list[KeptDefault] = field(default_factory=list)
    # The project's registry_enforced turns on.
    enforce: bool = False
    prune: bool = False

    @property
    def writes(self) -> int:
        """Transactions the sync commits: one per flag created, updated, un-registered or
        pruned, and one for the project."""
        orphans = len(self.orphans) if self.prune else sum(o.registered for o in self.orphans)
        return len(self.create) + len(self.update) + orphans + int(self.enforce)

    @property
    def pending(self) -> bool:
        return self.writes > 0


@dataclass(frozen=True, slots=True)
class SyncReport:
    plan: SyncPlan
    dry_run: bool
    # Transactions committed (0 on a dry run, or when another writer got there first).
    written: int


class RegistryService:
    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._store = writer.store

    async def plan(self, project: str, registry: Registry, *, prune: bool = False) -> SyncPlan:
        """What a sync of ``registry`` would write; RegistryInvalid lists every refusal."""
        state = await self._store.load_project(project)
        wanted = _wanted(state.project, registry)
        plan = SyncPlan(project, enforce=not state.project.registry_enforced, prune=prune)
        problems: list[Problem] = []
        for key, want in wanted.items():
            old = state.flags.get(key)
            if old is None:
                plan.create.append(key)
                continue
            try:
                outcome = _update(old, want, state, self._writer.clock())
            except InvalidDefinition as exc:
                problems.append(Problem(key, str(exc.details.get("field", "(flag)")), exc.message))
                continue
            if outcome is None:
                plan.unchanged.append(key)
                continue
            plan.update.append(outcome[1])
            plan.kept.extend(outcome[2])
        remaining = {k: f for k, f in state.flags.items() if k in wanted or not prune}
        for key in sorted(state.flags.keys() - wanted.keys()):
            flag = state.flags[key]
            needed_by = tuple(dependents(key, remaining))
            plan.orphans.append(Orphan(key, flag.registry is not None, needed_by))
            if prune and needed_by:
                problems.append(
                    Problem(
                        key,
                        "(prune)",
                        f"cannot prune flag {key!r}: it is a prerequisite of {list(needed_by)} "
                        "in some environment; remove that prerequisite first",
                    )
                )
        if problems:
            raise RegistryInvalid(problems)
        return plan

    async def sync(
        self,
        actor: Actor,
        project: str,
        registry: Registry,
        *,
        prune: bool = False,
        dry_run: bool = False,
        note: str = NOTE,
        progress: Progress | None = None,
    ) -> SyncReport:
        """Create and update the registry's flags, un-register (or, with ``prune``, delete)
        orphans and enforce the registry in ``project``. Syncing the same file twice writes
        nothing the second time."""
        plan = await self.plan(project, registry, prune=prune)
        if dry_run or not plan.pending:
            return SyncReport(plan, dry_run, 0)
        view = _View(self._store, await self._store.load_project(project))
        wanted = _wanted(view.state.project, registry)
        written = 0
        for key in [*plan.create, *(u.key for u in plan.update)]:
            written += await self._put(actor, view, wanted[key], note)
            _tick(progress, key)
        orphans = [o.key for o in plan.orphans if prune or o.registered]
        for key in _dependents_first(orphans, view.state):
            written += await self._orphan(actor, view, key, prune, note)
            _tick(progress, key)
        if plan.enforce:
            written += await self._enforce(actor, view, note)
            _tick(progress, project)
        return SyncReport(plan, False, written)

    async def _put(self, actor: Actor, view: _View, want: Flag, note: str) -> int:
        current = view.planner()

        async def plan() -> Change | None:
            state = await current()
            now = self._writer.clock()
            old = state.flags.get(want.key)
            if old is not None:
                outcome = _update(old, want, state, now)
                return None if outcome is None else outcome[0]
            version = await self._writer.next_version(state.project.key, EntityKind.FLAG, want.key)
            envs = state.project.environment_keys()
            configs = {env: default_config(want, env, version) for env in envs}
            new = validated(
                lambda: want.replace(
                    environments=configs,
                    registry=_definition(want, now),
                    version=version,
                    created_at=now,
                    updated_at=now,
                ),
                "flag",
            )
            # No check_references: a default config names no prerequisite or segment, and no
            # flag can name a flag that does not exist (it is O(flags) per write).
            return Change(old=None, new=new, action=Action.CREATED, environments=tuple(envs))

        request = {"op": "registry_sync", "flag": want.model_dump(mode="json", exclude={"salt"})}
        return await self._apply(actor, view, EntityKind.FLAG, want.key, request, plan, note)

    async def _orphan(self, actor: Actor, view: _View, key: str, prune: bool, note: str) -> int:
        current = view.planner()

        async def plan() -> Change | None:
            state = await current()
            old = state.flags.get(key)
            if old is None:
                return None
            if prune:
                needed_by = dependents(key, state.flags)
                if needed_by:
                    raise InvalidDefinition(
                        f"cannot prune flag {key!r}: it is a prerequisite of {needed_by}",
                        field="key",
                        dependents=needed_by,
                    )
                return Change(old, None, Action.DELETED, tuple(old.environments))
            if old.registry is None:
                return None
            new = validated(
                lambda: old.replace(
                    registry=None, version=old.version + 1, updated_at=self._writer.clock()
                ),
                "flag",
            )
            return Change(old=old, new=new, action=Action.UPDATED)

        request = {"op": "registry_prune" if prune else "registry_unregister"}
        return await self._apply(actor, view, EntityKind.FLAG, key, request, plan, note)

    async def _enforce(self, actor: Actor, view: _View, note: str) -> int:
        current = view.planner()

        async def plan() -> Change | None:
            old = (await current()).project
            if old.registry_enforced:
                return None
            new = validated(
                lambda: old.replace(registry_enforced=True, version=old.version + 1), "project"
            )
            return Change(old=old, new=new, action=Action.UPDATED)

        key = view.state.project.key
        request = {"op": "registry_enforce"}
        return await self._apply(actor, view, EntityKind.PROJECT, key, request, plan, note)

    async def _apply(
        self,
        actor: Actor,
        view: _View,
        entity: EntityKind,
        key: str,
        request: Mapping[str, object],
        plan: Plan,
        note: str,
    ) -> int:
        """1 when a change was committed, 0 when the plan found nothing left to do."""
        changes: list[Change | None] = []

        async def tracked() -> Change | None:
            changes.append(await plan())
            return changes[-1]

        project = view.state.project.key
        written = await self._writer.apply(actor, project, entity, key, request, tracked, note=note)
        if not changes or changes[-1] is None:
            return 0
        view.wrote(entity, key, written)
        return 1


class _View:
    """The project as this sync last saw it. Each write plans on it first, and reads the
    store again only when its commit lost a race (the Writer then plans once more): one
    whole-project read per write would make a sync of N flags read N² items."""

    def __init__(self, store: Store, state: ProjectState) -> None:
        self._store = store
        self.state = state

    def planner(self) -> Callable[[], Awaitable[ProjectState]]:
        planned = False

        async def current() -> ProjectState:
            nonlocal planned
            if planned:
                self.state = await self._store.load_project(self.state.project.key)
            planned = True
            return self.state

        return current

    def wrote(self, entity: EntityKind, key: str, written: Entity | None) -> None:
        if entity is EntityKind.PROJECT:
            assert isinstance(written, Project)
            self.state = replace(self.state, project=written)
            return
        flags = dict(self.state.flags)
        if written is None:
            flags.pop(key, None)
        else:
            assert isinstance(written, Flag)
            flags[key] = written
        self.state = replace(self.state, flags=flags)


def _wanted(project: Project, registry: Registry) -> dict[str, Flag]:
    """The registry's flags for ``project``'s environments, or every problem with them."""
    envs = project.environment_keys()
    problems = [
        Problem(
            None,
            "environments",
            f"environment {env!r} is not in project {project.key!r} (its environments are {envs})",
        )
        for env in registry.file.environments or ()
        if env not in envs
    ]
    try:
        wanted = registry.flags(envs)
    except RegistryInvalid as exc:
        problems.extend(exc.problems)
        wanted = {}
    if problems:
        raise RegistryInvalid(problems)
    return wanted


def _definition(want: Flag, now: datetime) -> RegistryDefinition:
    assert want.registry is not None
    return RegistryDefinition(defaults=want.registry.defaults, synced_at=now)


def _update(
    old: Flag, want: Flag, state: ProjectState, now: datetime
) -> tuple[Change, FlagUpdate, list[KeptDefault]] | None:
    """The write that makes stored ``old`` what the registry wants (None: it already is)."""
    assert want.registry is not None
    defaults = want.registry.defaults
    fields = {name: getattr(want, name) for name in REGISTRY_FIELDS}
    # Keep the names and descriptions admins gave variants whose value the file keeps.
    fields["variants"] = {
        key: old.variants[key]
        if key in old.variants and old.variants[key].value == variant.value
        else variant
        for key, variant in want.variants.items()
    }
    changed = [name for name in sorted(REGISTRY_FIELDS) if getattr(old, name) != fields[name]]
    if old.registry is None:
        changed.append("registry")
    elif old.registry.defaults != defaults:
        changed.append("default")
    configs = dict(old.environments)
    moved: list[str] = []
    kept: list[KeptDefault] = []
    for env in state.project.environment_keys():
        current = old.environments.get(env)
        target = default_config(want, env)
        assert target is not None
        if current is not None and current.replace(version=0) == target:
            continue
        if current is None or is_default(old, env):
            configs[env] = target.replace(version=(current.version if current else old.version) + 1)
            moved.append(env)
        elif old.registry is None or old.registry.defaults.get(env) != defaults[env]:
            kept.append(KeptDefault(old.key, env, defaults[env]))
    if not changed and not moved:
        return None
    new = validated(
        lambda: old.replace(
            **fields,
            environments=configs,
            registry=_definition(want, now),
            version=old.version + 1,
            updated_at=now,
        ),
        "flag",
    )
    if "variants" in changed:
        # Another flag's prerequisite, or an admin's config, may need a variant the file
        # removes. Moving environments to a default only drops references: nothing to check.
        check_references(new, state.flags, state.segments, state.project.environment_keys())
    scope = tuple(state.project.environment_keys()) if changed else tuple(moved)
    change = Change(old=old, new=new, action=Action.UPDATED, environments=scope)
    return change, FlagUpdate(old.key, tuple(changed), tuple(moved)), kept


def _dependents_first(keys: list[str], state: ProjectState) -> list[str]:
    """``keys`` ordered so that a flag comes before the prerequisites it names."""
    pending = set(keys)
    ordered: list[str] = []
    while pending:
        ready = sorted(k for k in pending if not set(dependents(k, state.flags)) & pending)
        if not ready:  # a cycle cannot be stored; keep going in key order regardless
            ready = sorted(pending)
        ordered.extend(ready)
        pending -= set(ready)
    return ordered


def _tick(progress: Progress | None, what: str) -> None:
    if progress is not None:
        progress(what)
