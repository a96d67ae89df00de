"""OFREP bulk answers, built once per environment snapshot and context.

Every flag of an environment answered for one context is a pure function of the compiled
environment (a new object after every change) and the context, unless a flag reads
``$now``. So the answer to a context is kept, as the JSON bytes of its flags, with its
ETag and the tuple of its ``Resolution`` objects (which the usage counts expand later),
until the environment changes. Services and browsers ask again and again for the same
users: a repeated context costs one dict lookup instead of one evaluation per flag.

Bounded: at most ``limit`` contexts per (project, environment, key kind); a full table
is emptied and refilled. Environments where a flag reads ``$now`` are never kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from ff_core.evaluation import (
    CompiledEnvironment,
    CompiledFlag,
    ErrorCode,
    Reason,
    Resolution,
    evaluate_each,
)
from ff_core.models import ApiKey, KeyKind

# OFREP clients accept only OpenFeature's reasons; ours that it lacks map onto the nearest.
OFREP_REASON = {Reason.PREREQUISITE_FAILED: "DEFAULT"}
DEFAULT_LIMIT = 4_096
# Request bodies kept for ``recall`` (OFREP bodies are a few hundred bytes): no longer, so
# that a full table holds at most 16 MB of them; longer ones are parsed every time.
REMEMBERED_BODY_BYTES = 4_096


def ofrep_success(result: Resolution) -> dict[str, Any]:
    metadata: dict[str, Any] = {"version": result.version}
    reason = OFREP_REASON.get(result.reason)
    if reason is not None:
        metadata["ffReason"] = result.reason.value
    return {
        "key": result.key,
        "value": result.value,
        "reason": reason or result.reason.value,
        "variant": result.variant,
        "metadata": metadata,
    }


def ofrep_error(flag: str, code: ErrorCode | str, details: str) -> dict[str, Any]:
    return {"key": flag, "errorCode": str(code), "errorDetails": details}


class Answer:
    """One context's answer: its flags as JSON, its ETag, what was served (for usage).

    ``body`` starts with the flags (``body[:cut]``, the part that is the answer's own);
    once the answer is sent, the rest of the 200's body follows (OFREP's eventStreams and
    the seq, which depend on the key, the token window, the seq and the URL the request
    came to), and ``rendered`` says for which of those, with the 200's headers
    (routes/evaluation.py). One copy of the flags either way."""

    __slots__ = ("body", "cut", "environment", "etag", "project", "rendered", "results")

    def __init__(
        self, project: str, environment: str, results: tuple[Resolution, ...], etag: str
    ) -> None:
        self.project = project
        self.environment = environment
        self.results = results
        self.etag = etag
        self.body = b'{"flags":[' + b",".join(_fragment(r) for r in results) + b"],"
        self.cut = len(self.body)
        self.rendered: tuple[tuple[str, float, bytes], list[tuple[bytes, bytes]]] | None = None

    @property
    def flags_json(self) -> bytes:
        """The flags' JSON objects, comma-separated."""
        return self.body[len(b'{"flags":[') : self.cut - len(b"],")]


@dataclass(frozen=True, slots=True)
class BulkAnswer:
    """A context's answer and what sending it needs: ``kept`` when ``BulkAnswers`` keeps
    it (the same object answers that context until the environment changes)."""

    answer: Answer
    kept: bool
    ctx: dict[str, Any]
    canonical: bytes  # the context as sorted JSON


@dataclass(slots=True)
class _Table:
    env: CompiledEnvironment
    flags: list[CompiledFlag]  # the ones the key may see, by key
    cacheable: bool
    answers: dict[bytes, Answer]
    # The kept answers by (key id, request body) as sent: a body seen before needs no
    # parsing (ff_api/lane.py). Emptied with ``answers``.
    bodies: dict[tuple[str, bytes], BulkAnswer]


class BulkAnswers:
    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._limit = limit
        self._tables: dict[tuple[str, str, bool], _Table] = {}

    def answer(
        self,
        key: ApiKey,
        env: CompiledEnvironment,
        seq: int,
        ctx: dict[str, Any],
        canonical: bytes,
        now: float,
    ) -> tuple[Answer, bool]:
        """The answer for ``ctx`` (``canonical`` is its sorted JSON); True when it is kept.

        A kept answer's usage is counted per answer, a fresh one's per flag.
        """
        server = key.kind is KeyKind.SERVER
        ident = (key.project, env.environment, server)
        table = self._tables.get(ident)
        if table is None or table.env is not env:
            flags = [f for _, f in sorted(env.flags.items()) if server or f.flag.client_visible]
            cacheable = self._limit > 0 and not any(f.needs_now for f in env.flags.values())
            table = _Table(env, flags, cacheable, {}, {})
            self._tables[ident] = table
        if table.cacheable:
            kept = table.answers.get(canonical)
            if kept is not None:
                return kept, True
        etag = _etag(key, seq, canonical)
        results = evaluate_each(env, table.flags, ctx, now)
        fresh = Answer(key.project, env.environment, results, etag)
        if not table.cacheable:
            return fresh, False
        if len(table.answers) >= self._limit:
            table.answers.clear()
            table.bodies.clear()
        table.answers[canonical] = fresh
        return fresh, True

    def remember(
        self, key: ApiKey, env: CompiledEnvironment, body: bytes, bulk: BulkAnswer
    ) -> None:
        """``bulk``, kept, is the answer to requests with ``body`` and ``key`` while ``env``
        is the environment's."""
        table = self._tables.get((key.project, env.environment, key.kind is KeyKind.SERVER))
        if table is None or table.env is not env or not bulk.kept:
            return
        if len(body) > REMEMBERED_BODY_BYTES:
            return
        if len(table.bodies) >= self._limit:
            table.bodies.clear()
        table.bodies[(key.id, body)] = bulk

    def recall(self, key: ApiKey, env: CompiledEnvironment, body: bytes) -> BulkAnswer | None:
        """What ``remember`` kept for ``body`` and ``key`` under ``env``, if anything."""
        table = self._tables.get((key.project, env.environment, key.kind is KeyKind.SERVER))
        if table is None or table.env is not env:
            return None
        return table.bodies.get((key.id, body))


def _etag(key: ApiKey, seq: int, canonical: bytes) -> str:
    # Results depend only on the project's state (its seq), the key's view and the context.
    assert key.environment is not None
    head = f"{key.project}\0{key.environment}\0{key.kind.value}\0{seq}\0".encode()
    return '"' + hashlib.sha256(head + canonical).hexdigest()[:32] + '"'


# Each possible answer (Resolution) is built once when a flag is compiled, so its OFREP JSON
# can be too: keyed by identity, holding the Resolution so that the id is never reused.
_FRAGMENTS: dict[int, tuple[Resolution, bytes]] = {}
_FRAGMENTS_LIMIT = 100_000


def _fragment(result: Resolution) -> bytes:
    cached = _FRAGMENTS.get(id(result))
    if cached is not None and cached[0] is result:
        return cached[1]
    if result.error_code is None:
        fragment = orjson.dumps(ofrep_success(result))
    else:
        fragment = orjson.dumps(
            ofrep_error(result.key, result.error_code, result.error_message or "")
        )
    if len(_FRAGMENTS) >= _FRAGMENTS_LIMIT:
        _FRAGMENTS.clear()
    _FRAGMENTS[id(result)] = (result, fragment)
    return fragment
