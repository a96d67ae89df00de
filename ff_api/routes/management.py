"""Management REST under ``/api/v1/projects``: thin handlers over ff_core's services.

Each handler checks the caller's role in the project first (``grant``: 401, 403, or 404
for a project the caller cannot see), then reads and validates the body, calls one
service, and serialises. Roles: viewer reads; editor changes flags, their environments
and segments; admin deletes, adds environments and manages keys and members; only an
owner hands out ownership (the services enforce who may grant what).

Writes take ``Idempotency-Key`` (a retried request is applied once) and an optional
``note`` query parameter for the audit log. Replacing a whole environment config or
segment needs ``If-Match: <version>`` (428 without it, 409 with the current version when
it is stale); PATCH and DELETE honour it when sent. ETags are versions.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ff_api.context import read_json
from ff_api.errors import BadRequest, PreconditionRequired
from ff_api.principals import Grant, grant, principal
from ff_api.responses import json_response
from ff_api.schemas import (
    FlagEnvironmentSummary,
    FlagPage,
    FlagSummary,
    HistoryPage,
    KeyCreate,
    KeyCreated,
    KeyView,
    Me,
    MemberSet,
    ProjectCreate,
    ProjectList,
    Rollback,
    SetEnabledIn,
)
from ff_api.state import state_of
from ff_core.errors import Forbidden, InvalidDefinition
from ff_core.limits import MAX_NOTE_LENGTH
from ff_core.models import (
    ActorKind,
    EntityKind,
    Environment,
    EnvironmentConfig,
    Flag,
    Project,
    Role,
    Segment,
)
from ff_core.registry import is_default
from ff_core.validation import validated

M = TypeVar("M", bound=BaseModel)


# -- plumbing -----------------------------------------------------------------------------------


async def _body(request: Request, model: type[M], what: str) -> M:
    state = state_of(request)
    raw = await read_json(request, state.settings.max_management_body_bytes)
    if not isinstance(raw, dict):
        raise BadRequest(f"the body must be a JSON object ({what})")
    return validated(lambda: model.model_validate(raw), what)


def _project(request: Request) -> str:
    project: str = request.path_params["project"]
    return project


def _note(request: Request) -> str:
    note = request.query_params.get("note", "")
    if len(note) > MAX_NOTE_LENGTH:
        raise InvalidDefinition(f"note: at most {MAX_NOTE_LENGTH} characters", field="note")
    return note


def _idempotency(request: Request) -> str | None:
    value = request.headers.get("idempotency-key")
    if value is not None and not 1 <= len(value) <= 200:
        raise BadRequest("Idempotency-Key must be 1 to 200 characters", field="Idempotency-Key")
    return value


def _if_match(request: Request, *, required: bool) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None:
        if required:
            raise PreconditionRequired(
                "send 'If-Match: <version>' (the version you read) so a concurrent change "
                "is reported instead of overwritten",
                field="If-Match",
            )
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise BadRequest('If-Match must be a version number, e.g. If-Match: "3"', field="If-Match")
    return int(value)


def _written(request: Request) -> None:
    """Apply our own write to the served snapshots now, not at the next poll."""
    state_of(request).snapshots.poke()


# -- identity and projects ----------------------------------------------------------------------


async def me(request: Request) -> Response:
    """GET /api/v1/me: who the credentials name, and their projects."""
    state = state_of(request)
    who = await principal(request)
    if who.key is not None:
        memberships = []
    else:
        assert who.email is not None
        memberships = await state.store.list_memberships(who.email)
    return json_response(
        Me(subject=who.actor.subject, kind=who.actor.kind.value, memberships=memberships)
    )


async def list_projects(request: Request) -> Response:
    """GET /api/v1/projects: the projects the caller is a member of (an admin key: its own)."""
    state = state_of(request)
    who = await principal(request)
    if who.key is not None:
        keys = [who.key.project]
    else:
        assert who.email is not None
        keys = sorted(m.project for m in await state.store.list_memberships(who.email))
    projects = [await state.services.projects.get_project(k) for k in keys]
    return json_response(ProjectList(items=projects))


async def create_project(request: Request) -> Response:
    """POST /api/v1/projects: a signed-in user creates a project and becomes its owner."""
    state = state_of(request)
    who = await principal(request)
    if who.actor.kind is not ActorKind.USER or who.email is None:
        raise Forbidden("admin keys belong to one project; sign in to create projects")
    body = await _body(request, ProjectCreate, "project")
    fields = body.model_dump(exclude_none=True)
    project = validated(lambda: Project.model_validate(fields), "project")
    created = await state.services.projects.create_project(
        who.actor, project, note=_note(request), idempotency_key=_idempotency(request)
    )
    # Not one transaction with the project: a retry with the same Idempotency-Key replays
    # the project and makes its creator owner again, so a failure here is recoverable.
    await state.services.access.set_member(
        who.actor, created.key, who.email, Role.OWNER, granted_by=Role.OWNER
    )
    return json_response(created, 201, etag=created.version)


async def get_project(request: Request) -> Response:
    project = _project(request)
    await grant(request, project, Role.VIEWER)
    found = await state_of(request).services.projects.get_project(project)
    return json_response(found, etag=found.version)


async def add_environment(request: Request) -> Response:
    """POST /api/v1/projects/{project}/environments: existing flags start disabled there."""
    project = _project(request)
    who = await grant(request, project, Role.ADMIN)
    environment = await _body(request, Environment, "environment")
    projects = state_of(request).services.projects
    # Adding one that exists is a no-op (so a retry is safe): 200 rather than 201.
    existed = environment.key in (await projects.get_project(project)).environment_keys()
    updated = await projects.add_environment(
        who.actor,
        project,
        environment,
        note=_note(request),
        idempotency_key=_idempotency(request),
    )
    _written(request)
    return json_response(updated, 200 if existed else 201, etag=updated.version)


async def update_project(request: Request) -> Response:
    """PATCH /api/v1/projects/{project}: name, description, the tenant attribute, registry
    enforcement (admin); If-Match is the project's version."""
    project = _project(request)
    who = await grant(request, project, Role.ADMIN)
    expected = _if_match(request, required=False)
    raw = await read_json(request, state_of(request).settings.max_management_body_bytes)
    if not isinstance(raw, dict) or not raw:
        raise BadRequest("the body must be a JSON object of the fields to change")
    updated = await state_of(request).services.projects.update_project(
        who.actor,
        project,
        raw,
        expected_version=expected,
        note=_note(request),
        idempotency_key=_idempotency(request),
    )
    _written(request)
    return json_response(updated, etag=updated.version)


