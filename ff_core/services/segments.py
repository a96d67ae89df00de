"""Segment use cases."""

from __future__ import annotations

from ff_core.errors import AlreadyExists, InvalidDefinition, NotFound
from ff_core.models import Action, Actor, EntityKind, Segment
from ff_core.services.checks import segment_users
from ff_core.services.writer import Change, Writer, check_version
from ff_core.validation import validated


class SegmentService:
    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._store = writer.store

    async def get_segment(self, project: str, key: str) -> Segment:
        return await self._store.get_segment(project, key)

    async def list_segments(self, project: str) -> list[Segment]:
        state = await self._store.load_project(project)
        return sorted(state.segments.values(), key=lambda s: s.key)

    async def save_segment(
        self,
        actor: Actor,
        project: str,
        segment: Segment,
        *,
        expected_version: int | None = None,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> Segment:
        """Create (``expected_version`` None) or replace a segment."""

        async def plan() -> Change:
            state = await self._store.load_project(project)
            old = state.segments.get(segment.key)
            if expected_version is None and old is not None:
                raise AlreadyExists(
                    f"segment {segment.key!r} already exists in project {project!r}"
                )
            if expected_version is not None:
                if old is None:
                    raise NotFound(
                        f"segment {segment.key!r} not found in project {project!r}",
                        entity="segment",
                        key=segment.key,
                    )
                check_version(old, expected_version)
            version = 1 if old is None else old.version + 1
            new = validated(lambda: segment.replace(version=version), "segment")
            action = Action.CREATED if old is None else Action.UPDATED
            return Change(old=old, new=new, action=action)

        written = await self._writer.apply(
            actor,
            project,
            EntityKind.SEGMENT,
            segment.key,
            {
                "op": "save",
                "segment": segment.model_dump(mode="json"),
                "expected": expected_version,
            },
            plan,
            note=note,
            idempotency_key=idempotency_key,
        )
        assert isinstance(written, Segment)
        return written

    async def delete_segment(
        self,
        actor: Actor,
        project: str,
        key: str,
        *,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> None:
        """Delete a segment; refused while a flag's rule refers to it."""

        async def plan() -> Change:
            state = await self._store.load_project(project)
            old = state.segments.get(key)
            if old is None:
                raise NotFound(
                    f"segment {key!r} not found in project {project!r}", entity="segment", key=key
                )
            users = segment_users(key, state.flags)
            if users:
                raise InvalidDefinition(
                    f"cannot delete segment {key!r}: flags {users} use it", field="key"
                )
            return Change(old=old, new=None, action=Action.DELETED)

        await self._writer.apply(
            actor,
            project,
            EntityKind.SEGMENT,
            key,
            {"op": "delete"},
            plan,
            note=note,
            idempotency_key=idempotency_key,
        )
