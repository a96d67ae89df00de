"""Liveness and readiness."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ff_api.state import state_of
from ff_core.errors import StoreError


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the store answers a read."""
    try:
        await state_of(request).store.get_seq("__readyz__")
    except StoreError as exc:
        return JSONResponse(
            {"status": "unavailable", "message": exc.message},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    return JSONResponse({"status": "ready"})


routes = [Route("/healthz", healthz), Route("/readyz", readyz)]
