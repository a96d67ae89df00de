"""What the Quickstart page fills its snippets with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ff_admin.logic.quickstart import cards, example_flags, newest_active_prefix
from ff_core.models import ApiKey, Flag, KeyKind, boolean_variants

NOW = datetime(2030, 6, 1, 12, tzinfo=UTC)
API = "https://api.example.com"


def key(
    prefix: str,
    kind: KeyKind = KeyKind.SERVER,
    env: str = "production",
    minutes: int = 0,
    revoked: bool = False,
) -> ApiKey:
    return ApiKey(
        id=prefix,
        project="demo",
        kind=kind,
        name=prefix,
        prefix=prefix,
        hash="a" * 64,
        environment=env,
        created_by="dev@localhost",
        created_at=NOW + timedelta(minutes=minutes),
        revoked_at=NOW if revoked else None,
    )


def flag(key_: str, *, visible: bool = False, archived: bool = False) -> Flag:
    return Flag(
        key=key_,
        name=key_,
        variants=boolean_variants(),
        client_visible=visible,
        archived=archived,
    )


def test_newest_active_prefix__several__newest_active_of_kind_and_environment() -> None:
    keys = [
        key("ffs_older000", minutes=1),
        key("ffs_newest00", minutes=5),
        key("ffs_revoked0", minutes=9, revoked=True),
        key("ffs_staging0", env="staging", minutes=9),
        key("ffc_client00", KeyKind.CLIENT, minutes=9),
    ]
    assert newest_active_prefix(keys, KeyKind.SERVER, "production") == "ffs_newest00"
    assert newest_active_prefix(keys, KeyKind.CLIENT, "production") == "ffc_client00"
    assert newest_active_prefix(keys, KeyKind.CLIENT, "staging") == ""


def test_example_flags__client_visible_one__used_for_browsers() -> None:
    flags = [flag("zeta", visible=True), flag("alpha"), flag("aardvark", archived=True)]
    assert example_flags(flags) == ("alpha", "zeta")


def test_example_flags__none_visible__first_everywhere() -> None:
    assert example_flags([flag("b"), flag("a")]) == ("a", "a")
    assert example_flags([]) == ("", "")


def test_cards__keys_and_flags__filled_per_snippet() -> None:
    got = cards(
        API,
        "demo",
        "production",
        [key("ffs_server00"), key("ffc_client00", KeyKind.CLIENT)],
        [flag("alpha"), flag("web-banner", visible=True)],
    )
    by_id = {c.id: c for c in got}
    assert list(by_id) == [
        "snippet-python-service-ff-sdk",
        "snippet-python-with-openfeature",
        "snippet-browser-module-ff-js",
        "snippet-browser-eventsource",
        "snippet-curl-ofrep",
    ]
    sdk = by_id["snippet-python-service-ff-sdk"].code
    assert '"ffs_server00..."' in sdk
    assert '"alpha"' in sdk
    assert API in sdk
    ff_js = by_id["snippet-browser-module-ff-js"]
    assert ff_js.language == "markup"
    assert '"ffc_client00..."' in ff_js.code
    assert '"web-banner"' in ff_js.code
    assert '"web-banner"' in by_id["snippet-browser-eventsource"].code
    assert "/ofrep/v1/evaluate/flags/alpha" in by_id["snippet-curl-ofrep"].code


def test_cards__no_flags__a_placeholder_flag_key() -> None:
    got = cards(API, "demo", "production", [], [])
    assert all('"my-flag"' in c.code or "/my-flag" in c.code for c in got)
