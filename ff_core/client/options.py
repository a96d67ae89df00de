"""A client's options, and the source they select."""

from __future__ import annotations

import os
from typing import TypedDict

import httpx

from ff_core.client.api import ApiSource
from ff_core.client.backoff import Backoff
from ff_core.client.library import StoreSource, configured
from ff_core.client.sources import Source
from ff_core.settings import Settings


class ClientOptions(TypedDict, total=False):
    """How a client finds and follows its flags; see ``FlagClient``."""

    url: str
    server_key: str
    bootstrap: str | os.PathLike[str]
    persist_to: str | os.PathLike[str]
    library: bool
    settings: Settings
    project: str
    environment: str
    timeout_s: float
    poll_interval_s: float
    usage_interval_s: float | None
    stream: bool
    backoff: Backoff
    transport: httpx.AsyncBaseTransport
    # Any other origin: an object with the ``Source`` protocol's methods.
    source: Source


def source_for(options: ClientOptions) -> Source | None:
    """The API with ``url``; none with only ``bootstrap`` (offline); else library mode."""
    if "source" in options:
        return options["source"]
    url = options.get("url")
    if url is not None:
        if "settings" in options or options.get("library"):
            raise ValueError("choose one source: url (the API) or library mode")
        if "environment" in options or "project" in options:
            raise ValueError("with the API, the server key decides project and environment")
        return ApiSource(
            url,
            options.get("server_key", ""),
            stream=options.get("stream", True),
            poll_interval_s=options.get("poll_interval_s", 30.0),
            backoff=options.get("backoff"),
            transport=options.get("transport"),
        )
    library = options.get("library", False) or "settings" in options
    if options.get("bootstrap") is not None and not library:
        return None
    settings = options.get("settings") or configured()
    return StoreSource(
        settings,
        options.get("project") or settings.default_project,
        options.get("environment") or settings.environment,
        poll_interval_s=options.get("poll_interval_s", 1.0),
        backoff=options.get("backoff"),
    )
