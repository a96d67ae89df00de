"""An environment's ordered targeting rules: conditions ANDed, then what the rule serves.

Every element a test needs has an id ``<env>-rule-<i>[-clause-<j>]-<field>``; messages
are ``error-<env>-<error key>`` (the keys of ``ff_admin.logic.env_form``).
"""

from __future__ import annotations

import reflex as rx
from reflex_base.event import EventSpec

from ff_admin.components.flag_fields import error, serve_picker
from ff_admin.logic.env_form import NO_VALUE_OPERATORS, OPERATORS, SEGMENT_OPERATOR
from ff_admin.state.flag_detail import FlagDetailState
from ff_admin.state.session import SessionState


def _icon(icon: str, on_click: EventSpec, id: rx.Var[str], label: str) -> rx.Component:
    return rx.cond(
        SessionState.can_edit,
        rx.icon_button(
            rx.icon(icon, size=14),
            on_click=on_click,
            variant="ghost",
            size="1",
            id=id,
            aria_label=label,
            title=label,
        ),
    )


def _clause(card: rx.Var, i: rx.Var[int], clause: rx.Var, j: rx.Var[int]) -> rx.Component:  # type: ignore[type-arg]
    env = card.env
    where = "rules." + i.to_string() + ".clauses." + j.to_string()
    ids = env + "-rule-" + i.to_string() + "-clause-" + j.to_string()
    readonly = ~SessionState.can_edit

    def update(name: str):  # type: ignore[no-untyped-def]
        return lambda v: FlagDetailState.update(env, "clause", [i, j], name, v)

    is_segment = clause.operator == SEGMENT_OPERATOR
    needs_values = ~is_segment & ~rx.Var.create(NO_VALUE_OPERATORS).contains(clause.operator)
    return rx.vstack(
        rx.hstack(
            rx.text(rx.cond(j == 0, "if", "and"), size="1", color_scheme="gray", min_width="2.5em"),
            rx.cond(
                is_segment,
                rx.select.root(
                    rx.select.trigger(placeholder="segment", id=ids + "-segment", min_width="10em"),
                    rx.select.content(
                        rx.foreach(FlagDetailState.segments, lambda s: rx.select.item(s, value=s))
                    ),
                    value=clause.segment,
                    on_change=update("segment"),
                    disabled=readonly,
                ),
                rx.input(
                    value=clause.attribute,
                    on_change=update("attribute"),
                    placeholder="attribute, e.g. country",
                    disabled=readonly,
                    width="12em",
                    id=ids + "-attribute",
                ),
            ),
            rx.select.root(
                rx.select.trigger(id=ids + "-operator", min_width="8em"),
                rx.select.content(*[rx.select.item(op, value=op) for op in OPERATORS]),
                value=clause.operator,
                on_change=update("operator"),
                disabled=readonly,
            ),
            rx.cond(
                needs_values,
                rx.input(
                    value=clause.values_text,
                    on_change=update("values_text"),
                    placeholder="values, comma-separated",
                    disabled=readonly,
                    flex="1",
                    min_width="12em",
                    id=ids + "-values",
                ),
            ),
            rx.checkbox(
                "not",
                checked=clause.negate,
                on_change=update("negate"),
                disabled=readonly,
                id=ids + "-negate",
            ),
            _icon(
                "x",
                FlagDetailState.edit(env, "remove_clause", [i, j]),
                ids + "-remove",
                "Remove condition",
            ),
            align="center",
            spacing="2",
            width="100%",
            wrap="wrap",
        ),
        *[
            error(card.errors, where + "." + name, "error-" + env + "-" + where + "." + name)
            for name in ("attribute", "operator", "values", "segment")
        ],
        error(card.errors, where, "error-" + env + "-" + where),
        spacing="1",
        width="100%",
    )