# -- flags --------------------------------------------------------------------------------------


def _summary(flag: Flag) -> FlagSummary:
    registry = flag.registry is not None
    return FlagSummary(
        key=flag.key,
        name=flag.name,
        tags=flag.tags,
        kind=flag.kind,
        client_visible=flag.client_visible,
        archived=flag.archived,
        version=flag.version,
        updated_at=flag.updated_at,
        environments={
            env: FlagEnvironmentSummary(
                enabled=c.enabled,
                version=c.version,
                is_default=is_default(flag, env) if registry else None,
            )
            for env, c in flag.environments.items()
        },
        registry=registry,
    )


def _flag(flag: Flag, status: int = 200, etag: int | None = None) -> Response:
    """A flag's response: a registry flag also says where it serves the registry default."""
    data = flag.model_dump(mode="json")
    if flag.registry is not None:
        data["is_default"] = {env: is_default(flag, env) for env in flag.environments}
    return json_response(data, status, etag=flag.version if etag is None else etag)


def _limit(request: Request, default: int, most: int) -> int:
    raw = request.query_params.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise BadRequest(f"limit must be a whole number from 1 to {most}", field="limit")
    return int(raw)


def _encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("cursor is not one this API returned", field="cursor") from None


def _page(flags: Iterable[Flag], after: str | None, limit: int) -> FlagPage:
    remaining = [f for f in flags if after is None or f.key > after]
    items = remaining[:limit]
    more = len(remaining) > limit
    return FlagPage(
        items=[_summary(f) for f in items],
        next_cursor=_encode_cursor(items[-1].key) if more and items else None,
    )


