"""The admin library surface of earlier in-house versions, as thin async functions.

    from ff_core import admin
    admin.configure(table="ff-flags", default_project="demo")
    await admin.set_enabled_in("new-checkout", ["staging", "production"], note="launch")

Settings come from ``configure(...)`` or ``FF_*`` variables. The acting identity is the
library caller: ``FF_ACTOR`` or the operating-system user, recorded as kind ``library``.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from ff_core.models import Actor, ActorKind, Flag, HistoryEntry
from ff_core.runtime import open_store
from ff_core.services import Services
from ff_core.settings import Settings
from ff_core.store import Page

# The legacy surface is configured once per process, so it keeps its settings here.
_configured: dict[str, Any] = {}


def configure(**settings: Any) -> Settings:
    """Set (and validate) settings for the functions below, e.g. ``table``, ``default_project``."""
    resolved = Settings(**settings)
    _configured.clear()
    _configured.update(settings)
    return resolved


def library_actor() -> Actor:
    return Actor(kind=ActorKind.LIBRARY, subject=os.environ.get("FF_ACTOR") or getpass.getuser())


@asynccontextmanager
async def _services() -> AsyncIterator[tuple[Services, Settings]]:
    settings = Settings(**_configured)
    async with open_store(settings) as store:
        yield Services(store), settings


async def list_flags(project: str | None = None) -> list[Flag]:
    async with _services() as (services, settings):
        return await services.flags.list_flags(project or settings.default_project)


async def get_flag(key: str, project: str | None = None) -> Flag:
    async with _services() as (services, settings):
        return await services.flags.get_flag(project or settings.default_project, key)


async def set_enabled_in(
    key: str, environments: Iterable[str], note: str = "", project: str | None = None
) -> Flag:
    """Enable ``key`` in exactly ``environments``, disable it elsewhere; one audited write."""
    async with _services() as (services, settings):
        return await services.flags.set_enabled_in(
            library_actor(),
            project or settings.default_project,
            key,
            environments,
            note=note,
        )


async def list_flag_history(
    key: str, project: str | None = None, limit: int = 50, before: str | None = None
) -> Page[HistoryEntry]:
    async with _services() as (services, settings):
        return await services.flags.list_history(
            project or settings.default_project, key, limit=limit, before=before
        )
