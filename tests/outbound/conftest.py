"""A real webhook receiver on loopback, and the seeded API world of tests/api."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.api.conftest import (  # the seeded demo project and its keys
    AppThread,
    api_url,  # noqa: F401
    http,  # noqa: F401
    seeded,  # noqa: F401
)


@dataclass(frozen=True)
class Received:
    event_id: str
    attempt: str
    signature: str
    body: bytes


@dataclass
class Receiver:
    """Answers each event's n-th request as ``script[n-1]`` says (then 200): ``"500"``, or
    ``"slow"`` (takes the event, answers after ``slow_s``: later than the sender waits).
    Records every request it took in, so a timed-out attempt is a duplicate, as it would
    be for any receiver that processes before answering."""

    script: tuple[str, ...] = ()
    slow_s: float = 2.0
    url: str = ""
    received: list[Received] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        event = request.headers.get("ff-event-id", "")
        with self.lock:
            self.requests[event] += 1
            n = self.requests[event]
        behaviour = self.script[n - 1] if n <= len(self.script) else "ok"
        if behaviour == "500":
            return Response("not now", status_code=500)
        with self.lock:
            self.received.append(
                Received(
                    event,
                    request.headers.get("ff-delivery-attempt", ""),
                    request.headers.get("ff-signature", ""),
                    body,
                )
            )
        if behaviour == "slow":
            await asyncio.sleep(self.slow_s)
        return Response(status_code=204)

    def ids(self) -> set[str]:
        with self.lock:
            return {r.event_id for r in self.received}


def start_receiver(receiver: Receiver) -> AppThread:
    app = Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])
    server = AppThread(app)
    receiver.url = server.start() + "/hook"
    return server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Fails each event's first attempt (500) and times out its second, then takes it."""
    found = Receiver(script=("500", "slow"))
    server = start_receiver(found)
    yield found
    server.stop()


@pytest.fixture
def happy_receiver() -> Iterator[Receiver]:
    found = Receiver()
    server = start_receiver(found)
    yield found
    server.stop()