def _serve(card: rx.Var, i: rx.Var[int], rule: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    env = card.env
    where = "rules." + i.to_string()
    ids = env + "-rule-" + i.to_string()
    readonly = ~SessionState.can_edit

    def update(name: str):  # type: ignore[no-untyped-def]
        return lambda v: FlagDetailState.update(env, "rule", [i], name, v)

    return rx.vstack(
        rx.hstack(
            rx.text("serve", size="1", color_scheme="gray", min_width="2.5em"),
            serve_picker(
                mode=rule.mode,
                variant=rule.serve_variant,
                rollout=rule.rollout,
                bucket_by=rule.bucket_by,
                variants=card.form.variants,
                update=update,
                fields=("mode", "serve_variant", "bucket_by"),
                on_weight=lambda j, v: FlagDetailState.update(
                    env, "rule_weight", [i, j], "weight", v
                ),
                ids=(ids + "-mode", ids + "-serve", ids, ids + "-bucket-by"),
                readonly=readonly,
            ),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        *[
            error(card.errors, where + "." + name, "error-" + env + "-" + where + "." + name)
            for name in ("serve_variant", "rollout", "bucket_by")
        ],
        spacing="1",
        width="100%",
    )


def _rule(card: rx.Var, rule: rx.Var, i: rx.Var[int]) -> rx.Component:  # type: ignore[type-arg]
    env = card.env
    where = "rules." + i.to_string()
    ids = env + "-rule-" + i.to_string()
    return rx.box(
        rx.vstack(
            rx.hstack(
                rx.badge("Rule " + (i + 1).to_string(), variant="surface"),
                rx.input(
                    value=rule.description,
                    on_change=lambda v: FlagDetailState.update(env, "rule", [i], "description", v),
                    placeholder="Description (optional)",
                    disabled=~SessionState.can_edit,
                    variant="soft",
                    flex="1",
                    size="1",
                    id=ids + "-description",
                ),
                _icon(
                    "arrow-up", FlagDetailState.edit(env, "move_rule", [i, -1]), ids + "-up", "Up"
                ),
                _icon(
                    "arrow-down",
                    FlagDetailState.edit(env, "move_rule", [i, 1]),
                    ids + "-down",
                    "Down",
                ),
                _icon(
                    "trash-2",
                    FlagDetailState.edit(env, "remove_rule", [i]),
                    ids + "-remove",
                    "Remove",
                ),
                align="center",
                width="100%",
                spacing="2",
            ),
            rx.foreach(rule.clauses, lambda c, j: _clause(card, i, c, j)),
            rx.cond(
                SessionState.can_edit,
                rx.button(
                    rx.icon("plus", size=12),
                    "Condition",
                    size="1",
                    variant="ghost",
                    on_click=FlagDetailState.edit(env, "add_clause", [i]),
                    id=ids + "-add-clause",
                ),
            ),
            _serve(card, i, rule),
            error(card.errors, where + ".clauses", "error-" + env + "-" + where + ".clauses"),
            error(
                card.errors, where + ".description", "error-" + env + "-" + where + ".description"
            ),
            error(card.errors, where, "error-" + env + "-" + where),
            spacing="2",
            width="100%",
        ),
        padding="0.75em",
        border=f"1px solid {rx.color('gray', 6)}",
        border_radius="var(--radius-3)",
        width="100%",
        id=ids,
        class_name="rule",
        data_rule_id=rule.id,
    )


def rule_builder(card: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    """The card's rules in order (the first match wins), with add / move / remove."""
    env = card.env
    return rx.vstack(
        rx.hstack(
            rx.text("Rules", size="2", weight="bold"),
            rx.text("first match wins", size="1", color_scheme="gray"),
            align="baseline",
            spacing="2",
        ),
        rx.cond(
            card.form.rules.length() == 0,
            rx.text("No rules: everyone gets the default below.", size="1", color_scheme="gray"),
        ),
        rx.foreach(card.form.rules, lambda rule, i: _rule(card, rule, i)),
        rx.cond(
            SessionState.can_edit,
            rx.button(
                rx.icon("plus", size=14),
                "Add rule",
                size="1",
                variant="soft",
                on_click=FlagDetailState.edit(env, "add_rule", []),
                id=env + "-add-rule",
            ),
        ),
        error(card.errors, "rules", "error-" + env + "-rules"),
        spacing="2",
        width="100%",
    )
