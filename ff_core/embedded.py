"""The embedded DynamoDB of a local install (DESIGN 8): moto's server on loopback.

Its table persists to ``<data_dir>/table.json``: loaded at start, written atomically (a
temporary file, then a rename) within a second of each change. The file holds whole
transactions only, so history never disagrees with state after a crash; at most the last
second of changes is lost.

moto applies a transaction item by item, and rolls a cancelled one back by restoring a copy
of the table taken before it, undoing whatever another request wrote meanwhile; a read may
see half a transaction. So every write to the embedded server passes a gate, one at a time
(as DynamoDB isolates them), and the copy that persists the table is taken with the gate
closed: between whole transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from moto.core.model_instances import reset_model_data
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from ff_core.settings import Settings
from ff_core.store import DynamoStore

CREDENTIALS = ("embedded", "embedded")
ENDPOINT_FILE = "endpoint"
TABLE_FILE = "table.json"
log = logging.getLogger("ff.embedded")


# DynamoDB operations that change the table: they pass the gate one at a time.
_WRITES = frozenset(
    {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "CreateTable",
        "UpdateTable",
        "DeleteTable",
        "UpdateTimeToLive",
    }
)
# The gate of the embedded server running on each data directory, for its persistence.
_GATES: dict[Path, WriteGate] = {}


class WriteGate:
    """Lets one write at a time reach moto, counts them, and holds them off for a snapshot.

    A snapshot waiting for the gate goes before writes that arrive after it (the
    turnstile), so that a steady stream of writes cannot put off persistence.
    """

    def __init__(self) -> None:
        self._turnstile = threading.Lock()
        self._lock = threading.Lock()
        self.writes = 0

    def wrap(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def gated(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            operation = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
            if operation not in _WRITES:
                return app(environ, start_response)
            with self._turnstile:
                pass
            with self._lock:
                body = list(app(environ, start_response))  # the whole write, inside the gate
                self.writes += 1
                return body

        return gated

    def _close(self) -> None:
        with self._turnstile:
            self._lock.acquire()

    @contextlib.asynccontextmanager
    async def closed(self) -> AsyncIterator[None]:
        """No write reaches the table until the block ends."""
        closing = asyncio.ensure_future(asyncio.to_thread(self._close))
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            # The thread still closes the gate: open it again once it has.
            closing.add_done_callback(lambda _: self._lock.release())
            raise
        try:
            yield
        finally:
            self._lock.release()


class EmbeddedDynamo:
    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir = data_dir
        self.gate = WriteGate()
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint = ""

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        app = self.gate.wrap(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            "127.0.0.1", self._port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ff-embedded-dynamodb", daemon=True
        )
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.endpoint = f"http://{host!s}:{port}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _GATES[self.data_dir] = self.gate
        _write_atomically(self.data_dir / ENDPOINT_FILE, self.endpoint.encode())
        return self.endpoint

    def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / ENDPOINT_FILE).unlink()
        _GATES.pop(self.data_dir, None)
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._server.server_close()

    def settings(self, base: Settings) -> Settings:
        return base.model_copy(update={"dynamodb_endpoint": self.endpoint})


def running_endpoint(data_dir: Path) -> str | None:
    """The endpoint of the embedded DynamoDB that `ff serve` is running, if any."""
    try:
        return (data_dir / ENDPOINT_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def read_table_file(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / TABLE_FILE
    if not path.exists():
        return []
    items: list[dict[str, Any]] = orjson.loads(path.read_bytes())
    return items


def write_table_file(data_dir: Path, items: list[dict[str, Any]]) -> None:
    _write_atomically(data_dir / TABLE_FILE, orjson.dumps(items))


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def table_items(table: str, region: str) -> list[dict[str, Any]]:
    """Every item of the embedded table, in DynamoDB's JSON form, read from moto's memory in
    this process: moto's Scan spends ~2 ms an item serialising, which would stretch the time
    between a change and its persisting past a second on a table of a few hundred items."""
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][region]
    return [item.to_json()["Attributes"] for item in backend.tables[table].all_items()]


async def persist_forever(store: DynamoStore, data_dir: Path, interval_s: float = 0.25) -> None:
    """Write the table file whenever the table changed: a scan between whole transactions,
    with the writes of the embedded server running on ``data_dir`` held off meanwhile."""
    gate = _GATES.get(data_dir)
    if gate is None:
        raise RuntimeError(f"no embedded DynamoDB is running on {data_dir} in this process")
    persisted = -1
    while True:
        await asyncio.sleep(interval_s)
        if gate.writes == persisted:
            continue
        try:
            async with gate.closed():
                counted = gate.writes
                items = table_items(store.table, store.region)
            write_table_file(data_dir, items)
            persisted = counted
            # moto keeps every model instance it ever made (for its dashboard), among them
            # the copy of the table each transaction takes: a table's worth per write.
            reset_model_data()
        except Exception:  # keep serving; the next round tries again
            log.exception("could not persist the embedded table")
