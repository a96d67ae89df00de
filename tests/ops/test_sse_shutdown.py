"""Open streams end when `ff api` is told to stop: one watcher for the process ends every
stream (ff_api/event_stream.py); without it uvicorn would wait on them for ever."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import httpx

from tests.ops.conftest import ApiProcess, Seeded


def _events(lines: Iterator[str]) -> Iterator[str]:
    """Each event's name, as its blank line arrives."""
    name = ""
    for line in lines:
        if line.startswith("event:"):
            name = line.partition(":")[2].strip()
        elif line == "" and name:
            yield name
            name = ""


def test_ff_api__sigterm_with_streams_open__every_stream_ends_and_the_process_exits(
    api_process: ApiProcess, seeded: Seeded
) -> None:
    url = api_process.url
    sdk = httpx.stream(
        "GET",
        f"{url}/api/v1/sdk/stream",
        headers={"X-API-Key": seeded.server_key},
        timeout=httpx.Timeout(5, read=15),
    )
    browser = httpx.stream(
        "GET",
        f"{url}/api/v1/browser/stream",
        params={"key": seeded.client_key, "context": '{"targetingKey": "u1"}'},
        timeout=httpx.Timeout(5, read=15),
    )
    with sdk as sdk_response, browser as browser_response:
        assert (sdk_response.status_code, browser_response.status_code) == (200, 200)
        streams = [_events(r.iter_lines()) for r in (sdk_response, browser_response)]
        assert [next(s) for s in streams] == ["snapshot", "snapshot"]
        assert api_process.process is not None
        api_process.process.send_signal(signal.SIGTERM)
        for stream in streams:
            # The API ends the stream (the connection closes), well before the read timeout.
            try:
                rest = list(stream)
            except httpx.RemoteProtocolError:  # closed mid-response, as uvicorn does
                rest = []
            assert rest == []

    # A clean stop: uvicorn ends by raising the signal again for its caller (-SIGTERM).
    assert api_process.process.wait(20) == -signal.SIGTERM
    assert "Finished server process" in api_process.output()
