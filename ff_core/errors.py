"""The one error tree of ff. Every error has a stable ``code``; ff_api maps codes to HTTP.

FFError
├── InvalidDefinition      a model or request refused by validation (names field and limit)
│   ├── CycleDetected      prerequisites would form a cycle
│   └── NotInRegistry      a write to a flag a registry-enforced project does not list
├── NotFound               project, flag, segment, environment or history entry missing
├── AlreadyExists          create of a key that exists
├── VersionConflict        optimistic concurrency: expected version is stale
├── IdempotencyKeyReused   the same idempotency key with a different request
├── Unauthorized / Forbidden
└── StoreError             the store could not complete the request; nothing was written
    ├── Throttled          retry later
    └── StoreUnavailable   unreachable, timed out, or table missing
"""

from __future__ import annotations

from typing import Any


class FFError(Exception):
    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class InvalidDefinition(FFError):
    code = "invalid_definition"


class CycleDetected(InvalidDefinition):
    code = "prerequisite_cycle"


class NotInRegistry(InvalidDefinition):
    code = "not_in_registry"


class NotFound(FFError):
    code = "not_found"


class AlreadyExists(FFError):
    code = "already_exists"


class VersionConflict(FFError):
    code = "version_conflict"

    def __init__(self, message: str, *, expected: int, current: int | None) -> None:
        super().__init__(message, expected=expected, current=current)
        self.expected = expected
        self.current = current


class IdempotencyKeyReused(FFError):
    code = "idempotency_key_reused"


class Unauthorized(FFError):
    code = "unauthorized"


class Forbidden(FFError):
    code = "forbidden"


class StoreError(FFError):
    code = "store_error"


class Throttled(StoreError):
    code = "throttled"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class StoreUnavailable(StoreError):
    code = "store_unavailable"
