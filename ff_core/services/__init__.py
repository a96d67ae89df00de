"""Use cases over a store: validate, audit with the acting identity, commit atomically."""

from __future__ import annotations

from ff_core.services.access import AccessService
from ff_core.services.flags import FlagService
from ff_core.services.projects import ProjectService
from ff_core.services.registry import RegistryService
from ff_core.services.segments import SegmentService
from ff_core.services.sessions import SessionService
from ff_core.services.tenants import TenantService
from ff_core.services.writer import Clock, Writer, utcnow
from ff_core.store import Store


class Services:
    """Every service over one store and one clock."""

    def __init__(self, store: Store, clock: Clock = utcnow, *, key_secret: bytes = b"") -> None:
        writer = Writer(store, clock)
        self.store = store
        self.access = AccessService(writer, key_secret)
        self.projects = ProjectService(writer)
        self.flags = FlagService(writer)
        self.segments = SegmentService(writer)
        self.sessions = SessionService(store, clock)
        self.tenants = TenantService(writer)
        self.registry = RegistryService(writer)


__all__ = [
    "AccessService",
    "FlagService",
    "ProjectService",
    "RegistryService",
    "SegmentService",
    "Services",
    "SessionService",
    "TenantService",
    "Writer",
]
