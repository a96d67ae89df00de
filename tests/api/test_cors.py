"""CORS through ff_api's edge layer answers exactly as Starlette's CORSMiddleware does.

The edge layer (ff_api/access.py) runs Starlette's CORS only for requests that carry an
``Origin`` header and adds ``Vary: Origin`` itself to the others; here every kind of
request goes through both, and the answers must agree header for header (all but the
edge's own ``X-Request-ID``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from ff_api.access import EdgeMiddleware

ALLOWED = "https://app.example"
CORS: dict[str, Any] = {
    "allow_origins": [ALLOWED],
    "allow_credentials": False,
    "allow_methods": ["GET", "POST"],
    "allow_headers": ["Authorization", "Content-Type"],
    "expose_headers": ["ETag", "X-Request-ID"],
}


async def plain(request: Request) -> Response:
    return JSONResponse({"ok": True}, headers={"ETag": '"1"'})


async def varies(request: Request) -> Response:
    return PlainTextResponse("gzip or not", headers={"Vary": "Accept-Encoding"})


async def star(request: Request) -> Response:
    return PlainTextResponse("public", headers={"Access-Control-Allow-Origin": "*"})


def inner() -> ASGIApp:
    return Starlette(
        routes=[
            Route("/plain", plain, methods=["GET", "POST"]),
            Route("/varies", varies),
            Route("/star", star),
        ]
    )


REQUESTS = [
    pytest.param("GET", "/plain", {}, id="no-origin"),
    pytest.param("POST", "/plain", {"Origin": ALLOWED}, id="allowed-origin"),
    pytest.param("GET", "/plain", {"Origin": "https://evil.example"}, id="other-origin"),
    pytest.param("GET", "/varies", {}, id="no-origin-own-vary"),
    pytest.param("GET", "/varies", {"Origin": ALLOWED}, id="allowed-origin-own-vary"),
    pytest.param("GET", "/star", {}, id="no-origin-route-sets-acao"),
    pytest.param("GET", "/missing", {}, id="no-origin-404"),
    pytest.param(
        "OPTIONS",
        "/plain",
        {"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
        id="preflight",
    ),
    pytest.param(
        "OPTIONS",
        "/plain",
        {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        id="preflight-refused",
    ),
    pytest.param(
        "OPTIONS",
        "/plain",
        {"Origin": ALLOWED, "Access-Control-Request-Method": "DELETE"},
        id="preflight-bad-method",
    ),
]


async def answer(app: ASGIApp, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, path, headers=headers)


@pytest.mark.parametrize(("method", "path", "headers"), REQUESTS)
async def test_edge__any_request__same_answer_as_starlette_cors(
    method: str, path: str, headers: dict[str, str]
) -> None:
    reference = await answer(CORSMiddleware(inner(), **CORS), method, path, headers)
    edge = await answer(EdgeMiddleware(inner(), **CORS), method, path, headers)

    ours = [(k, v) for k, v in edge.headers.multi_items() if k != "x-request-id"]
    assert (edge.status_code, ours, edge.content) == (
        reference.status_code,
        reference.headers.multi_items(),
        reference.content,
    )
    assert edge.headers["x-request-id"]


async def test_edge__no_origin__vary_origin_without_running_cors() -> None:
    """The shortcut is taken: a request without Origin never enters the CORS layer."""
    edge = EdgeMiddleware(inner(), **CORS)
    entered: list[str] = []
    cors = edge._cors

    async def spy(scope, receive, send):  # type: ignore[no-untyped-def]
        entered.append(scope["path"])
        await cors(scope, receive, send)

    edge._cors = spy  # type: ignore[assignment]
    plain_answer = await answer(edge, "GET", "/plain", {})
    cross = await answer(edge, "GET", "/plain", {"Origin": ALLOWED})

    assert plain_answer.headers["vary"] == "Origin"
    assert cross.headers["access-control-allow-origin"] == ALLOWED
    assert entered == ["/plain"]