async def list_flags(request: Request) -> Response:
    """GET .../flags?search=&tag=&archived=&limit=&cursor=: summaries, ordered by key."""
    project = _project(request)
    await grant(request, project, Role.VIEWER)
    query = request.query_params
    limit = _limit(request, 50, 200)
    cursor = query.get("cursor")
    flags = await state_of(request).services.flags.list_flags(
        project, search=query.get("search") or None, tag=query.get("tag") or None
    )
    archived = query.get("archived")
    if archived not in (None, "true", "false", "any"):
        raise BadRequest("archived must be true, false or any", field="archived")
    if archived in (None, "false"):
        flags = [f for f in flags if not f.archived]
    elif archived == "true":
        flags = [f for f in flags if f.archived]
    return json_response(_page(flags, _decode_cursor(cursor) if cursor else None, limit))


async def create_flag(request: Request) -> Response:
    project = _project(request)
    who = await grant(request, project, Role.EDITOR)
    flag = await _body(request, Flag, "flag")
    created = await state_of(request).services.flags.create_flag(
        who.actor, project, flag, note=_note(request), idempotency_key=_idempotency(request)
    )
    _written(request)
    return _flag(created, 201)


async def get_flag(request: Request) -> Response:
    project = _project(request)
    await grant(request, project, Role.VIEWER)
    flag = await state_of(request).services.flags.get_flag(project, request.path_params["key"])
    return _flag(flag)


async def update_flag(request: Request) -> Response:
    """PATCH .../flags/{key}: metadata fields only; If-Match is the flag's version."""
    project = _project(request)
    who = await grant(request, project, Role.EDITOR)
    expected = _if_match(request, required=False)
    raw = await read_json(request, state_of(request).settings.max_management_body_bytes)
    if not isinstance(raw, dict) or not raw:
        raise BadRequest("the body must be a JSON object of the fields to change")
    updated = await state_of(request).services.flags.update_flag(
        who.actor,
        project,
        request.path_params["key"],
        raw,
        expected_version=expected,
        note=_note(request),
        idempotency_key=_idempotency(request),
    )
    _written(request)
    return _flag(updated)


async def put_environment(request: Request) -> Response:
    """PUT .../flags/{key}/environments/{environment}: If-Match is that config's version."""
    project = _project(request)
    who = await grant(request, project, Role.EDITOR)
    expected = _if_match(request, required=True)
    config = await _body(request, EnvironmentConfig, "environment config")
    environment = request.path_params["environment"]
    updated = await state_of(request).services.flags.update_environment(
        who.actor,
        project,
        request.path_params["key"],
        environment,
        config,
        expected_version=expected,
        note=_note(request),
        idempotency_key=_idempotency(request),
    )
    _written(request)
    return _flag(updated, etag=updated.environments[environment].version)


async def set_enabled_in(request: Request) -> Response:
    """POST .../flags/{key}/set-enabled-in ``{"environments": [...], "enabled"?: bool}``."""
    project = _project(request)
    who = await grant(request, project, Role.EDITOR)
    body = await _body(request, SetEnabledIn, "set-enabled-in")
    flags = state_of(request).services.flags
    key = request.path_params["key"]
    note, idempotency = body.note or _note(request), _idempotency(request)
    if body.enabled is None:
        updated = await flags.set_enabled_in(
            who.actor, project, key, body.environments, note=note, idempotency_key=idempotency
        )
    else:
        if not body.environments:
            raise InvalidDefinition("environments: name at least one", field="environments")
        for index, environment in enumerate(body.environments):
            updated = await flags.set_enabled(
                who.actor,
                project,
                key,
                environment,
                body.enabled,
                note=note,
                idempotency_key=f"{idempotency}#{index}" if idempotency else None,
            )
    _written(request)
    return _flag(updated)


