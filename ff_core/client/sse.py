"""Server-sent events, decoded from bytes as the WHATWG event-stream rules say.

Lines end in LF, CR or CRLF (a CR at the end of one chunk may pair with an LF at the start
of the next); only those end a line, never the other Unicode separators a text-level
``splitlines`` would honour. Comments and unknown fields are skipped, ``data`` lines are
joined with LF, and an ``id`` sets the last event id, which lasts across events.
"""

from __future__ import annotations

from dataclasses import dataclass

# Beyond this, an event is not one we want: the stream is treated as broken.
MAX_EVENT_BYTES = 256 * 1024 * 1024


class StreamError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Event:
    event: str
    data: str
    id: str | None
    retry_ms: int | None = None


class Decoder:
    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        self._buffer = bytearray()
        self._skip_lf = False
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self._retry: int | None = None
        self.last_id: str | None = None

    def feed(self, chunk: bytes) -> list[Event]:
        """The events completed by ``chunk``."""
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = False
        # What is left from earlier chunks holds no line end: search only the new bytes.
        search = len(self._buffer)
        self._buffer += chunk
        buffer, start = self._buffer, 0
        events: list[Event] = []
        lf, cr = buffer.find(b"\n", search), buffer.find(b"\r", search)
        while lf >= 0 or cr >= 0:
            end = lf if cr < 0 or 0 <= lf < cr else cr
            line = bytes(buffer[start:end])
            start = end + 1
            if end == cr:  # CR: an LF right after it ends the same line
                if start == len(buffer):
                    self._skip_lf = True
                elif lf == start:
                    start += 1
            if 0 <= lf < start:
                lf = buffer.find(b"\n", start)
            if 0 <= cr < start:
                cr = buffer.find(b"\r", start)
            event = self._line(line.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        del buffer[:start]
        if len(buffer) + self._size > self._max:
            raise StreamError(f"an event of more than {self._max} bytes")
        return events

    def _line(self, line: str) -> Event | None:
        if not line:
            return self._dispatch()
        if line[0] == ":":
            return None
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._size += len(value) + 1
            if self._size > self._max:
                raise StreamError(f"an event of more than {self._max} bytes")
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> Event | None:
        data, event, retry = self._data, self._event or "message", self._retry
        self._data, self._event, self._size, self._retry = [], "", 0, None
        if not data:
            return None
        return Event(event, "\n".join(data), self.last_id, retry)
