"""One environment of a flag, in the order evaluation reads it, with its own Save.

Ids are ``<env>-<field>`` (``production-save``, ``production-target-0-keys``); messages
``error-<env>-<error key>``.
"""

from __future__ import annotations

import reflex as rx

from ff_admin.components.flag_fields import error, serve_picker, variant_select
from ff_admin.components.rule_builder import rule_builder
from ff_admin.state.flag_detail import FlagDetailState
from ff_admin.state.session import SessionState


def _section(
    title: str, hint: str, *children: rx.Component, action: rx.Component | None = None
) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(title, size="2", weight="bold"),
            rx.text(hint, size="1", color_scheme="gray"),
            action if action is not None else rx.fragment(),
            align="baseline",
            spacing="2",
        ),
        *children,
        spacing="2",
        width="100%",
    )


def _add(label: str, card: rx.Var, op: str, id: str) -> rx.Component:  # type: ignore[type-arg]
    return rx.cond(
        SessionState.can_edit,
        rx.button(
            rx.icon("plus", size=14),
            label,
            size="1",
            variant="soft",
            on_click=FlagDetailState.edit(card.env, op, []),
            id=card.env + "-" + id,
        ),
    )


def _remove(card: rx.Var, op: str, i: rx.Var[int], id: rx.Var[str]) -> rx.Component:  # type: ignore[type-arg]
    return rx.cond(
        SessionState.can_edit,
        rx.icon_button(
            rx.icon("x", size=14),
            on_click=FlagDetailState.edit(card.env, op, [i]),
            variant="ghost",
            size="1",
            id=id,
            aria_label="Remove",
        ),
    )


def _errors(card: rx.Var, where: rx.Var[str] | str, *names: str) -> list[rx.Component]:  # type: ignore[type-arg]
    return [
        error(card.errors, where + "." + n, "error-" + card.env + "-" + where + "." + n)
        for n in names
    ]


