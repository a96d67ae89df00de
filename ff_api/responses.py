"""JSON responses encoded with orjson (models dumped in JSON mode; ETags are versions)."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import Response


def json_response(data: Any, status: int = 200, etag: int | None = None) -> Response:
    headers = {"ETag": f'"{etag}"'} if etag is not None else None
    body = orjson.dumps(data.model_dump(mode="json") if isinstance(data, BaseModel) else data)
    return Response(body, status, headers=headers, media_type="application/json")
