"""Every management route x every role: one table, so no route can skip its role check.

For each route the table names the least role it needs and how to build a request that
would succeed. Each role then sends it: roles below the need get 403 and change nothing,
roles at or above it succeed. A key of another project gets 404 on every route, exactly
as if the project did not exist. A test checks that the table covers every route.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from ff_api.routes import management, tenants
from ff_core.models import EnvironmentConfig, Flag, KeyKind, Project, Role, Segment, Serve
from tests.api.conftest import ADMIN, Seeded
from tests.tenants_support import put_registry_flag, registry_flag

ROLES = (Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER)
_fresh = itertools.count(1)


@dataclass
class Ctx:
    seeded: Seeded
    keys: dict[Role, str]
    other_project_key: str
    state: dict[str, Any] = field(default_factory=dict)


Prepare = Callable[[Ctx], Awaitable[dict[str, Any]]]


@dataclass
class Case:
    method: str
    template: str
    needs: Role
    prepare: Prepare  # returns path params plus optional "json" and "headers"
    ok: int = 200
    query: str = ""  # appended to the path

    def path(self, **params: Any) -> str:
        return self.template.format(project="demo", **params) + self.query


def _flag_body(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "name": key,
        "variants": {"on": {"value": True}, "off": {"value": False}},
    }


async def _new_flag(ctx: Ctx) -> str:
    key = f"tmp-{next(_fresh)}"
    await ctx.seeded.services.flags.create_flag(ADMIN, "demo", Flag.model_validate(_flag_body(key)))
    return key


async def _new_segment(ctx: Ctx) -> str:
    key = f"seg-{next(_fresh)}"
    await ctx.seeded.services.segments.save_segment(
        ADMIN, "demo", Segment(key=key, name=key, included=("a",))
    )
    return key


async def _history_id(ctx: Ctx, key: str) -> str:
    page = await ctx.seeded.services.flags.list_history("demo", key)
    return page.items[-1].id


async def p_none(ctx: Ctx) -> dict[str, Any]:
    return {}


async def p_flag(ctx: Ctx) -> dict[str, Any]:
    return {"key": "new-checkout"}


async def p_new_flag_body(ctx: Ctx) -> dict[str, Any]:
    return {"json": _flag_body(f"made-{next(_fresh)}")}


async def p_patch_flag(ctx: Ctx) -> dict[str, Any]:
    return {"key": await _new_flag(ctx), "json": {"description": "changed"}}


async def p_delete_flag(ctx: Ctx) -> dict[str, Any]:
    return {"key": await _new_flag(ctx)}


async def p_put_environment(ctx: Ctx) -> dict[str, Any]:
    key = await _new_flag(ctx)
    flag = await ctx.seeded.services.flags.get_flag("demo", key)
    config = EnvironmentConfig(enabled=True, off_variant="off", fallthrough=Serve(variant="on"))
    return {
        "key": key,
        "environment": "staging",
        "json": config.model_dump(mode="json", exclude={"version"}),
        "headers": {"If-Match": f'"{flag.environments["staging"].version}"'},
    }


async def p_set_enabled_in(ctx: Ctx) -> dict[str, Any]:
    return {"key": await _new_flag(ctx), "json": {"environments": ["staging"]}}


async def p_rollback(ctx: Ctx) -> dict[str, Any]:
    key = await _new_flag(ctx)
    first = await _history_id(ctx, key)
    await ctx.seeded.services.flags.update_flag(ADMIN, "demo", key, {"description": "x"})
    return {"key": key, "json": {"history_id": first}}


async def p_segment(ctx: Ctx) -> dict[str, Any]:
    return {"key": "beta"}


async def p_new_segment_body(ctx: Ctx) -> dict[str, Any]:
    key = f"made-seg-{next(_fresh)}"
    return {"json": {"key": key, "name": key, "included": ["bob"]}}


async def p_put_segment(ctx: Ctx) -> dict[str, Any]:
    key = await _new_segment(ctx)
    return {
        "key": key,
        "json": {"key": key, "name": "renamed", "included": ["a", "b"]},
        "headers": {"If-Match": '"1"'},
    }


async def p_delete_segment(ctx: Ctx) -> dict[str, Any]:
    return {"key": await _new_segment(ctx)}


async def p_patch_project(ctx: Ctx) -> dict[str, Any]:
    return {"json": {"description": f"changed {next(_fresh)}"}}


async def p_environment_body(ctx: Ctx) -> dict[str, Any]:
    key = f"env{next(_fresh)}"
    return {"json": {"key": key, "name": key}}


async def p_key_body(ctx: Ctx) -> dict[str, Any]:
    return {"json": {"kind": "server", "name": "made", "environment": "staging"}}


async def p_revoke_key(ctx: Ctx) -> dict[str, Any]:
    key, _ = await ctx.seeded.services.access.create_key(
        ADMIN, "demo", KeyKind.CLIENT, "to-revoke", environment="staging"
    )
    return {"key_id": key.id}


async def p_set_member(ctx: Ctx) -> dict[str, Any]:
    return {"email": f"person{next(_fresh)}@example.com", "json": {"role": "editor"}}


async def p_remove_member(ctx: Ctx) -> dict[str, Any]:
    email = f"leaver{next(_fresh)}@example.com"
    await ctx.seeded.services.access.set_member(
        ADMIN, "demo", email, Role.VIEWER, granted_by=Role.OWNER
    )
    return {"email": email}


REGISTRY_FLAG = "roles.registry"


async def _tenant(ctx: Ctx) -> str:
    """A fresh tenant, onboarded with state for a registry flag."""
    if "registry" not in ctx.state:
        flag = registry_flag(REGISTRY_FLAG, {"staging": "off", "production": "off"})
        await put_registry_flag(ctx.seeded.services.store, ADMIN, "demo", flag)
        ctx.state["registry"] = True
    key = f"tenant-{next(_fresh)}"
    await ctx.seeded.services.tenants.onboard(ADMIN, "demo", key)
    return key


async def p_tenant(ctx: Ctx) -> dict[str, Any]:
    return {"tenant": await _tenant(ctx)}


async def p_new_tenant_body(ctx: Ctx) -> dict[str, Any]:
    return {"json": {"key": f"made-tenant-{next(_fresh)}"}}


async def p_override(ctx: Ctx) -> dict[str, Any]:
    return {
        "tenant": await _tenant(ctx),
        "key": REGISTRY_FLAG,
        "environment": "staging",
        "json": {"variant": "on"},
    }


async def p_clear_override(ctx: Ctx) -> dict[str, Any]:
    return {"tenant": await _tenant(ctx), "key": REGISTRY_FLAG, "environment": "staging"}


async def p_registry_flag(ctx: Ctx) -> dict[str, Any]:
    await _tenant(ctx)
    return {"key": REGISTRY_FLAG}


P = "/api/v1/projects/{project}"
T = f"{P}/tenants"
CASES = [
    Case("GET", P, Role.VIEWER, p_none),
    Case("POST", f"{P}/environments", Role.ADMIN, p_environment_body, 201),
    Case("PATCH", P, Role.ADMIN, p_patch_project),
    Case("GET", f"{P}/flags", Role.VIEWER, p_none),
    Case("POST", f"{P}/flags", Role.EDITOR, p_new_flag_body, 201),
    Case("GET", f"{P}/flags/{{key}}", Role.VIEWER, p_flag),
    Case("PATCH", f"{P}/flags/{{key}}", Role.EDITOR, p_patch_flag),
    Case("DELETE", f"{P}/flags/{{key}}", Role.ADMIN, p_delete_flag, 204),
    Case("PUT", f"{P}/flags/{{key}}/environments/{{environment}}", Role.EDITOR, p_put_environment),
    Case("POST", f"{P}/flags/{{key}}/set-enabled-in", Role.EDITOR, p_set_enabled_in),
    Case("GET", f"{P}/flags/{{key}}/history", Role.VIEWER, p_flag),
    Case("POST", f"{P}/flags/{{key}}/rollback", Role.EDITOR, p_rollback),
    Case("GET", f"{P}/segments", Role.VIEWER, p_none),
    Case("POST", f"{P}/segments", Role.EDITOR, p_new_segment_body, 201),
    Case("GET", f"{P}/segments/{{key}}", Role.VIEWER, p_segment),
    Case("PUT", f"{P}/segments/{{key}}", Role.EDITOR, p_put_segment),
    Case("DELETE", f"{P}/segments/{{key}}", Role.EDITOR, p_delete_segment, 204),
    Case("GET", f"{P}/segments/{{key}}/history", Role.VIEWER, p_segment),
    Case("GET", f"{P}/keys", Role.ADMIN, p_none),
    Case("POST", f"{P}/keys", Role.ADMIN, p_key_body, 201),
    Case("DELETE", f"{P}/keys/{{key_id}}", Role.ADMIN, p_revoke_key),
    Case("GET", f"{P}/members", Role.VIEWER, p_none),
    Case("PUT", f"{P}/members/{{email}}", Role.ADMIN, p_set_member),
    Case("DELETE", f"{P}/members/{{email}}", Role.ADMIN, p_remove_member, 204),
    Case("GET", T, Role.VIEWER, p_none),
    Case("POST", T, Role.EDITOR, p_new_tenant_body, 201),
    Case("POST", f"{T}/cleanup", Role.ADMIN, p_none, query="?dry_run=true"),
    Case("GET", f"{T}/{{tenant}}", Role.VIEWER, p_tenant),
    Case("DELETE", f"{T}/{{tenant}}", Role.ADMIN, p_tenant, 204),
    Case("PUT", f"{T}/{{tenant}}/flags/{{key}}/{{environment}}", Role.EDITOR, p_override),
    Case("DELETE", f"{T}/{{tenant}}/flags/{{key}}/{{environment}}", Role.EDITOR, p_clear_override),
    Case(
        "GET",
        f"{P}/flags/{{key}}/tenants",
        Role.VIEWER,
        p_registry_flag,
        query="?environment=production",
    ),
]


@pytest.fixture
async def ctx(seeded: Seeded) -> Ctx:
    access = seeded.services.access
    keys = {}
    for role in ROLES:
        _, raw = await access.create_key(ADMIN, "demo", KeyKind.ADMIN, role.value, role=role)
        keys[role] = raw
    await seeded.services.projects.create_project(ADMIN, Project(key="other", name="Other"))
    _, other = await access.create_key(ADMIN, "other", KeyKind.ADMIN, "owner", role=Role.OWNER)
    return Ctx(seeded, keys, other)


async def send(
    http: httpx.AsyncClient, case: Case, ctx: Ctx, raw_key: str
) -> tuple[httpx.Response, int]:
    """The response, and the project's change sequence just before the request."""
    prepared = await case.prepare(ctx)
    body = prepared.pop("json", None)
    headers = {"Authorization": f"Bearer {raw_key}", **prepared.pop("headers", {})}
    path = case.path(**prepared)
    seq = await ctx.seeded.services.store.get_seq("demo")
    return await http.request(case.method, path, json=body, headers=headers), seq


