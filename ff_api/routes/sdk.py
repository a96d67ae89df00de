"""SDK sync for server keys: full definitions of the key's environment, and their change stream.

Stream events (ids are the project's change sequence):
- ``snapshot``: ``{"seq", "environment", "flags": [...], "segments": [...]}`` on connect,
  and whenever the log cannot say what changed;
- ``upsert``: ``{"seq", "kind": "flag"|"segment", "key", "version", "definition"}``;
- ``delete``: ``{"seq", "kind", "key", "version"}``;
- ``retarget``: ``{"seq", "tenant", "flags": [...]}``: a tenant's change, with the
  definitions of the flags it changed (tenant state changes no flag's version, so an
  ``upsert`` would be ignored by SDKs as already seen; these are applied when newer than
  the client's sequence).
``Last-Event-ID`` replays exactly the changes after it while the change log still holds
them, else a snapshot (a replayed tenant change is sent as a snapshot too: the log does
not say which flags it changed). Flags carry only the key's own environment, as
evaluation serves them: with each tenant's explicit state as targets on the project's
tenant attribute (``ff_core.tenancy``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ff_api.errors import BadRequest
from ff_api.event_stream import Stream, StreamRoute, event_stream
from ff_api.hub import Batch
from ff_api.snapshots import ProjectSnapshot
from ff_api.state import ApiState, state_of
from ff_core.limits import MAX_VALUES_PER_TARGET
from ff_core.models import ApiKey, ChangeEntry, ChangeKind, EntityKind, Flag, KeyKind


def flag_for(flag: Flag, environment: str) -> dict[str, Any]:
    """A flag as an SDK of one environment needs it: the other environments' rules stay home."""
    data = flag.model_dump(mode="json")
    data["environments"] = {k: v for k, v in data["environments"].items() if k == environment}
    config = data["environments"].get(environment)
    if config is not None and flag.registry is not None:
        # Tenant targets list every tenant with a value; SDKs validate definitions with the
        # stored limits, so a long one goes as several (same order, same answers).
        config["targets"] = [part for t in config["targets"] for part in _split(t)]
    return data


def _split(target: dict[str, Any]) -> list[dict[str, Any]]:
    values, size = target["values"], MAX_VALUES_PER_TARGET
    if len(values) <= size:
        return [target]
    return [{**target, "values": values[i : i + size]} for i in range(0, len(values), size)]


def snapshot_data(snapshot: ProjectSnapshot, environment: str) -> dict[str, Any]:
    env = snapshot.environment(environment)
    return {
        "project": snapshot.state.project.key,
        "environment": environment,
        "seq": snapshot.seq,
        "flags": [flag_for(f.flag, environment) for f in env.flags.values()],
        "segments": [s.model_dump(mode="json") for s in env.segments.values()],
    }


def needs_snapshot(change: ChangeEntry, snapshot: ProjectSnapshot) -> bool:
    """Changes ``snapshot`` cannot describe as an event: a project's, and a tenant's whose
    flags it does not know (replayed from the log, or applied by a reload)."""
    if change.entity is EntityKind.TENANT:
        return change.seq not in snapshot.retargeted
    return change.entity is EntityKind.PROJECT


def change_event(
    change: ChangeEntry, snapshot: ProjectSnapshot, environment: str
) -> ServerSentEvent:
    if needs_snapshot(change, snapshot):
        return snapshot_event(snapshot, environment)
    if change.entity is EntityKind.TENANT:
        flags = [
            flag_for(snapshot.served[key], environment)
            for key in sorted(snapshot.retargeted[change.seq])
            if key in snapshot.served
        ]
        retarget = {"seq": change.seq, "tenant": change.key, "flags": flags}
        return event(retarget, "retarget", change.seq)
    data: dict[str, Any] = {
        "seq": change.seq,
        "kind": change.entity.value,
        "key": change.key,
        "version": change.version,
    }
    current: Any = (
        snapshot.served.get(change.key)
        if change.entity is EntityKind.FLAG
        else snapshot.state.segments.get(change.key)
    )
    if change.change is ChangeKind.DELETE or current is None:
        return event(data, "delete", change.seq)
    definition = (
        flag_for(current, environment)
        if isinstance(current, Flag)
        else current.model_dump(mode="json")
    )
    return event(
        {**data, "version": current.version, "definition": definition}, "upsert", change.seq
    )


def shared_event(change: ChangeEntry, snapshot: ProjectSnapshot, environment: str) -> bytes:
    """A live change's event, built and encoded once for all subscribers of its environment
    (the fan-out to a thousand streams otherwise serialises the same flag a thousand times)."""
    memo = snapshot.encoded_events
    encoded = memo.get((change.seq, environment))
    if encoded is None:
        encoded = change_event(change, snapshot, environment).encode()
        memo[(change.seq, environment)] = encoded
    return encoded


