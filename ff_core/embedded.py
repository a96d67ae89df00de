"""The embedded DynamoDB of a local install (DESIGN 8): moto's server on loopback.

Its table persists to ``<data_dir>/table.json``: loaded at start, written atomically (a
temporary file, then a rename) within a second of each change. The file holds whole
transactions only, since it is a consistent scan taken between them, so history never
disagrees with state after a crash; at most the last second of changes is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import orjson
from moto.server import ThreadedMotoServer

from ff_core.settings import Settings
from ff_core.store import DynamoStore

CREDENTIALS = ("embedded", "embedded")
ENDPOINT_FILE = "endpoint"
TABLE_FILE = "table.json"
log = logging.getLogger("ff.embedded")


class EmbeddedDynamo:
    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir = data_dir
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.endpoint = ""

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.data_dir / ENDPOINT_FILE, self.endpoint.encode())
        return self.endpoint

    def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / ENDPOINT_FILE).unlink()
        self._server.stop()

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


async def persist_forever(store: DynamoStore, data_dir: Path, interval_s: float = 0.5) -> None:
    """Write the table file whenever any project's change counter moved."""
    last: tuple[int, ...] | None = None
    while True:
        await asyncio.sleep(interval_s)
        try:
            projects = await store.list_projects()
            marker = tuple([len(projects)] + [await store.get_seq(p.key) for p in projects])
            if marker != last:
                write_table_file(data_dir, await store.dump_items())
                last = marker
        except Exception:  # keep serving; the next round tries again
            log.exception("could not persist the embedded table")