async def delete_flag(request: Request) -> Response:
    project = _project(request)
    who = await grant(request, project, Role.ADMIN)
    await state_of(request).services.flags.delete_flag(
        who.actor,
        project,
        request.path_params["key"],
        expected_version=_if_match(request, required=False),
        note=_note(request),
        idempotency_key=_idempotency(request),
    )
    _written(request)
    return Response(status_code=204)


async def flag_history(request: Request) -> Response:
    """GET .../flags/{key}/history?limit=&before=: newest first; pass next_cursor as before."""
    return await _history(request, EntityKind.FLAG)


async def rollback(request: Request) -> Response:
    project = _project(request)
    who = await grant(request, project, Role.EDITOR)
    body = await _body(request, Rollback, "rollback")
    restored = await state_of(request).services.flags.rollback(
        who.actor,
        project,
        request.path_params["key"],
        body.history_id,
        note=body.note or _note(request),
        idempotency_key=_idempotency(request),
    )
    _written(request)
    return _flag(restored)


async def _history(request: Request, entity: EntityKind) -> Response:
    project = _project(request)
    await grant(request, project, Role.VIEWER)
    key = request.path_params["key"]
    limit = _limit(request, 50, 500)
    before = request.query_params.get("before") or None
    state = state_of(request)
    if entity is EntityKind.FLAG:
        page = await state.services.flags.list_history(project, key, limit=limit, before=before)
    else:
        page = await state.store.list_history(project, entity, key, limit, before)
    if not page.items and before is None:
        # No history at all: an unknown key, not an empty log (a deleted one keeps its log).
        if entity is EntityKind.FLAG:
            await state.services.flags.get_flag(project, key)
        else:
            await state.services.segments.get_segment(project, key)
    return json_response(HistoryPage(items=page.items, next_cursor=page.next_cursor))


# -- segments -----------------------------------------------------------------------------------


async def list_segments(request: Request) -> Response:
    project = _project(request)
    await grant(request, project, Role.VIEWER)
    segments = await state_of(request).services.segments.list_segments(project)
    return json_response({"items": [s.model_dump(mode="json") for s in segments]})


async def create_segment(request: Request) -> Response:
    project = _project(request)
    who = await grant(request, project, Role.EDITOR)
    segment = await _body(request, Segment, "segment")
    created = await state_of(request).services.segments.save_segment(
        who.actor, project, segment, note=_note(request), idempotency_key=_idempotency(request)
    )
    _written(request)
    return json_response(created, 201, etag=created.version)


async def get_segment(request: Request) -> Response:
    project = _project(request)
    await grant(request, project, Role.VIEWER)
    segment = await state_of(request).services.segments.get_segment(
        project, request.path_params["key"]
    )
    return json_response(segment, etag=segment.version)


async def put_segment(request: Request) -> Response:
    """PUT .../segments/{key}: replace; If-Match is the segment's version."""
    project = _project(request)
    who = await grant(request, project, Role.EDITOR)
    expected = _if_match(request, required=True)
    segment = await _body(request, Segment, "segment")
    key = request.path_params["key"]
    if segment.key != key:
        raise BadRequest(f"the body's key {segment.key!r} is not {key!r}", field="key")
    saved = await state_of(request).services.segments.save_segment(
        who.actor,
        project,
        segment,
        expected_version=expected,
        note=_note(request),
        idempotency_key=_idempotency(request),
    )
    _written(request)
    return json_response(saved, etag=saved.version)


async def delete_segment(request: Request) -> Response:
    project = _project(request)
    who = await grant(request, project, Role.EDITOR)
    await state_of(request).services.segments.delete_segment(
        who.actor,
        project,
        request.path_params["key"],
        note=_note(request),
        idempotency_key=_idempotency(request),
    )
    _written(request)
    return Response(status_code=204)


async def segment_history(request: Request) -> Response:
    return await _history(request, EntityKind.SEGMENT)


# -- API keys and members -----------------------------------------------------------------------


async def list_keys(request: Request) -> Response:
    project = _project(request)
    await grant(request, project, Role.ADMIN)
    found = await state_of(request).services.access.list_keys(project)
    return json_response({"items": [KeyView.of(k).model_dump(mode="json") for k in found]})