def snapshot_event(snapshot: ProjectSnapshot, environment: str) -> ServerSentEvent:
    return event(snapshot_data(snapshot, environment), "snapshot", snapshot.seq)


def shared_snapshot(snapshot: ProjectSnapshot, environment: str) -> bytes:
    """The snapshot event, built and encoded once per snapshot and environment.

    Connecting subscribers share it: built per connection, it cost ~5 ms of CPU each, and
    sse-starlette keeps the last event it sent (here ~40 KB, twice: text and bytes) until
    the next one, which for an idle stream was most of its memory."""
    memo = snapshot.encoded_snapshots
    encoded = memo.get(environment)
    if encoded is None:
        encoded = snapshot_event(snapshot, environment).encode()
        memo[environment] = encoded
    return encoded


def event(data: dict[str, Any], name: str, seq: int) -> ServerSentEvent:
    """One event; its data is JSON (sse-starlette would send a dict's repr)."""
    return ServerSentEvent(orjson.dumps(data).decode(), event=name, id=str(seq))


def last_event_id(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise BadRequest("Last-Event-ID must be a change sequence number", field="Last-Event-ID")
    return int(raw)


async def sdk_flags(request: Request) -> Response:
    """GET /api/v1/sdk/flags: every definition of the key's environment; ETag by sequence."""
    state = state_of(request)
    key = await state.auth.request_key(request, (KeyKind.SERVER,))
    assert key.environment is not None
    snapshot = await state.snapshots.get(key.project)
    etag = f'"{key.project}.{key.environment}.{snapshot.seq}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return JSONResponse(snapshot_data(snapshot, key.environment), headers={"ETag": etag})


async def sdk_stream(request: Request) -> Response:
    """GET /api/v1/sdk/stream (server-sent events)."""
    state = state_of(request)
    key = await state.auth.request_key(request, (KeyKind.SERVER,))
    resume = last_event_id(request)
    return event_stream(lambda stream: definition_events(state, key, resume, stream))


async def definition_events(
    state: ApiState, key: ApiKey, resume: int | None, stream: Stream
) -> AsyncIterator[ServerSentEvent | bytes]:
    """The stream's first events; then its live ones (``LiveDefinitions``)."""
    environment = key.environment
    assert environment is not None
    # Subscribe before reading the snapshot: a change applied in between is then queued.
    stream.subscribe(state.hub, key.project)
    snapshot = await state.snapshots.get(key.project)
    missed = await replay(state, key.project, resume, snapshot)
    if missed is None or any(needs_snapshot(c, snapshot) for c in missed):
        yield shared_snapshot(snapshot, environment)
    else:
        for change in missed:
            yield change_event(change, snapshot, environment)
    stream.live(LiveDefinitions(environment, snapshot.seq))


class LiveDefinitions:
    """The events of each published batch for one stream, which has everything up to
    ``cursor``: its changes after the cursor, encoded once for every stream of the
    environment, or one snapshot when the batch holds a change no event can describe."""

    __slots__ = ("cursor", "environment")  # one a stream: 10,000 may be open

    def __init__(self, environment: str, cursor: int) -> None:
        self.environment, self.cursor = environment, cursor

    def __call__(self, batch: Batch) -> list[bytes]:
        current, changes = batch
        fresh = [c for c in changes if c.seq > self.cursor]
        if any(needs_snapshot(c, current) for c in fresh):
            # One snapshot for the batch, not one per change in it.
            self.cursor = max(self.cursor, current.seq)
            return [shared_snapshot(current, self.environment)]
        if fresh:
            self.cursor = fresh[-1].seq
        return [shared_event(change, current, self.environment) for change in fresh]


async def replay(
    state: ApiState, project: str, resume: int | None, snapshot: ProjectSnapshot
) -> list[ChangeEntry] | None:
    """The changes after ``resume`` up to the snapshot, or None when a snapshot must be sent."""
    if resume is None or resume > snapshot.seq:
        return None
    if resume == snapshot.seq:
        return []
    missed: list[ChangeEntry] = []
    after = resume
    while after < snapshot.seq:
        page = await state.store.read_changes(project, after, limit=1000)
        if not page or page[0].seq != after + 1:
            return None  # the log no longer reaches back that far
        missed.extend(c for c in page if c.seq <= snapshot.seq)
        after = page[-1].seq
    return missed


routes = [
    Route("/api/v1/sdk/flags", sdk_flags, methods=["GET"]),
    Route("/api/v1/sdk/stream", StreamRoute(sdk_stream), methods=["GET"]),
]
