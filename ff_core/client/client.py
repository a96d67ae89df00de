"""FlagClient: local evaluation over a snapshot that a background task keeps current.

    client = await FlagClient.connect(url="https://flags.example", server_key="ffs_...")
    if await client.is_enabled("new-checkout", {"targeting_key": user.id, "plan": "pro"}):
        ...
    await client.close()

Evaluation does no I/O and never raises: on any problem the caller's default comes back
with an error reason, and the problem is logged once per flag. Everything else (following
the source, status changes, change callbacks, persistence, usage reports) happens in
background tasks on the loop that started the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from time import time as _time
from types import TracebackType
from typing import Any, Final, Self, TypeVar, Unpack, overload

from pydantic import JsonValue

from ff_core.client.backoff import Backoff
from ff_core.client.details import (
    MISMATCH,
    ContextLike,
    EvaluationDetails,
    Status,
    as_bool,
    as_context,
    as_json,
    kind_of,
)
from ff_core.client.library import StoreSource
from ff_core.client.listeners import Listeners
from ff_core.client.options import ClientOptions, source_for
from ff_core.client.persistence import Persistence
from ff_core.client.snapshot import (
    Change,
    PendingDocument,
    Snapshot,
    parse_document,
    read_document,
)
from ff_core.client.usage import UsageReporter
from ff_core.evaluation import CompiledEnvironment, ErrorCode, Reason, Resolution, evaluate

log = logging.getLogger("ff.client")

T = TypeVar("T")
ChangeListener = Callable[[list[str]], object]
StatusListener = Callable[[Status, str | None], object]

# Bounds the memory of "already warned about": beyond, warnings repeat rather than grow it.
_MAX_WARNED: Final = 10_000
# close() waits no longer than this for the last usage report.
_CLOSE_FLUSH_S: Final = 2.0
_EMPTY = CompiledEnvironment("")
# Answers about flags that may not exist: counting them would grow the usage dict with any key.
_UNCOUNTED: Final = frozenset({ErrorCode.FLAG_NOT_FOUND, ErrorCode.PROVIDER_NOT_READY})


# How long ``start`` waits for the first snapshot by default: with the API down, a service
# starts on its bootstrap file or defaults within 5 s, this plus the reads around it.
START_TIMEOUT_S = 4.0


class FlagClient:
    """An async feature-flag client with local evaluation.

    Sources (one per client):
    - ``url`` + ``server_key``: the ff API; follows its stream, polls when it cannot stream.
    - ``library=True`` / ``settings`` / nothing at all: DynamoDB directly, configured by
      ``configure(...)`` or ``FF_*`` variables; follows the project's change log.
    - ``bootstrap`` alone: a snapshot file, offline (with a source, it serves until the
      source answers).

    ``persist_to`` keeps the last snapshot in a file so that a restart while the source is
    down starts with it. ``timeout_s`` bounds how long ``start`` waits for the first
    snapshot (default 4 s: a service starting while the API is down is up within 5 s);
    ``poll_interval_s`` is the polling cadence (API: 30 s, also the back-off cap; library
    mode: 1 s); ``usage_interval_s`` how often evaluation counts are reported (default
    60 s; None or 0: never).
    """

    def __init__(self, **options: Unpack[ClientOptions]) -> None:
        self._bootstrap = _path(options.get("bootstrap"))
        persist_to = options.get("persist_to")
        self._persistence = None if persist_to is None else Persistence(Path(persist_to))
        self._timeout_s = options.get("timeout_s", START_TIMEOUT_S)
        self._source = source_for(options)
        self._environment = options.get("environment")
        usage_s = options.get("usage_interval_s", 60.0)
        self._usage: UsageReporter | None = None
        if self._source is not None and usage_s:
            self._usage = UsageReporter(self._take_counts, self._source.report_usage, usage_s)
        # The hot path reads these two.
        self._env = _EMPTY
        self._counts: dict[str, int] = {}
        self._snapshot: Snapshot | None = None
        self._pending: PendingDocument | None = None
        self._from_source = False
        self._swap = threading.Lock()
        self._status = Status.ERROR
        self._status_message: str | None = "not started"
        self._first = asyncio.Event()
        # The last problem the source reported.
        self._problem: str | None = None
        self._started = False
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._usage_task: asyncio.Task[None] | None = None
        self._completion: asyncio.Task[None] | None = None
        self._changes: Listeners[[list[str]]] = Listeners()
        self._statuses: Listeners[[Status, str | None]] = Listeners()
        self._warned: set[tuple[str, str]] = set()

    @classmethod
    async def connect(cls, **options: Unpack[ClientOptions]) -> FlagClient:
        """A started client: its first snapshot loaded, or ``timeout_s`` passed."""
        client = cls(**options)
        await client.start()
        return client

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load any file snapshot, start following the source, and wait for its first
        snapshot (at most ``timeout_s``). Raises only for a bootstrap file that cannot be read."""
        if self._started:
            return
        self._started = True
        self._load_file()
        if self._source is None:
            self._set_status(Status.READY, None)
            return
        self._spawn(self._follow())
        if self._usage is not None:
            self._usage_task = self._spawn(self._usage.run())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first.wait(), self._timeout_s)
        if not self._first.is_set():
            waited = f"no snapshot from the {self._source.name} source within {self._timeout_s} s"
            if self._problem is not None:
                waited = f"{waited}: {self._problem}"
            self._set_status(Status.STALE if self._has_data() else Status.ERROR, waited)

    async def close(self) -> None:
        """Stop following, send the last usage counts, persist the snapshot."""
        if self._closed:
            return
        self._closed = True
        if self._usage_task is not None:
            await _cancel(self._usage_task)
        if self._usage is not None:  # while the source (its HTTP client or store) is still open
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._usage.flush(), _CLOSE_FLUSH_S)
        for task in list(self._tasks):
            await _cancel(task)
        await self._changes.aclose()
        await self._statuses.aclose()
        if self._persistence is not None:
            await self._persistence.aclose()
        if self._source is not None:
            await self._source.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def status(self) -> Status:
        return self._status

    @property
    def status_message(self) -> str | None:
        """Why the status is not READY (the last problem), else None."""
        return self._status_message

    @property
    def seq(self) -> int | None:
        """The change sequence of the snapshot being served (None before one is loaded)."""
        if self._snapshot is not None:
            return self._snapshot.seq
        return self._pending.seq if self._pending is not None else None

    def on_change(self, callback: ChangeListener) -> Callable[[], None]:
        """Call ``callback(flag_keys)`` after definitions changed (sync or async); returns an
        unsubscribe function. ``flag_keys`` lists the flags whose answers may differ."""
        return self._changes.add(callback)

    def on_status(self, callback: StatusListener) -> Callable[[], None]:
        """Call ``callback(status, message)`` on every status change; returns an unsubscribe."""
        return self._statuses.add(callback)

    # -- evaluation -----------------------------------------------------------------------------

    async def is_enabled(
        self, key: str, context: ContextLike | None = None, default: bool = False
    ) -> bool:
        try:
            if context is not None and context.__class__ is not dict:
                context = as_context(context)
            value = evaluate(self._env, key, context, _time()).value
            if value is True or value is False:
                counts = self._counts
                counts[key] = counts.get(key, 0) + 1
                return value
        except Exception:  # the slow path below answers with the reason
            pass
        return self._details(key, context, default, as_bool).value

    @overload
    async def variation(
        self, key: str, context: ContextLike | None = None, *, default: bool
    ) -> bool: ...
    @overload
    async def variation(
        self, key: str, context: ContextLike | None = None, *, default: int
    ) -> int: ...
    @overload
    async def variation(
        self, key: str, context: ContextLike | None = None, *, default: float
    ) -> float: ...
    @overload
    async def variation(
        self, key: str, context: ContextLike | None = None, *, default: str
    ) -> str: ...
    @overload
    async def variation(
        self, key: str, context: ContextLike | None = None, *, default: JsonValue
    ) -> JsonValue: ...
    async def variation(
        self, key: str, context: ContextLike | None = None, *, default: JsonValue
    ) -> JsonValue:
        """The flag's value, of the type of ``default`` (bool, int, float, str, or a JSON
        object/array for a dict or list default; any JSON for None); else ``default``."""
        return self._details(key, context, default, kind_of(default)).value

    async def json_variation(
        self, key: str, context: ContextLike | None = None, *, default: JsonValue = None
    ) -> JsonValue:
        """The flag's value whatever its JSON type (a copy: yours to change)."""
        return self._details(key, context, default, as_json).value

    @overload
    async def details(
        self, key: str, context: ContextLike | None = None, *, default: None = None
    ) -> EvaluationDetails[JsonValue]: ...
    @overload
    async def details(
        self, key: str, context: ContextLike | None = None, *, default: T
    ) -> EvaluationDetails[T]: ...
    async def details(
        self, key: str, context: ContextLike | None = None, *, default: Any = None
    ) -> EvaluationDetails[Any]:
        """Value, variant, reason and error code; the value typed as ``variation`` types it
        (any JSON value without a default)."""
        return self._details(key, context, default, kind_of(default))

    async def all_flags(
        self, context: ContextLike | None = None
    ) -> dict[str, EvaluationDetails[JsonValue]]:
        """Every flag's details for ``context``, by key."""
        if self._completion is not None and not self._completion.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._completion)
        keys: set[str] = set()
        snapshot, pending = self._snapshot, self._pending
        if snapshot is not None:
            keys.update(snapshot.flags, snapshot.invalid)
        elif pending is not None:
            keys.update(pending.keys())
        return {k: self._details(k, context, None, as_json) for k in sorted(keys)}

    def _details(
        self, key: str, context: object, default: T, kind: Callable[[Any], Any]
    ) -> EvaluationDetails[T]:
        """The whole path, for every caller that is not the fast path (never raises)."""
        try:
            if key.__class__ is not str:
                return self._failed(str(key), default, ErrorCode.GENERAL, "a flag key is a str")
            try:
                ctx = as_context(context)  # type: ignore[arg-type]
            except Exception as exc:
                return self._failed(key, default, ErrorCode.INVALID_CONTEXT, str(exc))
            resolution = self._resolve(key, ctx)
            if resolution.error_code is not None:
                return self._failed(
                    key,
                    default,
                    resolution.error_code,
                    resolution.error_message,
                    resolution.version,
                )
            value = kind(resolution.value)
            if value is MISMATCH:
                message = (
                    f"flag {key!r} has a {type(resolution.value).__name__} value, "
                    f"asked for as {kind.__name__.removeprefix('as_')}"
                )
                return self._failed(
                    key, default, ErrorCode.TYPE_MISMATCH, message, resolution.version
                )
            return EvaluationDetails(
                key, value, resolution.variant, resolution.reason, version=resolution.version
            )
        except Exception as exc:  # a defect of ours: still the caller's default
            log.exception("ff: evaluating %r failed", key)
            return EvaluationDetails(
                str(key), default, None, Reason.ERROR, ErrorCode.GENERAL, str(exc)
            )

    def _resolve(self, key: str, context: Any) -> Resolution:
        resolution = evaluate(self._env, key, context, _time())
        if resolution.error_code is ErrorCode.FLAG_NOT_FOUND:
            resolution = self._not_found(key, context, resolution)
        if resolution.error_code not in _UNCOUNTED:
            counts = self._counts
            counts[key] = counts.get(key, 0) + 1
        return resolution

    def _not_found(self, key: str, context: Any, missing: Resolution) -> Resolution:
        pending = self._pending
        if pending is not None and key in pending:
            env = pending.resolve(key)
            if env is not None:
                with self._swap:
                    if self._pending is pending:  # the full snapshot has not replaced it yet
                        self._env = env
                return evaluate(env, key, context, _time())
            return _error(key, ErrorCode.PARSE_ERROR, pending.invalid.get(key))
        snapshot = self._snapshot
        if snapshot is not None and key in snapshot.invalid:
            return _error(key, ErrorCode.PARSE_ERROR, snapshot.invalid[key])
        if snapshot is None and pending is None:
            why = self._status_message or "no snapshot loaded"
            return _error(key, ErrorCode.PROVIDER_NOT_READY, f"no flags yet: {why}")
        return missing

    def _failed(
        self,
        key: str,
        default: T,
        code: ErrorCode,
        message: str | None,
        version: int = 0,
    ) -> EvaluationDetails[T]:
        warned = (key, code.value)
        if warned not in self._warned:
            if len(self._warned) < _MAX_WARNED:
                self._warned.add(warned)
            log.warning("ff: flag %r answered the default (%s): %s", key, code.value, message)
        return EvaluationDetails(key, default, None, Reason.ERROR, code, message, version)

    def _take_counts(self) -> dict[str, int]:
        counts, self._counts = self._counts, {}
        return counts

    # -- what the source feeds (through _Feed) ----------------------------------------------

    def _resume_seq(self) -> int | None:
        if self._from_source and self._snapshot is not None:
            return self._snapshot.seq
        return None

    def _replace(self, snapshot: Snapshot) -> None:
        old = self._snapshot
        if (
            self._from_source
            and old is not None
            and (old.project, old.environment) == (snapshot.project, snapshot.environment)
            and snapshot.seq < old.seq
        ):
            log.info("ff: ignored a snapshot older than the one served (%s)", snapshot.seq)
            return
        pending = self._pending
        changed = snapshot.changed_since(old)
        if old is None and pending is not None:  # the file's data was never fully loaded
            changed.update(pending.keys())
        self._from_source = True
        self._install(snapshot, changed if (old is not None or pending is not None) else set())
        self._first.set()

    def _apply(self, changes: list[Change]) -> None:
        if self._snapshot is None or not self._from_source:
            return  # a source sends a snapshot before any change
        updated, changed = self._snapshot.apply(changes)
        self._install(updated, changed)

    def _connected(self) -> None:
        if self._from_source:
            self._set_status(Status.READY, None)

    def _unreachable(self, message: str) -> None:
        self._problem = message
        has_data = self._has_data()
        self._set_status(Status.STALE if has_data else Status.ERROR, message)
        if has_data:
            self._first.set()  # no point waiting: we can serve what we have

    def _rejected(self, message: str) -> None:
        log.error("ff: %s; not reconnecting", message)
        if self._usage_task is not None:  # the same key would be refused
            self._usage_task.cancel()
        self._usage = None
        self._set_status(Status.ERROR, message)
        self._first.set()

    # -- internals ------------------------------------------------------------------------------

    def _install(self, snapshot: Snapshot, changed: set[str]) -> None:
        with self._swap:
            self._snapshot = snapshot
            self._pending = None
            self._env = snapshot.compiled
        if self._from_source and self._persistence is not None:
            self._persistence.changed(snapshot)
        if changed:
            self._changes.emit(sorted(changed))

    def _has_data(self) -> bool:
        return self._snapshot is not None or self._pending is not None

    def _set_status(self, status: Status, message: str | None) -> None:
        self._status_message = message
        if status is self._status:
            return
        self._status = status
        if status is not Status.READY:
            log.warning("ff: status %s: %s", status.value, message)
        self._statuses.emit(status, message)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("ff: a background task failed", exc_info=task.exception())

    async def _follow(self) -> None:
        assert self._source is not None
        retry = Backoff(initial_s=1.0, max_s=60.0)
        while True:
            try:
                await self._source.run(_Feed(self))
                return  # rejected
            except Exception as exc:  # a defect in a source must not stop the client
                log.exception("ff: the %s source failed", self._source.name)
                self._unreachable(f"the source failed: {exc}")
            await asyncio.sleep(retry.next())

    def _load_file(self) -> None:
        doc = None
        if self._persistence is not None:
            doc = self._persistence.load(self._matches_source)
        if doc is None and self._bootstrap is not None:
            # Read in the loop: one local file, once; a thread hop costs more than the read.
            doc = read_document(self._bootstrap.read_bytes())
        if doc is None:
            return
        self._pending = PendingDocument(doc, self._environment)
        if self._source is not None:
            self._status = Status.STALE  # until the source answers
            self._status_message = "serving a snapshot from a file"
        self._completion = self._spawn(self._complete(self._pending))

    def _matches_source(self, doc: dict[str, Any]) -> bool:
        source = self._source
        if isinstance(source, StoreSource):
            return (doc.get("project"), doc.get("environment")) == (
                source.project,
                source.environment,
            )
        return True

    async def _complete(self, pending: PendingDocument) -> None:
        snapshot = await asyncio.to_thread(parse_document, pending.doc, pending.environment)
        if self._pending is pending:  # not replaced by the source meanwhile
            self._install(snapshot, set())


class _Feed:
    """What a source sees of its client (the ``Feed`` protocol), and nothing else."""

    def __init__(self, client: FlagClient) -> None:
        self._client = client

    @property
    def resume_seq(self) -> int | None:
        return self._client._resume_seq()

    async def replace(self, snapshot: Snapshot) -> None:
        self._client._replace(snapshot)

    async def apply(self, changes: list[Change]) -> None:
        self._client._apply(changes)

    def connected(self) -> None:
        self._client._connected()

    def unreachable(self, message: str) -> None:
        self._client._unreachable(message)

    def rejected(self, message: str) -> None:
        self._client._rejected(message)


def _error(key: str, code: ErrorCode, message: str | None) -> Resolution:
    return Resolution(key, None, None, Reason.ERROR, code, message)


def _path(value: str | os.PathLike[str] | None) -> Path | None:
    return None if value is None else Path(value)


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
