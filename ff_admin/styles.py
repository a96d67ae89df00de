"""The dashboard's look in one place."""

from __future__ import annotations

import reflex as rx

ACCENT = "iris"
SIDEBAR_WIDTH = "15em"

theme = rx.theme(accent_color=ACCENT, gray_color="slate", radius="medium", scaling="100%")

page = {"padding": ["1em", "1.5em", "2em"], "width": "100%", "max_width": "80em"}
card = {"width": "100%"}
mono = {"font_family": "ui-monospace, SFMono-Regular, Menlo, monospace", "font_size": "0.85em"}
