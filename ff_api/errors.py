"""The one place where ff_core errors become HTTP: JSON problem bodies, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ff_core.errors import (
    AlreadyExists,
    FFError,
    Forbidden,
    IdempotencyKeyReused,
    InvalidDefinition,
    NotFound,
    NotInRegistry,
    StoreError,
    StoreUnavailable,
    Throttled,
    Unauthorized,
    VersionConflict,
)

log = logging.getLogger("ff.api")


class PayloadTooLarge(FFError):
    code = "payload_too_large"


class BadRequest(FFError):
    code = "bad_request"


class PreconditionRequired(FFError):
    code = "precondition_required"


# First match wins: subclasses before their parents.
STATUS: list[tuple[type[FFError], int]] = [
    (PayloadTooLarge, 413),
    (BadRequest, 400),
    (PreconditionRequired, 428),
    # A well-formed write the registry does not allow: the request, not its shape, is wrong.
    (NotInRegistry, 400),
    (InvalidDefinition, 422),
    (NotFound, 404),
    (AlreadyExists, 409),
    (VersionConflict, 409),
    (IdempotencyKeyReused, 422),
    (Unauthorized, 401),
    (Forbidden, 403),
    (Throttled, 503),
    (StoreUnavailable, 503),
    (StoreError, 503),
]


def status_of(exc: FFError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def problem(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": str(extra.pop("retry_after", 1))} if status in (429, 503) else None
    body = {"status": status, "code": code, "message": message, **extra}
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


async def ff_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FFError)
    status = status_of(exc)
    return problem(status, exc.code, exc.message, **exc.details)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, "http_error", str(exc.detail))


async def client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up mid-body: nobody reads the answer, and it is no server error."""
    return Response(status_code=400)


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "internal_error", "internal error; it has been logged")


HANDLERS: dict[Any, Any] = {
    FFError: ff_error,
    HTTPException: http_error,
    ClientDisconnect: client_gone,
    Exception: unexpected,
}
