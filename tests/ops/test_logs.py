"""Structured logs: one JSON object per line, request ids, and never a secret."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

import httpx
import pytest

from ff_api.access import REDACTED, request_id, safe_query
from ff_core import logs, tokens
from tests.ops.conftest import SECRET, ApiProcess, Seeded

ACCESS_FIELDS = {"time", "level", "logger", "message", "request_id", "route", "status"}


def record(message: str, **extra: Any) -> logging.LogRecord:
    made = logging.makeLogRecord({"name": "ff.test", "levelno": 20, "levelname": "INFO"})
    made.msg, made.args = message, ()
    made.__dict__.update(extra)
    return made


# -- pure parts ----------------------------------------------------------------------------------


def test_redact__keys_invitations_and_signed_tokens__only_a_short_prefix_stays() -> None:
    key = "ffs_" + "A1b2C3d4" * 5
    invitation = "ffi_" + "z" * 40
    jwt = tokens.issue(b"s" * 32, tokens.Audience.SESSION, {"sub": "a@example.com"}, 60)

    text = logs.redact(f"key {key}, invite {invitation}, cookie ff_session={jwt}.")

    assert text == (
        f"key ffs_A1b2[redacted], invite ffi_zzzz[redacted], cookie ff_session={jwt[:7]}[redacted]."
    )


def test_safe_query__secret_and_personal_values__redacted_known_ones_kept() -> None:
    query = b"key=ffc_secretvalue&context=%7B%22email%22%3A%22a%40b.c%22%7D&limit=5&token=eyJx"

    assert safe_query(query) == (f"key={REDACTED}&context={REDACTED}&limit=5&token={REDACTED}")


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        (b"5b0c1d0e-4a3f-4c8e-9a55-0a2d1f9b7c11", True),
        (b"trace:abc.123_x", True),
        (b"has space", False),
        (b"x" * 129, False),
        (b"<script>", False),
    ],
)
def test_request_id__caller_header__kept_only_when_it_looks_like_an_id(
    header: bytes, kept: bool
) -> None:
    chosen = request_id({"headers": [(b"x-request-id", header)]})

    if kept:
        assert chosen == header.decode()
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", chosen)


def test_json_formatter__extra_fields_and_context_request_id__in_the_object() -> None:
    token = logs.REQUEST_ID.set("req-1")
    try:
        line = logs.JsonFormatter().format(record("served %s", route="/x", status=200))
    finally:
        logs.REQUEST_ID.reset(token)
    document = json.loads(line)

    assert document["message"] == "served %s"
    assert (document["level"], document["logger"]) == ("INFO", "ff.test")
    assert (document["request_id"], document["route"], document["status"]) == ("req-1", "/x", 200)
    assert document["time"].endswith("+00:00")


def test_text_formatter__extras__key_value_after_the_message_and_redacted() -> None:
    key = "ffa_" + "q" * 43

    line = logs.TextFormatter().format(record(f"refused {key}", status=401))

    assert line.endswith(f"INFO ff.test: refused ffa_qqqq{REDACTED} status=401")


def test_log_settings__any_case__normalised_and_unknown_refused() -> None:
    assert logs.LogSettings(log_format="JSON", log_level="debug").log_format == "json"
    with pytest.raises(ValueError, match="log_format"):
        logs.LogSettings(log_format="xml")


# -- `ff api` as it runs ---------------------------------------------------------------------------


async def _first_bytes(http: httpx.AsyncClient, url: str) -> httpx.Response:
    """Open a stream, read its first event, hang up."""
    async with http.stream("GET", url) as response:
        if response.status_code == 200:
            async for _ in response.aiter_bytes():
                break
        else:
            await response.aread()
        return response


def _access_lines(process: ApiProcess, count: int) -> tuple[str, list[dict[str, Any]]]:
    """The process's output once ``count`` requests are logged (streams log when they end)."""
    deadline = time.monotonic() + 15
    while True:
        output = process.output()
        lines = [json.loads(line) for line in output.splitlines() if line.strip()]
        access = [
            line
            for line in lines
            if line["logger"] == "ff.access" and line["route"] != "/healthz"  # start-up probes
        ]
        if len(access) >= count or time.monotonic() > deadline:
            return output, access
        time.sleep(0.1)


async def test_ff_api__requests_carrying_secrets__json_access_lines_without_any_secret(
    api_process: ApiProcess, seeded: Seeded
) -> None:
    session = tokens.issue(
        SECRET.encode(), tokens.Audience.SESSION, {"sub": "admin@example.com"}, 600
    )
    responses: list[httpx.Response] = []
    async with httpx.AsyncClient(base_url=api_process.url, timeout=10) as http:
        responses.append(
            await http.get(
                "/api/v1/flags/new-checkout/evaluate",
                params={"context": json.dumps({"targeting_key": "u1", "email": "u1@ex.com"})},
                headers={"Authorization": f"Bearer {seeded.server_key}", "X-Request-ID": "req-42"},
            )
        )
        responses.append(
            await http.get(
                "/api/v1/projects/demo/flags",
                params={"limit": "5"},
                headers={"X-API-Key": seeded.admin_key, "X-Request-ID": "bad id!"},
            )
        )
        responses.append(
            await http.get("/api/v1/me", headers={"Cookie": f"{tokens.SESSION_COOKIE}={session}"})
        )
        minted = await http.post(
            "/api/v1/stream-tokens",
            json={"context": {"targetingKey": "bob"}},
            headers={"Authorization": f"Bearer {seeded.server_key}"},
        )
        responses.append(minted)
        stream_token = minted.json()["token"]
        responses.append(await _first_bytes(http, minted.json()["url"]))
        context = json.dumps({"targetingKey": "u1"})
        responses.append(
            await _first_bytes(
                http, f"/api/v1/browser/stream?key={seeded.client_key}&context={context}"
            )
        )
        # A server key put in a URL by mistake: refused, and still not logged.
        responses.append(
            await _first_bytes(http, f"/api/v1/browser/stream?key={seeded.server_key}")
        )
    output, access = _access_lines(api_process, len(responses))
    output += api_process.stop()

    statuses = [r.status_code for r in responses]
    assert statuses == [200, 200, 200, 200, 200, 200, 403], [r.text for r in responses]
    # Every line of output is one JSON object; uvicorn's own access log is gone.
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert {line["logger"] for line in lines} >= {"ff.access", "uvicorn.error"}
    assert "uvicorn.access" not in {line["logger"] for line in lines}
    by_id = {line["request_id"]: line for line in access}
    assert len(access) == len(responses)
    for response in responses:
        line = by_id[response.headers["x-request-id"]]
        assert set(line) >= ACCESS_FIELDS
        assert line["status"] == response.status_code
        assert line["duration_ms"] >= 0
    evaluated = by_id["req-42"]
    assert evaluated["route"] == "/api/v1/flags/{key}/evaluate"
    assert evaluated["path"] == f"/api/v1/flags/new-checkout/evaluate?context={REDACTED}"
    assert re.fullmatch(r"[0-9a-f]{32}", responses[1].headers["x-request-id"])
    streams = [by_id[r.headers["x-request-id"]] for r in responses[-2:]]
    assert all(s["path"].startswith(f"/api/v1/browser/stream?key={REDACTED}") for s in streams)
    for secret in (seeded.server_key, seeded.client_key, seeded.admin_key):
        assert secret[8:] not in output
    for signed in (session, stream_token):
        for part in signed.split(".")[1:]:
            assert part not in output
    assert "u1@ex.com" not in output
