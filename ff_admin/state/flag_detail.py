"""One flag: its header and usage, and an editor card per environment.

Each card holds an ``EnvForm`` loaded at some config version. Edits are pure functions of
``ff_admin.logic.env_edits``; saving sends that version as ``expected_version``, so a
change made meanwhile elsewhere is refused, never overwritten. Live updates refresh the
cards without unsaved edits; a card with edits keeps them and says it is out of date.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import reflex as rx
from reflex_base.event import EventSpec

from ff_admin.backend import current
from ff_admin.logic import env_edits
from ff_admin.logic.env_form import EnvForm, from_form, to_form
from ff_admin.state import live
from ff_admin.state.guard import grant
from ff_admin.state.session import SessionState
from ff_core import registry
from ff_core.errors import FFError, InvalidDefinition, NotInRegistry, VersionConflict
from ff_core.evaluation import default_environment_config
from ff_core.models import Flag, FlagUsage, Role
from ff_core.services.writer import utcnow


@dataclass
class EnvCard:
    env: str = ""
    form: EnvForm = field(default_factory=EnvForm)
    # Messages by the form's field names (see ff_admin.logic.env_form).
    errors: dict[str, str] = field(default_factory=dict)
    note: str = ""
    # Edited since loaded: live updates leave the card alone.
    dirty: bool = False
    # Changed elsewhere while this card has unsaved edits.
    outdated: bool = False
    # Why the last save was refused as out of date; the edits stay on screen.
    conflict: str = ""


@dataclass
class UsageRow:
    env: str = ""
    # ISO 8601, or "" when never evaluated there.
    last_evaluated: str = ""
    recent: int = 0
    stale: bool = True


@dataclass
class VariantView:
    key: str = ""
    value: str = ""


# Structural edits: rows added, removed or moved (indices after them shift).
_EDITS: dict[str, Callable[..., EnvForm]] = {
    f.__name__: f
    for f in (
        env_edits.add_target,
        env_edits.remove_target,
        env_edits.add_rule,
        env_edits.remove_rule,
        env_edits.move_rule,
        env_edits.add_clause,
        env_edits.remove_clause,
        env_edits.add_prerequisite,
        env_edits.remove_prerequisite,
    )
}


def _update_form(form: EnvForm, **changes: Any) -> EnvForm:
    return dataclasses.replace(form, **changes)


# Field updates: the row kind -> (the edit, the fields it may set).
_UPDATES: dict[str, tuple[Callable[..., EnvForm], frozenset[str]]] = {
    "form": (
        _update_form,
        frozenset(
            {
                "enabled",
                "off_variant",
                "fallthrough_mode",
                "fallthrough_variant",
                "fallthrough_bucket_by",
            }
        ),
    ),
    "target": (env_edits.update_target, frozenset({"variant", "keys_text", "attribute"})),
    "rule": (
        env_edits.update_rule,
        frozenset({"description", "mode", "serve_variant", "bucket_by"}),
    ),
    "clause": (
        env_edits.update_clause,
        frozenset({"attribute", "operator", "values_text", "negate", "segment"}),
    ),
    "rule_weight": (env_edits.update_rule_weight, frozenset({"weight"})),
    "fallthrough_weight": (env_edits.update_fallthrough_weight, frozenset({"weight"})),
    "prerequisite": (env_edits.update_prerequisite, frozenset({"flag", "variant"})),
}


def error_scopes(kind: str, args: list[int], name: str) -> tuple[str, ...]:
    """The error keys an update answers (each with every key under it)."""
    if kind == "form":
        return ("fallthrough",) if name.startswith("fallthrough") else (name,)
    if kind == "target":
        return (f"targets.{args[0]}",)
    if kind == "rule":
        rule = f"rules.{args[0]}"
        if name == "description":
            return (f"{rule}.description",)
        return (f"{rule}.serve_variant", f"{rule}.rollout", f"{rule}.bucket_by")
    if kind == "clause":
        return (f"rules.{args[0]}.clauses.{args[1]}",)
    if kind == "rule_weight":
        return (f"rules.{args[0]}.rollout",)
    if kind == "fallthrough_weight":
        return ("fallthrough.rollout",)
    return (f"prerequisites.{args[0]}",)


def _without(errors: dict[str, str], scopes: tuple[str, ...]) -> dict[str, str]:
    return {
        k: v for k, v in errors.items() if not any(k == s or k.startswith(s + ".") for s in scopes)
    }


def service_error_key(exc: InvalidDefinition, env: str) -> str:
    """Where a refusal of the service belongs: ``environments.<env>.rules`` -> ``rules``."""
    name = str(exc.details.get("field") or "").removeprefix(f"environments.{env}.")
    return name if name in ("rules", "targets", "prerequisites", "off_variant") else "form"


def conflict_message(who: str) -> str:
    return (
        f"Changed by {who} meanwhile — reload to see it; your edits were not saved. "
        "Load latest discards them."
    )


class FlagDetailState(rx.State):
    key: str = ""
    missing: str = ""
    name: str = ""
    description: str = ""
    kind: str = ""
    value_type: str = ""
    tags: list[str] = []
    temporary: bool = False
    client_visible: bool = False
    archived: bool = False
    internal_only: bool = False
    # In the project's registry: its definition (REGISTRY_FIELDS) comes from the file.
    in_registry: bool = False
    # Stored but not in the registry of a project that enforces it: writes are refused.
    orphan: bool = False
    # Environments where the flag serves its registry default.
    default_envs: list[str] = []
    variants: list[VariantView] = []
    last_evaluated: str = ""
    stale: bool = True
    usage: list[UsageRow] = []
    cards: list[EnvCard] = []
    # The environment the page was opened for (highlighted).
    focus: str = ""
    segments: list[str] = []
    # Other flags of the project and their variants, for prerequisites.
    other_flags: list[str] = []
    flag_variants: dict[str, list[str]] = {}
    _flag: Flag | None = None
    _editor: bool = False
    _seen: int = 0

    # -- reading -----------------------------------------------------------------------------

    async def _reload(self) -> None:
        session = await self.get_state(SessionState)
        backend = current()
        who = await grant(self, session.project)
        self._editor = who.role.allows(Role.EDITOR)
        self._seen = await backend.store.get_seq(session.project)
        project = await backend.services.projects.get_project(session.project)
        flags = {f.key: f for f in await backend.services.flags.list_flags(session.project)}
        flag = flags.get(self.key)
        if flag is None:
            self.missing, self.cards, self._flag = f"flag {self.key!r} not found", [], None
            return
        self.segments = [
            s.key for s in await backend.services.segments.list_segments(session.project)
        ]
        usage = await backend.store.get_flag_usage(session.project, self.key, now=utcnow())
        self.other_flags = [k for k in flags if k != self.key]
        self.flag_variants = {k: list(f.variants) for k, f in flags.items() if k != self.key}
        self.orphan = project.registry_enforced and flag.registry is None
        self._show(flag, usage, session.environments)

    def _show(self, flag: Flag, usage: FlagUsage, environments: list[str]) -> None:
        self._flag, self.missing = flag, ""
        self.name, self.description, self.tags = flag.name, flag.description, list(flag.tags)
        self.kind, self.value_type = flag.kind.value, flag.value_type.value
        self.temporary, self.client_visible = flag.temporary, flag.client_visible
        self.archived, self.internal_only = flag.archived, flag.internal_only
        self.in_registry = flag.registry is not None
        self.default_envs = [env for env in environments if registry.is_default(flag, env)]
        self.variants = [VariantView(k, json.dumps(v.value)) for k, v in flag.variants.items()]
        self.last_evaluated = usage.last_evaluated.isoformat() if usage.last_evaluated else ""
        self.stale = usage.stale
        self.usage = [_usage_row(env, usage) for env in environments]
        cards = {c.env: c for c in self.cards}
        self.cards = [_merge(cards.get(env), env, _form_for(flag, env)) for env in environments]

    @rx.event
    async def load(self) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        if not session.project:
            return
        params = self.router.url.query_parameters
        self.key, self.focus, self.cards = params.get("key", ""), session.environment, []
        self.name = self.missing = ""
        try:
            await self._reload()
        except FFError as exc:
            self.missing = exc.message
            yield rx.toast.error(exc.message)
            return
        yield FlagDetailState.follow

    @rx.event(background=True)
    async def follow(self) -> None:
        await live.follow(self, self._refresh)

    async def _refresh(self) -> None:
        # A live refresh that fails leaves the page as it was; the next one may succeed.
        try:
            await self._reload()
        except FFError:
            return

    # -- editing (pure, per card) ------------------------------------------------------------

    def _card(self, env: str) -> EnvCard | None:
        return next((c for c in self.cards if c.env == env), None)

    def _put(self, card: EnvCard) -> None:
        self.cards = [card if c.env == card.env else c for c in self.cards]

    @rx.event
    def edit(self, env: str, op: str, args: list[int]) -> None:
        """Add, remove or move a row (``op`` names an ``env_edits`` function)."""
        card = self._card(env)
        if card is None or op not in _EDITS or not self._editor:
            return
        form = _EDITS[op](card.form, *args)
        self._put(dataclasses.replace(card, form=form, dirty=True, errors={}))

    @rx.event
    def update(self, env: str, kind: str, args: list[int], name: str, value: str | bool) -> None:
        """Set field ``name`` of a row of ``kind`` (``form`` for the card's own fields)."""
        card = self._card(env)
        if card is None or kind not in _UPDATES or not self._editor:
            return
        edit, allowed = _UPDATES[kind]
        if name not in allowed:
            return
        form = edit(card.form, *args, **{name: value})
        errors = _without(card.errors, error_scopes(kind, args, name))
        self._put(dataclasses.replace(card, form=form, dirty=True, errors=errors))

    @rx.event
    def set_note(self, env: str, note: str) -> None:
        card = self._card(env)
        if card is not None:
            self._put(dataclasses.replace(card, note=note))

    # -- writing -----------------------------------------------------------------------------

    @rx.event
    async def save(self, env: str) -> AsyncIterator[EventSpec | None]:
        card = self._card(env)
        if card is None or self._flag is None:
            return
        config, errors = from_form(card.form, self._flag)
        if config is None:
            self._put(dataclasses.replace(card, errors=errors))
            yield rx.toast.error(f"{env}: check the marked fields; nothing was saved")
            return
        session = await self.get_state(SessionState)
        try:
            who = await grant(self, session.project, Role.EDITOR)
            flag = await current().services.flags.update_environment(
                who.actor,
                session.project,
                self.key,
                env,
                config,
                expected_version=card.form.version,
                note=card.note.strip(),
            )
        except VersionConflict:
            message = conflict_message(await self._changed_by(env))
            self._put(dataclasses.replace(card, conflict=message, outdated=True))
            return
        except NotInRegistry as exc:
            # About the whole flag, not a field of the card: the edits stay for a retry.
            yield rx.toast.error(exc.message, id="toast-not-in-registry")
            return
        except InvalidDefinition as exc:
            self._put(dataclasses.replace(card, errors={service_error_key(exc, env): exc.message}))
            return
        except FFError as exc:
            yield rx.toast.error(exc.message)
            return
        self._flag = flag
        self._put(EnvCard(env=env, form=_form_for(flag, env)))
        yield rx.toast.success(f"{self.key} saved in {env}")

    async def _changed_by(self, env: str) -> str:
        """Who wrote ``env`` of the flag last, from its history."""
        session = await self.get_state(SessionState)
        try:
            page = await current().services.flags.list_history(session.project, self.key, limit=20)
        except FFError:
            return "someone else"
        for entry in page.items:
            if env in entry.environments or entry.environment == env:
                return entry.actor.email or entry.actor.name or entry.actor.subject
        return "someone else"

    @rx.event
    async def load_latest(self, env: str) -> AsyncIterator[EventSpec | None]:
        """Drop the card's edits and show what is stored now."""
        session = await self.get_state(SessionState)
        try:
            await grant(self, session.project)
            flag = await current().services.flags.get_flag(session.project, self.key)
        except FFError as exc:
            yield rx.toast.error(exc.message)
            return
        self._flag = flag
        self._put(EnvCard(env=env, form=_form_for(flag, env)))


def _form_for(flag: Flag, env: str) -> EnvForm:
    return to_form(flag.environments.get(env) or default_environment_config(flag), flag)


def _merge(card: EnvCard | None, env: str, fresh: EnvForm) -> EnvCard:
    """The card as stored now, unless it has unsaved edits: then marked out of date."""
    if card is None or not card.dirty:
        return EnvCard(env=env, form=fresh)
    if card.form.version != fresh.version:
        return dataclasses.replace(card, outdated=True)
    return card


def _usage_row(env: str, usage: FlagUsage) -> UsageRow:
    found = usage.environments.get(env)
    if found is None:
        return UsageRow(env=env)
    last = found.last_evaluated.isoformat() if found.last_evaluated else ""
    return UsageRow(env=env, last_evaluated=last, recent=found.recent, stale=found.stale)