async def create_key(request: Request) -> Response:
    """POST .../keys: the raw key is in this response and nowhere else, ever."""
    project = _project(request)
    who = await grant(request, project, Role.ADMIN)
    body = await _body(request, KeyCreate, "API key")
    key, raw = await state_of(request).services.access.create_key(
        who.actor,
        project,
        body.kind,
        body.name,
        environment=body.environment,
        role=body.role,
        granted_by=who.role,
    )
    return json_response(KeyCreated(key=KeyView.of(key), raw_key=raw), 201)


async def revoke_key(request: Request) -> Response:
    """DELETE .../keys/{id}: every replica refuses it within the poll interval."""
    project = _project(request)
    who = await grant(request, project, Role.ADMIN)
    revoked = await state_of(request).services.access.revoke_key(
        who.actor, project, request.path_params["key_id"]
    )
    return json_response(KeyView.of(revoked))


async def list_members(request: Request) -> Response:
    project = _project(request)
    await grant(request, project, Role.VIEWER)
    members = await state_of(request).services.access.list_members(project)
    return json_response({"items": [m.model_dump(mode="json") for m in members]})


async def set_member(request: Request) -> Response:
    """PUT .../members/{email} ``{"role": ...}``: add a member or change their role."""
    project = _project(request)
    who: Grant = await grant(request, project, Role.ADMIN)
    body = await _body(request, MemberSet, "member")
    member = await state_of(request).services.access.set_member(
        who.actor, project, request.path_params["email"], body.role, granted_by=who.role
    )
    return json_response(member)


async def remove_member(request: Request) -> Response:
    project = _project(request)
    who = await grant(request, project, Role.ADMIN)
    await state_of(request).services.access.remove_member(
        who.actor, project, request.path_params["email"], granted_by=who.role
    )
    return Response(status_code=204)


# -- routes -------------------------------------------------------------------------------------

P = "/api/v1/projects/{project}"

routes: list[BaseRoute] = [
    Route("/api/v1/me", me, methods=["GET"]),
    Route("/api/v1/projects", list_projects, methods=["GET"]),
    Route("/api/v1/projects", create_project, methods=["POST"]),
    Route(P, get_project, methods=["GET"]),
    Route(P, update_project, methods=["PATCH"]),
    Route(f"{P}/environments", add_environment, methods=["POST"]),
    Route(f"{P}/flags", list_flags, methods=["GET"]),
    Route(f"{P}/flags", create_flag, methods=["POST"]),
    Route(f"{P}/flags/{{key}}", get_flag, methods=["GET"]),
    Route(f"{P}/flags/{{key}}", update_flag, methods=["PATCH"]),
    Route(f"{P}/flags/{{key}}", delete_flag, methods=["DELETE"]),
    Route(f"{P}/flags/{{key}}/environments/{{environment}}", put_environment, methods=["PUT"]),
    Route(f"{P}/flags/{{key}}/set-enabled-in", set_enabled_in, methods=["POST"]),
    Route(f"{P}/flags/{{key}}/history", flag_history, methods=["GET"]),
    Route(f"{P}/flags/{{key}}/rollback", rollback, methods=["POST"]),
    Route(f"{P}/segments", list_segments, methods=["GET"]),
    Route(f"{P}/segments", create_segment, methods=["POST"]),
    Route(f"{P}/segments/{{key}}", get_segment, methods=["GET"]),
    Route(f"{P}/segments/{{key}}", put_segment, methods=["PUT"]),
    Route(f"{P}/segments/{{key}}", delete_segment, methods=["DELETE"]),
    Route(f"{P}/segments/{{key}}/history", segment_history, methods=["GET"]),
    Route(f"{P}/keys", list_keys, methods=["GET"]),
    Route(f"{P}/keys", create_key, methods=["POST"]),
    Route(f"{P}/keys/{{key_id}}", revoke_key, methods=["DELETE"]),
    Route(f"{P}/members", list_members, methods=["GET"]),
    Route(f"{P}/members/{{email}}", set_member, methods=["PUT"]),
    Route(f"{P}/members/{{email}}", remove_member, methods=["DELETE"]),
]