def test_the_table_covers_every_management_route() -> None:
    from starlette.routing import Route

    served = {
        (method, route.path)
        for route in [*management.routes, *tenants.routes]
        if isinstance(route, Route)
        for method in (route.methods or ())
        if method != "HEAD"
    }
    project_scoped = {r for r in served if r[1].startswith("/api/v1/projects/{project}")}
    assert {(c.method, c.template) for c in CASES} == project_scoped


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.template[16:]}")
async def test_each_role_is_allowed_exactly_what_it_needs(
    case: Case, http: httpx.AsyncClient, ctx: Ctx
) -> None:
    for role in ROLES:
        response, seq_before = await send(http, case, ctx, ctx.keys[role])
        if role.allows(case.needs):
            assert response.status_code == case.ok, (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            body = response.json()
            assert body["code"] == "forbidden"
            assert body["needed"] == case.needs.value
        if case.method == "GET" or not role.allows(case.needs):
            assert await ctx.seeded.services.store.get_seq("demo") == seq_before


async def test_another_projects_key_gets_404_on_every_route_and_changes_nothing(
    http: httpx.AsyncClient, ctx: Ctx
) -> None:
    # One world for all routes (a fresh one per route costs a second each).
    for case in CASES:
        response, seq_before = await send(http, case, ctx, ctx.other_project_key)

        assert response.status_code == 404, (case, response.text)
        assert response.json() == {
            "status": 404,
            "code": "not_found",
            "message": "project 'demo' not found",
            "entity": "project",
            "key": "demo",
        }, case
        assert await ctx.seeded.services.store.get_seq("demo") == seq_before, case
    # Exactly the answer for a project that does not exist at all.
    missing = await http.get(
        "/api/v1/projects/nope", headers={"Authorization": f"Bearer {ctx.other_project_key}"}
    )
    assert missing.status_code == 404
    assert missing.json()["message"] == "project 'nope' not found"
