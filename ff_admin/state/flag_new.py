"""The create-flag form: fields as typed, the key slugged from the name, errors by field."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import reflex as rx
from reflex_base.event import EventSpec

from ff_admin.backend import current
from ff_admin.logic.flag_form import NewFlagForm, VariantRow, parse_new_flag
from ff_admin.logic.slug import slugify
from ff_admin.state.guard import grant
from ff_admin.state.session import SessionState
from ff_core.errors import AlreadyExists, FFError, InvalidDefinition
from ff_core.models import FlagKind, Role, ValueType

# The rows a non-boolean flag starts with (the first is served "on", the last "off").
_STARTER_VARIANTS = {
    ValueType.STRING.value: [VariantRow("control", ""), VariantRow("treatment", "")],
    ValueType.NUMBER.value: [VariantRow("low", ""), VariantRow("high", "")],
    ValueType.JSON.value: [VariantRow("default", "{}")],
}


class FlagNewState(rx.State):
    name: str = ""
    key: str = ""
    # Once the key is typed by hand, the name no longer fills it.
    key_edited: bool = False
    kind: str = FlagKind.RELEASE.value
    value_type: str = ValueType.BOOLEAN.value
    description: str = ""
    tags: str = ""
    variants: list[VariantRow] = []
    initial_rollout: int = 100
    client_visible: bool = False
    temporary: bool = True
    errors: dict[str, str] = {}

    @rx.event
    async def load(self) -> list[EventSpec] | None:
        """A blank form for each visit; none in a registry-enforced project (its flags come
        from the registry file), whose visitors go back to the list."""
        self.reset()  # type: ignore[no-untyped-call]
        session = await self.get_state(SessionState)
        if not session.project:
            return None
        try:
            project = await current().services.projects.get_project(session.project)
        except FFError as exc:
            return [rx.toast.error(exc.message)]
        if not project.registry_enforced:
            return None
        return [
            rx.redirect(f"/flags?{urlencode({'p': session.project})}"),
            rx.toast.info(
                f"Project {session.project}'s flags come from its registry file: add the flag "
                "there and run `ff registry sync`",
                id="toast-registry-enforced",
            ),
        ]

    @rx.event
    def set_name(self, name: str) -> None:
        self.name = name
        if not self.key_edited:
            self.key = slugify(name)
        self.errors.pop("name", None)

    @rx.event
    def set_key(self, key: str) -> None:
        self.key = key
        # Cleared, the key follows the name again.
        self.key_edited = key != ""
        if not key:
            self.key = slugify(self.name)
        self.errors.pop("key", None)

    @rx.event
    def set_field(self, name: str, value: str | bool) -> None:
        """Set one of the simple fields (kind, description, tags, switches)."""
        texts, switches = ("kind", "description", "tags"), ("client_visible", "temporary")
        if isinstance(value, bool) == (name in switches) and name in texts + switches:
            setattr(self, name, value)
        self.errors.pop(name, None)

    @rx.event
    def set_value_type(self, value_type: str) -> None:
        self.value_type = value_type
        if not self.variants:
            self.variants = [dataclasses.replace(r) for r in _STARTER_VARIANTS.get(value_type, [])]
        self.errors = {k: v for k, v in self.errors.items() if not k.startswith("variants")}

    @rx.event
    def set_rollout(self, value: list[int | float]) -> None:
        self.initial_rollout = int(value[0]) if value else 100

    @rx.event
    def add_variant(self) -> None:
        self.variants = [*self.variants, VariantRow()]

    @rx.event
    def remove_variant(self, i: int) -> None:
        self.variants = [r for j, r in enumerate(self.variants) if j != i]
        self.errors = {k: v for k, v in self.errors.items() if not k.startswith("variants")}

    @rx.event
    def set_variant(self, i: int, field: str, value: str) -> None:
        if field in ("key", "value") and 0 <= i < len(self.variants):
            rows = list(self.variants)
            rows[i] = dataclasses.replace(rows[i], **{field: value})
            self.variants = rows
            self.errors.pop(f"variants.{i}.{field}", None)

    def _form(self) -> NewFlagForm:
        return NewFlagForm(
            name=self.name,
            key=self.key,
            kind=self.kind,
            value_type=self.value_type,
            description=self.description,
            tags=self.tags,
            variants=list(self.variants),
            initial_rollout=self.initial_rollout,
            client_visible=self.client_visible,
            temporary=self.temporary,
        )

    @rx.event
    async def create(self) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        flag, self.errors = parse_new_flag(self._form(), session.environments)
        if flag is None:
            return
        try:
            who = await grant(self, session.project, Role.EDITOR)
            await current().services.flags.create_flag(who.actor, session.project, flag)
        except (AlreadyExists, InvalidDefinition) as exc:
            self.errors = {"key" if isinstance(exc, AlreadyExists) else "form": exc.message}
            return
        except FFError as exc:
            yield rx.toast.error(exc.message)
            return
        query = urlencode({"p": session.project, "key": flag.key, "env": session.environment})
        self.reset()  # type: ignore[no-untyped-call]
        yield rx.redirect(f"/flag?{query}")
        yield rx.toast.success(f"Flag {flag.key} created")
