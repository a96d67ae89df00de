"""/members: who may do what in the project; admins change roles, remove and invite."""

from __future__ import annotations

import reflex as rx

from ff_admin.components.shell import layout
from ff_admin.components.shown_once import shown_once_dialog
from ff_admin.state.members import INVITE_LINK, MembersState
from ff_admin.state.session import SessionState

_STATUS_COLORS = {"pending": "blue", "accepted": "green", "expired": "gray", "revoked": "red"}


def _role_cell(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    return rx.cond(
        row.editable,
        rx.select.root(
            rx.select.trigger(id="role-" + row.email, width="9em"),
            rx.select.content(rx.foreach(MembersState.roles, lambda r: rx.select.item(r, value=r))),
            value=row.role,
            on_change=lambda v: MembersState.set_role(row.email, v),
            size="2",
        ),
        rx.badge(row.role, variant="soft", size="2", id="role-" + row.email),
    )


def _member_row(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    remove = rx.cond(
        row.editable,
        rx.icon_button(
            rx.icon("user-minus", size=14),
            variant="ghost",
            color_scheme="red",
            title="Remove from the project",
            on_click=MembersState.ask_remove(row.email),
            id="remove-" + row.email,
        ),
    )
    return rx.table.row(
        rx.table.cell(
            rx.hstack(
                rx.text(row.email, weight="medium"),
                rx.cond(row.is_you, rx.badge("you", variant="outline", size="1")),
                align="center",
            )
        ),
        rx.table.cell(_role_cell(row)),
        rx.table.cell(
            rx.vstack(
                rx.text(row.added_by, size="2"),
                rx.text(row.added_at, size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(remove),
        id="member-" + row.email,
        class_name="member-row",
        data_role=row.role,
    )


def _members_table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(*[rx.table.column_header_cell(h) for h in ("Member", "Role", "Added", "")])
        ),
        rx.table.body(rx.foreach(MembersState.rows, _member_row)),
        width="100%",
        variant="surface",
        id="members-table",
    )


def _invite_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.hstack(
                rx.input(
                    rx.input.slot(rx.icon("mail", size=14)),
                    placeholder="name@example.com",
                    type="email",
                    value=MembersState.invite_email,
                    on_change=lambda v: MembersState.set_invite_field("invite_email", v),
                    id="invite-email",
                    width="20em",
                ),
                rx.select.root(
                    rx.select.trigger(id="invite-role", width="9em"),
                    rx.select.content(
                        rx.foreach(MembersState.roles, lambda r: rx.select.item(r, value=r))
                    ),
                    value=MembersState.invite_role,
                    on_change=lambda v: MembersState.set_invite_field("invite_role", v),
                ),
                rx.button(rx.icon("send", size=14), "Invite", type="submit", id="invite-submit"),
                align="center",
                wrap="wrap",
                spacing="2",
            ),
            on_submit=lambda _: MembersState.invite(),
        ),
        rx.text(
            "The invitation link works once, for 7 days, for whoever signs in with that email.",
            size="1",
            color_scheme="gray",
            margin_top="0.5em",
        ),
        width="100%",
    )


def _invitation_row(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    return rx.table.row(
        rx.table.cell(rx.text(row.email, weight="medium")),
        rx.table.cell(rx.text(row.role, size="2")),
        rx.table.cell(
            rx.match(
                row.status,
                *[
                    (status, rx.badge(status, color_scheme=color, variant="soft"))
                    for status, color in _STATUS_COLORS.items()
                ],
                rx.badge(row.status),
            ),
            class_name="invitation-status",
        ),
        rx.table.cell(rx.text(row.expires_at, size="2")),
        rx.table.cell(
            rx.vstack(
                rx.text(row.invited_by, size="2"),
                rx.text(row.created_at, size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.cond(
                row.revocable,
                rx.button(
                    "Revoke",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=MembersState.revoke_invitation(row.id),
                    id="revoke-invitation-" + row.id,
                ),
            )
        ),
        id="invitation-" + row.id,
        class_name="invitation-row",
        data_email=row.email,
        data_status=row.status,
    )


def _invitations() -> rx.Component:
    return rx.cond(
        MembersState.invitations.length() > 0,
        rx.vstack(
            rx.heading("Invitations", size="4"),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Email", "Role", "Status", "Expires", "Invited", "")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(MembersState.invitations, _invitation_row)),
                width="100%",
                variant="surface",
                id="invitations-table",
            ),
            width="100%",
        ),
    )


def _link_dialog() -> rx.Component:
    return shown_once_dialog(
        INVITE_LINK,
        title="Send this link to " + MembersState.invited,
        warning="It will not be shown again. It works once, within 7 days, when they "
        "sign in as " + MembersState.invited + ".",
        name="invite-link",
        copied="Link copied",
        max_width="40em",
    )


def _remove_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Remove " + MembersState.remove_email + "?"),
            rx.alert_dialog.description(
                "They lose access to this project at their next click. Invite them again to undo."
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", on_click=MembersState.cancel_remove)
                ),
                rx.alert_dialog.action(
                    rx.button(
                        "Remove",
                        color_scheme="red",
                        on_click=MembersState.remove(MembersState.remove_email),
                        id="remove-confirm",
                    )
                ),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
        open=MembersState.remove_email != "",
        on_open_change=lambda _: MembersState.cancel_remove(),
    )


def members_page() -> rx.Component:
    return layout(
        "Members",
        _members_table(),
        rx.cond(
            SessionState.can_admin,
            rx.vstack(
                rx.heading("Invite someone", size="4"),
                _invite_form(),
                _invitations(),
                spacing="3",
                width="100%",
            ),
        ),
        _link_dialog(),
        _remove_dialog(),
    )
