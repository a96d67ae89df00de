"""Reading request bodies and evaluation contexts, with limits and clear errors."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from ff_api.errors import BadRequest, PayloadTooLarge


async def read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body over {limit} bytes", limit=limit)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body over {limit} bytes", limit=limit)
    return parse_json(body)


def parse_json(body: bytes) -> Any:
    """A request body read whole: an empty one is ``{}``."""
    if not body.strip():
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None


class InvalidContext(ValueError):
    pass


def evaluation_context(raw: Any, limit: int) -> dict[str, Any]:
    """The engine's context from an OFREP or native one: ``targetingKey`` is ``targeting_key``."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidContext("context must be a JSON object")
    if len(orjson.dumps(raw)) > limit:
        raise PayloadTooLarge(f"evaluation context over {limit} bytes", limit=limit)
    context = dict(raw)
    if "targetingKey" in context:
        context["targeting_key"] = context.pop("targetingKey")
    return context
