"""Signatures and the pure parts: signing, verification, the docs' snippet, URLs, events."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ff_core.errors import InvalidDefinition
from ff_core.models import ChangeEntry, ChangeKind, EntityKind
from ff_core.outbound import Event, Webhook, sign, verify, webhook_secret
from ff_core.outbound.dispatcher import backoff_s
from ff_core.outbound.models import webhook_url

ROOT = Path(__file__).resolve().parents[2]
SECRET = webhook_secret(b"k" * 32, "wh_0123456789abcdef")
BODY = b'{"id":"demo:7","project":"demo","seq":7}'


def snippet() -> Callable[..., bool]:
    """``verify_ff_signature`` from docs/WEBHOOKS.md, run as a consumer would copy it."""
    text = (ROOT / "docs" / "WEBHOOKS.md").read_text()
    match = re.search(r"<!-- verify-snippet -->\n```python\n(.*?)```", text, re.DOTALL)
    assert match, "the verification snippet is missing from docs/WEBHOOKS.md"
    namespace: dict[str, object] = {}
    exec(match.group(1), namespace)
    function = namespace["verify_ff_signature"]
    assert callable(function)
    return function


VERIFIERS = [verify, snippet()]


@pytest.mark.parametrize("check", VERIFIERS, ids=["ff_core", "docs-snippet"])
def test_verify__signed_body__accepted(check: Callable[..., bool]) -> None:
    assert check(SECRET, BODY, sign(SECRET, BODY, int(time.time())))


@pytest.mark.parametrize("check", VERIFIERS, ids=["ff_core", "docs-snippet"])
def test_verify__changed_body_signature_secret_or_old_timestamp__refused(
    check: Callable[..., bool],
) -> None:
    now = int(time.time())
    header = sign(SECRET, BODY, now)
    digest = header.partition("v1=")[2]
    flipped = digest[:-1] + ("0" if digest[-1] != "0" else "1")

    assert not check(SECRET, BODY.replace(b"7", b"8"), header)
    assert not check(SECRET, BODY + b" ", header)
    assert not check(SECRET, BODY, header.replace(digest, flipped))
    assert not check(SECRET, BODY, f"t={now + 1},v1={digest}")  # the time is signed too
    assert not check(webhook_secret(b"k" * 32, "wh_ffffffffffffffff"), BODY, header)
    assert not check(SECRET, BODY, sign(SECRET, BODY, now - 3_600))
    assert not check(SECRET, BODY, "")
    assert not check(SECRET, BODY, "v1=" + digest)
    assert not check(SECRET, BODY, "t=soon,v1=" + digest)


def test_webhook_secret__per_webhook_and_key_secret__stable() -> None:
    again = webhook_secret(b"k" * 32, "wh_0123456789abcdef")
    other_id = webhook_secret(b"k" * 32, "wh_0123456789abcdee")
    other_key = webhook_secret(b"j" * 32, "wh_0123456789abcdef")

    assert again == SECRET
    assert SECRET.startswith("whsec_")
    assert len({SECRET, other_id, other_key}) == 3


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/hook", "https://hooks.example.com/ff?team=a", "https://[::1]/x"],
)
def test_webhook_url__http_or_https_with_host__kept(url: str) -> None:
    assert webhook_url(url) == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("file:///etc/passwd", "only http:// and https://"),
        ("javascript:alert(1)", "only http:// and https://"),
        ("http://", "names no host"),
        ("http://a b.example.com/", "must not contain spaces"),
        ("http://:secret@example.com/", "credentials"),
        ("http://[::1/", "is not a URL"),
    ],
)
def test_webhook_url__refused__message_names_the_problem(url: str, says: str) -> None:
    with pytest.raises(InvalidDefinition) as refused:
        webhook_url(url)
    assert says in refused.value.message
    assert refused.value.details["field"] == "url"


def change(seq: int, entity: EntityKind = EntityKind.FLAG) -> ChangeEntry:
    return ChangeEntry(
        seq=seq,
        project="demo",
        entity=entity,
        key="beta",
        change=ChangeKind.DELETE,
        version=3,
        at=datetime(2026, 1, 2, tzinfo=UTC),
    )


def test_webhook_wants__changes_after_its_creation_of_its_kinds_while_enabled() -> None:
    hook = Webhook(
        id="wh_0123456789abcdef",
        project="demo",
        url="https://example.com/",
        events=(EntityKind.SEGMENT,),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        start_seq=5,
    )

    assert hook.wants(change(6, EntityKind.SEGMENT))
    assert not hook.wants(change(5, EntityKind.SEGMENT))
    assert not hook.wants(change(6, EntityKind.FLAG))
    assert not hook.replace(enabled=False).wants(change(6, EntityKind.SEGMENT))
    assert hook.replace(events=()).wants(change(6, EntityKind.FLAG))


def test_event__without_history__id_is_project_and_seq() -> None:
    event = Event.of(change(9), None)

    assert event.id == "demo:9"
    assert (event.change, event.action, event.actor) == ("delete", None, None)
    assert Event.model_validate_json(event.body()) == event


def test_backoff__doubles_to_the_cap__jittered_within_its_upper_half() -> None:
    for attempt, full in [(1, 30), (2, 60), (3, 120), (7, 1_800), (40, 1_800)]:
        delays = [backoff_s(attempt, 30, 1_800) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays), attempt
