"""Plain HTML form posts (sign-in, sign-out) from inside the React app."""

from __future__ import annotations

import reflex as rx
from reflex_base.event import EventSpec


def submit_form(form_id: str) -> EventSpec:
    """Post the form ``form_id`` as a real navigation to the sign-in routes.

    The app's root cancels native submit events (every Reflex form is handled in the
    page), so these forms are sent with ``HTMLFormElement.submit()``, which fires none.
    """
    return rx.call_script(f"document.getElementById({form_id!r}).submit()")
