"""Reflex configuration for the dashboard (ff_admin). Settings live in FF_* variables."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import reflex as rx
from reflex_base.plugins.sitemap import SitemapPlugin

_public = urlsplit(os.environ.get("FF_PUBLIC_URL", "http://127.0.0.1:3000"))

config = rx.Config(
    app_name="ff_admin",
    telemetry_enabled=False,
    # The socket that carries every dashboard event authenticates by cookie: only the
    # dashboard's own origin may open it (Reflex's default echoes any origin).
    cors_allowed_origins=[f"{_public.scheme}://{_public.netloc}"],
    plugins=[rx.plugins.RadixThemesPlugin()],
    disable_plugins=[SitemapPlugin],
    show_built_with_reflex=False,
)