def _prerequisites(card: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    env = card.env

    def row(p: rx.Var, i: rx.Var[int]) -> rx.Component:  # type: ignore[type-arg]
        ids = env + "-prerequisite-" + i.to_string()
        where = "prerequisites." + i.to_string()

        def update(name: str):  # type: ignore[no-untyped-def]
            return lambda v: FlagDetailState.update(env, "prerequisite", [i], name, v)

        return rx.vstack(
            rx.hstack(
                rx.select.root(
                    rx.select.trigger(placeholder="flag", id=ids + "-flag", min_width="12em"),
                    rx.select.content(
                        rx.foreach(
                            FlagDetailState.other_flags, lambda k: rx.select.item(k, value=k)
                        )
                    ),
                    value=p.flag,
                    on_change=update("flag"),
                    disabled=~SessionState.can_edit,
                ),
                rx.text("is", size="2"),
                variant_select(
                    p.variant,
                    FlagDetailState.flag_variants.get(p.flag, []).to(list[str]),
                    update("variant"),
                    ids + "-variant",
                    ~SessionState.can_edit,
                ),
                _remove(card, "remove_prerequisite", i, ids + "-remove"),
                align="center",
                spacing="2",
            ),
            *_errors(card, where, "flag", "variant"),
            error(card.errors, where, "error-" + env + "-" + where),
            spacing="1",
        )

    return _section(
        "Prerequisites",
        "other flags that must serve a variant first",
        rx.foreach(card.form.prerequisites, row),
        error(card.errors, "prerequisites", "error-" + env + "-prerequisites"),
        action=_add("Prerequisite", card, "add_prerequisite", "add-prerequisite"),
    )


def _targets(card: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    env = card.env

    def row(t: rx.Var, i: rx.Var[int]) -> rx.Component:  # type: ignore[type-arg]
        ids = env + "-target-" + i.to_string()

        def update(name: str):  # type: ignore[no-untyped-def]
            return lambda v: FlagDetailState.update(env, "target", [i], name, v)

        return rx.vstack(
            rx.hstack(
                variant_select(
                    t.variant,
                    card.form.variants,
                    update("variant"),
                    ids + "-variant",
                    ~SessionState.can_edit,
                ),
                rx.text("for", size="2"),
                rx.input(
                    value=t.keys_text,
                    on_change=update("keys_text"),
                    placeholder="keys, comma-separated",
                    disabled=~SessionState.can_edit,
                    flex="1",
                    min_width="14em",
                    id=ids + "-keys",
                ),
                rx.text("by", size="1", color_scheme="gray"),
                rx.input(
                    value=t.attribute,
                    on_change=update("attribute"),
                    disabled=~SessionState.can_edit,
                    width="9em",
                    size="1",
                    id=ids + "-attribute",
                ),
                _remove(card, "remove_target", i, ids + "-remove"),
                align="center",
                spacing="2",
                width="100%",
                wrap="wrap",
            ),
            *_errors(card, "targets." + i.to_string(), "variant", "keys", "attribute"),
            error(
                card.errors,
                "targets." + i.to_string(),
                "error-" + env + "-targets." + i.to_string(),
            ),
            spacing="1",
            width="100%",
        )

    return _section(
        "Targets",
        "these keys always get a variant",
        rx.foreach(card.form.targets, row),
        error(card.errors, "targets", "error-" + env + "-targets"),
        action=_add("Target", card, "add_target", "add-target"),
    )


def _fallthrough(card: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    env, form = card.env, card.form
    readonly = ~SessionState.can_edit

    def update(name: str):  # type: ignore[no-untyped-def]
        return lambda v: FlagDetailState.update(env, "form", [], name, v)

    return _section(
        "Default",
        "when no target or rule matches",
        rx.hstack(
            serve_picker(
                mode=form.fallthrough_mode,
                variant=form.fallthrough_variant,
                rollout=form.fallthrough_rollout,
                bucket_by=form.fallthrough_bucket_by,
                variants=form.variants,
                update=update,
                fields=("fallthrough_mode", "fallthrough_variant", "fallthrough_bucket_by"),
                on_weight=lambda j, v: FlagDetailState.update(
                    env, "fallthrough_weight", [j], "weight", v
                ),
                ids=(
                    env + "-fallthrough-mode",
                    env + "-fallthrough-variant",
                    env + "-fallthrough",
                    env + "-fallthrough-bucket-by",
                ),
                readonly=readonly,
            ),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        *_errors(card, "fallthrough", "variant", "rollout", "bucket_by"),
    )


def _header(card: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    env, form = card.env, card.form
    return rx.hstack(
        rx.heading(env, size="4"),
        rx.badge("v" + form.version.to_string(), variant="soft", color_scheme="gray"),
        rx.cond(card.dirty, rx.badge("unsaved", color_scheme="amber", id=env + "-dirty")),
        rx.spacer(),
        rx.text("when off, serve", size="1", color_scheme="gray"),
        variant_select(
            form.off_variant,
            form.variants,
            lambda v: FlagDetailState.update(env, "form", [], "off_variant", v),
            env + "-off-variant",
            ~SessionState.can_edit,
        ),
        rx.switch(
            checked=form.enabled,
            on_change=lambda v: FlagDetailState.update(env, "form", [], "enabled", v),
            disabled=~SessionState.can_edit,
            id=env + "-enabled",
        ),
        rx.text(rx.cond(form.enabled, "On", "Off"), size="2", weight="medium"),
        align="center",
        spacing="2",
        width="100%",
        wrap="wrap",
    )


def _notices(card: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    env = card.env
    load_latest = rx.button(
        "Load latest",
        size="1",
        variant="soft",
        on_click=FlagDetailState.load_latest(env),
        id=env + "-load-latest",
    )
    return rx.cond(
        card.conflict != "",
        rx.callout(
            rx.hstack(
                rx.text(card.conflict), load_latest, align="center", spacing="3", wrap="wrap"
            ),
            icon="triangle-alert",
            color_scheme="red",
            id=env + "-conflict",
            width="100%",
        ),
        rx.cond(
            card.outdated,
            rx.callout(
                rx.hstack(
                    rx.text("Changed elsewhere meanwhile; your unsaved edits are kept here."),
                    load_latest,
                    align="center",
                    spacing="3",
                    wrap="wrap",
                ),
                icon="info",
                color_scheme="amber",
                id=env + "-outdated",
                width="100%",
            ),
        ),
    )


def _footer(card: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    env = card.env
    return rx.cond(
        SessionState.can_edit,
        rx.hstack(
            rx.input(
                value=card.note,
                on_change=lambda v: FlagDetailState.set_note(env, v),
                placeholder="What changed and why (kept in the history)",
                flex="1",
                id=env + "-note",
            ),
            rx.button(
                "Save " + env,
                on_click=FlagDetailState.save(env),
                disabled=~card.dirty,
                id=env + "-save",
            ),
            width="100%",
            spacing="2",
        ),
    )


def env_card(card: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    env = card.env
    return rx.card(
        rx.vstack(
            _header(card),
            _notices(card),
            rx.separator(),
            _prerequisites(card),
            _targets(card),
            rule_builder(card),
            _fallthrough(card),
            error(card.errors, "off_variant", "error-" + env + "-off_variant"),
            error(card.errors, "form", "error-" + env + "-form"),
            _footer(card),
            spacing="4",
            width="100%",
        ),
        width="100%",
        id="env-" + env,
        class_name="env-card",
        data_dirty=card.dirty.to_string(),
        data_version=card.form.version.to_string(),
        border=rx.cond(env == FlagDetailState.focus, f"1px solid {rx.color('iris', 8)}", "none"),
    )
