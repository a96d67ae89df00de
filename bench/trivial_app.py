"""The baseline of ofrep_bench.py: a trivial Starlette JSON endpoint, served like the API."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def hello(request: Request) -> Response:
    return JSONResponse({"hello": "world"})


app = Starlette(routes=[Route("/json", hello, methods=["GET", "POST"]), Route("/healthz", hello)])
