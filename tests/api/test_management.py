"""The management REST API end to end: uvicorn on loopback over moto's DynamoDB."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from ff_core import tokens
from ff_core.models import KeyKind, Role
from tests.api.conftest import ADMIN, SECRET, Seeded

P = "/api/v1/projects/demo"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def flag_body(key: str, **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "name": key.title(),
        "variants": {"on": {"value": True}, "off": {"value": False}},
        **extra,
    }


def session(email: str, ttl_s: float = 600, now: float | None = None) -> dict[str, str]:
    token = tokens.issue(SECRET.encode(), tokens.Audience.SESSION, {"sub": email}, ttl_s, now)
    return cookie(token)


def cookie(token: str) -> dict[str, str]:
    """The header a browser sends (httpx deprecates per-request cookies)."""
    return {"Cookie": f"{tokens.SESSION_COOKIE}={token}"}


@pytest.fixture
def admin(seeded: Seeded) -> dict[str, str]:
    return bearer(seeded.admin_key)


# -- flags ---------------------------------------------------------------------------------------


async def test_create_flag__201_with_etag__audited_as_the_key_not_the_body(
    http: httpx.AsyncClient, seeded: Seeded, admin: dict[str, str]
) -> None:
    response = await http.post(
        f"{P}/flags?note=launch", json=flag_body("fresh", tags=["web"]), headers=admin
    )

    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    body = response.json()
    assert body["key"] == "fresh"
    assert body["environments"]["production"]["enabled"] is False
    history = await seeded.services.flags.list_history("demo", "fresh")
    assert [h.note for h in history.items] == ["launch"]
    assert history.items[0].actor.subject.startswith("key:")
    assert history.items[0].actor.name == "ops"


async def test_create_flag__invalid_bodies__clear_errors_and_nothing_written(
    http: httpx.AsyncClient, seeded: Seeded, admin: dict[str, str]
) -> None:
    seq = await seeded.services.store.get_seq("demo")

    malformed = await http.post(
        f"{P}/flags", content=b'{"key": ', headers={**admin, "Content-Type": "application/json"}
    )
    wrong_type = await http.post(
        f"{P}/flags",
        json=flag_body("typed", variants={"on": {"value": "yes"}}, value_type="boolean"),
        headers=admin,
    )
    bad_key = await http.post(f"{P}/flags", json=flag_body("Not A Key"), headers=admin)
    not_object = await http.post(f"{P}/flags", json=[1, 2], headers=admin)
    too_big = await http.post(
        f"{P}/flags", json=flag_body("big", description="x" * 300_000), headers=admin
    )
    duplicate = await http.post(f"{P}/flags", json=flag_body("new-checkout"), headers=admin)

    assert malformed.status_code == 400
    assert "not valid JSON" in malformed.json()["message"]
    assert wrong_type.status_code == 422
    assert "variant 'on' has value 'yes'" in wrong_type.json()["message"]
    assert bad_key.status_code == 422
    assert bad_key.json()["errors"][0]["field"] == "key"
    assert not_object.status_code == 400
    assert too_big.status_code == 413
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.json()["message"]
    for response in (malformed, wrong_type, bad_key, not_object, too_big, duplicate):
        assert response.headers["content-type"] == "application/problem+json"
        assert "Traceback" not in response.text
    assert await seeded.services.store.get_seq("demo") == seq


async def test_create_flag__same_idempotency_key__applied_once(
    http: httpx.AsyncClient, seeded: Seeded, admin: dict[str, str]
) -> None:
    headers = {**admin, "Idempotency-Key": "create-once"}

    first = await http.post(f"{P}/flags", json=flag_body("once"), headers=headers)
    second = await http.post(f"{P}/flags", json=flag_body("once"), headers=headers)
    different = await http.post(f"{P}/flags", json=flag_body("twice"), headers=headers)

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert different.status_code == 422
    assert len((await seeded.services.flags.list_history("demo", "once")).items) == 1


async def test_list_flags__search_tag_and_cursor_pagination(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for index in range(5):
        created = await http.post(
            f"{P}/flags", json=flag_body(f"paged-{index}", tags=["paged"]), headers=admin
        )
        assert created.status_code == 201
    await http.patch(f"{P}/flags/paged-4", json={"archived": True}, headers=admin)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"tag": "paged", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await http.get(f"{P}/flags", params=params, headers=admin)).json()
        seen += [item["key"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    searched = (await http.get(f"{P}/flags", params={"search": "PAGED-3"}, headers=admin)).json()
    archived = (await http.get(f"{P}/flags?archived=true", headers=admin)).json()
    summary = searched["items"][0]

    assert seen == ["paged-0", "paged-1", "paged-2", "paged-3"]
    assert pages == 2
    assert [i["key"] for i in searched["items"]] == ["paged-3"]
    assert summary["environments"]["production"] == {"enabled": False, "version": 1}
    assert "variants" not in summary
    assert [i["key"] for i in archived["items"]] == ["paged-4"]
    bad = await http.get(f"{P}/flags?limit=0", headers=admin)
    bad_cursor = await http.get(f"{P}/flags?cursor=%%%", headers=admin)
    assert bad.status_code == 400
    assert bad.json()["field"] == "limit"
    assert bad_cursor.status_code == 400


async def test_patch_flag__stale_if_match__409_with_the_current_version(
    http: httpx.AsyncClient, seeded: Seeded, admin: dict[str, str]
) -> None:
    current = await http.get(f"{P}/flags/new-checkout", headers=admin)
    etag = current.headers["etag"]

    first = await http.patch(
        f"{P}/flags/new-checkout", json={"description": "one"}, headers={**admin, "If-Match": etag}
    )
    stale = await http.patch(
        f"{P}/flags/new-checkout", json={"description": "two"}, headers={**admin, "If-Match": etag}
    )
    unknown_field = await http.patch(
        f"{P}/flags/new-checkout", json={"salt": "mine"}, headers=admin
    )

    assert first.status_code == 200
    assert stale.status_code == 409
    assert stale.json()["current"] == first.json()["version"]
    assert stale.json()["expected"] == int(etag.strip('"'))
    assert unknown_field.status_code == 422
    assert "salt" in unknown_field.json()["message"]
    flag = await seeded.services.flags.get_flag("demo", "new-checkout")
    assert flag.description == "one"


async def test_put_environment__needs_if_match__conflicts_reported__applies_at_once(
    http: httpx.AsyncClient, seeded: Seeded, admin: dict[str, str]
) -> None:
    url = f"{P}/flags/legacy-mode/environments/production"
    flag = (await http.get(f"{P}/flags/legacy-mode", headers=admin)).json()
    config = flag["environments"]["production"]
    version = config.pop("version")
    config["enabled"] = True

    missing = await http.put(url, json=config, headers=admin)
    stale = await http.put(url, json=config, headers={**admin, "If-Match": f'"{version - 1}"'})
    wrong = await http.put(
        url, json={**config, "off_variant": "nope"}, headers={**admin, "If-Match": f"{version}"}
    )
    applied = await http.put(url, json=config, headers={**admin, "If-Match": f'"{version}"'})
    evaluated = await http.post(
        "/ofrep/v1/evaluate/flags/legacy-mode",
        json={"context": {}},
        headers=bearer(seeded.server_key),
    )

    assert missing.status_code == 428
    assert missing.json()["field"] == "If-Match"
    assert stale.status_code == 409
    assert stale.json()["current"] == version
    assert wrong.status_code == 422
    assert "nope" in wrong.json()["message"]
    assert applied.status_code == 200, applied.text
    assert applied.headers["etag"] == f'"{version + 1}"'
    # Our own write is served at once: the snapshot is poked, not left to the next poll.
    assert evaluated.json()["value"] is True
    entries = (await seeded.services.flags.list_history("demo", "legacy-mode")).items
    assert entries[0].environments == ("production",)


async def test_set_enabled_in__exact_set_or_listed_environments(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    url = f"{P}/flags/new-checkout/set-enabled-in"

    exact = await http.post(url, json={"environments": ["staging"]}, headers=admin)
    listed = await http.post(
        url, json={"environments": ["production"], "enabled": True}, headers=admin
    )
    unknown = await http.post(url, json={"environments": ["mars"]}, headers=admin)

    assert {k: v["enabled"] for k, v in exact.json()["environments"].items()} == {
        "development": False,
        "staging": True,
        "production": False,
    }
    assert {k: v["enabled"] for k, v in listed.json()["environments"].items()} == {
        "development": False,
        "staging": True,
        "production": True,
    }
    assert unknown.status_code in (404, 422)
    assert "mars" in unknown.json()["message"]


async def test_history_pages_and_rollback(
    http: httpx.AsyncClient, seeded: Seeded, admin: dict[str, str]
) -> None:
    for text in ("a", "b", "c"):
        await http.patch(f"{P}/flags/banner-text", json={"description": text}, headers=admin)

    first = (await http.get(f"{P}/flags/banner-text/history?limit=2", headers=admin)).json()
    rest = (
        await http.get(
            f"{P}/flags/banner-text/history",
            params={"limit": "2", "before": first["next_cursor"]},
            headers=admin,
        )
    ).json()
    entries = first["items"] + rest["items"]
    after_a = next(e for e in entries if e["new"] and e["new"]["description"] == "a")
    rolled = await http.post(
        f"{P}/flags/banner-text/rollback", json={"history_id": after_a["id"]}, headers=admin
    )
    missing = await http.post(
        f"{P}/flags/banner-text/rollback", json={"history_id": "nope"}, headers=admin
    )

    assert [e["new"]["description"] for e in first["items"]] == ["c", "b"]
    assert len(entries) == 4
    assert rest["next_cursor"] is None
    assert rolled.status_code == 200
    assert rolled.json()["description"] == "a"
    assert missing.status_code == 404


async def test_delete_flag__then_404__unknown_flag_and_project_404(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await http.post(f"{P}/flags", json=flag_body("doomed"), headers=admin)
    stale = await http.delete(f"{P}/flags/doomed", headers={**admin, "If-Match": '"7"'})
    deleted = await http.delete(
        f"{P}/flags/doomed", headers={**admin, "If-Match": created.headers["etag"]}
    )
    gone = await http.get(f"{P}/flags/doomed", headers=admin)
    kept_history = await http.get(f"{P}/flags/doomed/history", headers=admin)
    no_history = await http.get(f"{P}/flags/never-was/history", headers=admin)
    unknown_project = await http.get("/api/v1/projects/nope/flags", headers=admin)

    assert stale.status_code == 409
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"
    assert [e["action"] for e in kept_history.json()["items"]] == ["deleted", "created"]
    assert no_history.status_code == 404
    assert unknown_project.status_code == 404


# -- segments and environments -------------------------------------------------------------------


async def test_segments_crud_with_versions(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    body = {"key": "staff", "name": "Staff", "included": ["ann"]}
    created = await http.post(f"{P}/segments", json=body, headers=admin)
    renamed = {**body, "name": "All staff"}
    stale = await http.put(f"{P}/segments/staff", json=renamed, headers={**admin, "If-Match": "0"})
    saved = await http.put(
        f"{P}/segments/staff", json=renamed, headers={**admin, "If-Match": created.headers["etag"]}
    )
    mismatched = await http.put(
        f"{P}/segments/other", json=renamed, headers={**admin, "If-Match": '"2"'}
    )
    history = (await http.get(f"{P}/segments/staff/history", headers=admin)).json()
    in_use = await http.delete(f"{P}/segments/beta", headers=admin)
    deleted = await http.delete(f"{P}/segments/staff", headers=admin)

    assert created.status_code == 201
    assert stale.status_code == 409
    assert saved.status_code == 200
    assert saved.json()["name"] == "All staff"
    assert mismatched.status_code == 400
    assert len(history["items"]) == 2
    assert in_use.status_code == 422  # a flag's rule refers to it
    assert deleted.status_code == 204


async def test_add_environment__flags_start_disabled_there(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    added = await http.post(f"{P}/environments", json={"key": "qa", "name": "QA"}, headers=admin)
    again = await http.post(f"{P}/environments", json={"key": "qa", "name": "QA"}, headers=admin)
    key = await http.post(
        f"{P}/keys", json={"kind": "server", "name": "qa", "environment": "qa"}, headers=admin
    )
    evaluated = await http.post(
        "/ofrep/v1/evaluate/flags/new-checkout",
        json={"context": {"targetingKey": "alice"}},
        headers=bearer(key.json()["raw_key"]),
    )

    assert added.status_code == 201
    assert "qa" in [e["key"] for e in added.json()["environments"]]
    assert again.status_code == 200  # already there: nothing written, safe to retry
    assert again.json()["version"] == added.json()["version"]
    assert evaluated.json()["reason"] == "DISABLED"


# -- keys ----------------------------------------------------------------------------------------


async def test_keys__raw_shown_once__lists_show_prefix__revocation_is_effective(
    http: httpx.AsyncClient, seeded: Seeded, admin: dict[str, str]
) -> None:
    created = await http.post(
        f"{P}/keys",
        json={"kind": "server", "name": "worker", "environment": "production"},
        headers=admin,
    )
    raw = created.json()["raw_key"]
    key_id = created.json()["key"]["id"]
    listed = (await http.get(f"{P}/keys", headers=admin)).json()["items"]
    works = await http.post("/ofrep/v1/evaluate/flags", json={}, headers=bearer(raw))
    revoked = await http.delete(f"{P}/keys/{key_id}", headers=admin)
    deadline = time.monotonic() + seeded.settings.poll_interval_s + 2
    while True:
        refused = await http.post("/ofrep/v1/evaluate/flags", json={}, headers=bearer(raw))
        if refused.status_code == 401 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)

    assert created.status_code == 201
    assert raw.startswith("ffs_")
    mine = next(k for k in listed if k["id"] == key_id)
    assert mine["prefix"] == raw[:12]
    assert "hash" not in mine
    assert raw not in str(listed)
    assert works.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert refused.status_code == 401


async def test_keys__nobody_grants_more_than_they_hold(
    http: httpx.AsyncClient, seeded: Seeded, admin: dict[str, str]
) -> None:
    owner_key = await http.post(
        f"{P}/keys", json={"kind": "admin", "name": "boss", "role": "owner"}, headers=admin
    )
    client_with_role = await http.post(
        f"{P}/keys",
        json={"kind": "client", "name": "web", "environment": "production", "role": "viewer"},
        headers=admin,
    )
    unknown_env = await http.post(
        f"{P}/keys", json={"kind": "server", "name": "x", "environment": "mars"}, headers=admin
    )

    assert owner_key.status_code == 403
    assert client_with_role.status_code == 422
    assert unknown_env.status_code in (404, 422)
    assert len(await seeded.services.access.list_keys("demo")) == 4


# -- sessions and members ------------------------------------------------------------------------


async def test_session__user_creates_a_project_and_owns_it(http: httpx.AsyncClient) -> None:
    cookies = session("Carol@Example.com")

    created = await http.post(
        "/api/v1/projects", json={"key": "carols", "name": "Carol's"}, headers=cookies
    )
    me = (await http.get("/api/v1/me", headers=cookies)).json()
    mine = (await http.get("/api/v1/projects", headers=cookies)).json()
    members = (await http.get("/api/v1/projects/carols/members", headers=cookies)).json()

    assert created.status_code == 201, created.text
    assert me["subject"] == "carol@example.com"
    assert [m["project"] for m in me["memberships"]] == ["carols"]
    assert [p["key"] for p in mine["items"]] == ["carols"]
    assert [(m["email"], m["role"]) for m in members["items"]] == [("carol@example.com", "owner")]


async def test_session__roles_from_membership__non_members_see_404(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    access = seeded.services.access
    await access.set_member(ADMIN, "demo", "vic@example.com", Role.VIEWER, granted_by=Role.OWNER)

    read = await http.get(f"{P}/flags/new-checkout", headers=session("vic@example.com"))
    write = await http.patch(
        f"{P}/flags/new-checkout", json={"description": "x"}, headers=session("vic@example.com")
    )
    stranger = await http.get(f"{P}/flags", headers=session("eve@example.com"))
    admin_key_creates_project = await http.post(
        "/api/v1/projects", json={"key": "p2", "name": "P2"}, headers=bearer(seeded.admin_key)
    )

    assert read.status_code == 200
    assert write.status_code == 403
    assert write.json()["message"].endswith("you are viewer")
    assert stranger.status_code == 404
    assert admin_key_creates_project.status_code == 403


async def test_session__bad_cookies_and_cross_site_forms_refused(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    access = seeded.services.access
    await access.set_member(ADMIN, "demo", "ed@example.com", Role.EDITOR, granted_by=Role.OWNER)
    expired = session("ed@example.com", ttl_s=60, now=time.time() - 3600)
    forged = cookie(tokens.issue(b"w" * 40, tokens.Audience.SESSION, {"sub": "ed@example.com"}, 60))
    stream_token = cookie(
        tokens.issue(SECRET.encode(), tokens.Audience.STREAM, {"sub": "ed@example.com"}, 60)
    )
    seq = await seeded.services.store.get_seq("demo")

    responses = [await http.get(f"{P}/flags", headers=c) for c in (expired, forged, stream_token)]
    form_post = await http.post(
        f"{P}/flags/new-checkout/set-enabled-in",
        data={"environments": "staging"},
        headers=session("ed@example.com"),
    )
    nothing = await http.get(f"{P}/flags")

    assert [r.status_code for r in responses] == [401, 401, 401]
    assert [r.json()["message"] for r in responses] == ["invalid or expired ff-session token"] * 3
    assert form_post.status_code == 400
    assert form_post.json()["field"] == "Content-Type"
    assert nothing.status_code == 401
    assert "sign in" in nothing.json()["message"]
    assert await seeded.services.store.get_seq("demo") == seq


async def test_members__owner_only_grants_ownership__last_owner_stays(
    http: httpx.AsyncClient, seeded: Seeded, admin: dict[str, str]
) -> None:
    access = seeded.services.access
    await access.set_member(ADMIN, "demo", "olga@example.com", Role.OWNER, granted_by=Role.OWNER)
    _, owner_raw = await access.create_key(ADMIN, "demo", KeyKind.ADMIN, "own", role=Role.OWNER)
    owner = bearer(owner_raw)

    admin_grants_owner = await http.put(
        f"{P}/members/pat@example.com", json={"role": "owner"}, headers=admin
    )
    admin_demotes_owner = await http.put(
        f"{P}/members/olga@example.com", json={"role": "viewer"}, headers=admin
    )
    last_owner_leaves = await http.delete(f"{P}/members/olga@example.com", headers=owner)
    added = await http.put(f"{P}/members/Pat@Example.com", json={"role": "owner"}, headers=owner)
    now_leaves = await http.delete(f"{P}/members/olga@example.com", headers=owner)
    bad_role = await http.put(f"{P}/members/pat@example.com", json={"role": "god"}, headers=owner)
    not_member = await http.delete(f"{P}/members/nobody@example.com", headers=owner)

    assert admin_grants_owner.status_code == 403
    assert admin_demotes_owner.status_code == 403
    assert last_owner_leaves.status_code == 422
    assert "last owner" in last_owner_leaves.json()["message"]
    assert added.status_code == 200
    assert added.json()["email"] == "pat@example.com"
    assert now_leaves.status_code == 204
    assert bad_role.status_code == 422
    assert bad_role.json()["errors"][0]["field"] == "role"
    assert not_member.status_code == 404
    members = await access.list_members("demo")
    assert [(m.email, m.role) for m in members] == [("pat@example.com", Role.OWNER)]
