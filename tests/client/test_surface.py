"""The evaluation surface over a bootstrap file: typed answers, reasons, and never raising."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

from ff_core.client import Context, ErrorCode, EvaluationDetails, FlagClient, Reason, Status
from ff_core.client.snapshot import parse_document
from ff_core.evaluation import evaluate
from ff_core.models import EnvironmentConfig, Prerequisite, Serve
from tests.client.conftest import demo_snapshot

NA_PRO = {"targeting_key": "user-1", "country": "US", "plan": "pro"}
ALICE = {"targeting_key": "alice"}


@pytest.fixture
async def client(bootstrap_file: Path) -> Any:
    async with FlagClient(bootstrap=bootstrap_file) as flags:
        yield flags


async def test_bootstrap_only__no_network__answers_ready(
    bootstrap_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[object] = []

    def refuse(sock: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)

    async with FlagClient(bootstrap=bootstrap_file) as flags:
        on = await flags.is_enabled("new-checkout", NA_PRO)
        text = await flags.variation("banner-text", {"targeting_key": "alice"}, default="")
        status = flags.status

    assert (on, text, status) == (True, "Good to see you again!", Status.READY)
    assert attempts == []


async def test_is_enabled__rule_and_rollout__as_the_engine_decides(client: FlagClient) -> None:
    answers = [
        await client.is_enabled("new-checkout", {"targeting_key": f"u{i}", "country": "DE"})
        for i in range(400)
    ]

    assert await client.is_enabled("new-checkout", NA_PRO) is True
    # The 25 % rollout: some on, most off.
    assert 40 < sum(answers) < 160


async def test_variation__each_type__typed_value(client: FlagClient) -> None:
    on = await client.variation("new-checkout", NA_PRO, default=False)
    text = await client.variation("banner-text", {"targeting_key": "bob"}, default="")
    size = await client.variation("search.max-results", {"targeting_key": "alice"}, default=10)
    rate = await client.variation("discount-rate", None, default=0.0)
    size_as_float = await client.variation("search.max-results", None, default=1.5)
    layout = await client.variation("checkout.layout", None, default={"columns": 0})

    assert on is True
    assert text == "Good to see you again!"
    assert (size, type(size)) == (100, int)
    assert rate == 0.25
    assert (size_as_float, type(size_as_float)) == (20.0, float)
    assert layout == {"columns": 3}


async def test_details__match__value_variant_reason_version(client: FlagClient) -> None:
    details = await client.details("banner-text", {"targeting_key": "alice"}, default="")
    disabled = await client.details("legacy-mode", default=True)

    assert details == EvaluationDetails(
        "banner-text", "Good to see you again!", "friendly", Reason.TARGETING_MATCH, version=0
    )
    assert (disabled.value, disabled.variant, disabled.reason) == (False, "off", Reason.DISABLED)
    assert not disabled.is_error


@pytest.mark.parametrize(
    ("key", "context", "default", "code"),
    [
        ("no-such-flag", None, True, ErrorCode.FLAG_NOT_FOUND),
        ("banner-text", ALICE, 3, ErrorCode.TYPE_MISMATCH),
        ("banner-text", ALICE, True, ErrorCode.TYPE_MISMATCH),
        ("discount-rate", None, 1, ErrorCode.TYPE_MISMATCH),
        ("new-checkout", {"country": "DE"}, True, ErrorCode.TARGETING_KEY_MISSING),
        ("new-checkout", ["not", "a", "context"], True, ErrorCode.INVALID_CONTEXT),
        ("new-checkout", 42, True, ErrorCode.INVALID_CONTEXT),
        (["unhashable"], None, True, ErrorCode.GENERAL),
        (None, None, True, ErrorCode.GENERAL),
    ],
)
async def test_details__problem__default_with_error_reason(
    client: FlagClient, key: Any, context: Any, default: Any, code: ErrorCode
) -> None:
    details = await client.details(key, context, default=default)
    enabled = await client.is_enabled(key, context, default=True)

    assert details.value == default
    assert (details.reason, details.error_code, details.variant) == (Reason.ERROR, code, None)
    assert details.error_message
    assert enabled is True


async def test_is_enabled__non_boolean_flag__default(client: FlagClient) -> None:
    assert await client.is_enabled("banner-text", ALICE, default=True) is True
    assert await client.is_enabled("banner-text", ALICE, default=False) is False


async def test_problem__repeated__warned_once_per_flag_and_problem(
    client: FlagClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ff.client"):
        for _ in range(50):
            await client.is_enabled("no-such-flag")
            await client.variation("banner-text", ALICE, default=0)
            await client.variation("banner-text", ALICE, default=False)
        await client.is_enabled("another-missing-flag")

    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 3
    assert sum("no-such-flag" in w for w in warned) == 1
    assert sum("banner-text" in w and "TYPE_MISMATCH" in w for w in warned) == 1


class User(BaseModel):
    targeting_key: str
    country: str
    plan: str


class Tenant(BaseModel):
    targeting_key: str
    attributes: dict[str, str]


async def test_context__pydantic_models__as_their_fields(client: FlagClient) -> None:
    user = User(targeting_key="user-1", country="US", plan="pro")
    tenant = Tenant(targeting_key="t-1", attributes={"country": "CA", "plan": "pro"})
    ready_made = Context(targeting_key="u-2", attributes={"country": "US", "plan": "pro"})

    assert await client.is_enabled("new-checkout", user) is True
    assert await client.is_enabled("new-checkout", tenant) is True
    assert await client.is_enabled("new-checkout", ready_made) is True
    assert (await client.details("new-checkout", user)).reason is Reason.TARGETING_MATCH


async def test_json_value__changed_by_caller__flag_unchanged(client: FlagClient) -> None:
    first = await client.json_variation("checkout.layout")
    assert isinstance(first, dict)
    first["columns"] = 99

    assert await client.json_variation("checkout.layout") == {"columns": 3}


async def test_all_flags__context__every_flag_evaluated(client: FlagClient) -> None:
    every = await client.all_flags({"targeting_key": "alice"})

    assert set(every) == set(demo_snapshot().flags)
    assert every["banner-text"].value == "Good to see you again!"
    assert every["search.max-results"].value == 100
    assert every["legacy-mode"].reason is Reason.DISABLED


async def test_bootstrap__invalid_flag_definition__parse_error_others_served(
    tmp_path: Path,
) -> None:
    doc = orjson.loads(demo_snapshot().dump())
    broken = next(f for f in doc["flags"] if f["key"] == "banner-text")
    broken["variants"] = {"friendly": {"value": 42}}  # not the string type it declares
    path = tmp_path / "flags.json"
    path.write_bytes(orjson.dumps(doc))

    async with FlagClient(bootstrap=path) as flags:
        lazily = await flags.details("banner-text", default="fallback")
        fully = await flags.all_flags(NA_PRO)

    assert (lazily.value, lazily.error_code) == ("fallback", ErrorCode.PARSE_ERROR)
    assert fully["banner-text"].error_code is ErrorCode.PARSE_ERROR
    assert fully["new-checkout"].error_code is None


async def test_bootstrap__prerequisite__first_answers_as_the_full_snapshot(
    tmp_path: Path,
) -> None:
    snapshot = demo_snapshot()
    gated = snapshot.flags["legacy-mode"].replace(
        key="gated",
        environments={
            "production": EnvironmentConfig(
                enabled=True,
                off_variant="off",
                fallthrough=Serve(variant="on"),
                prerequisites=(Prerequisite(flag="banner-text", variant="friendly"),),
            )
        },
    )
    doc = orjson.loads(snapshot.dump())
    doc["flags"].append(gated.model_dump(mode="json"))
    path = tmp_path / "flags.json"
    path.write_bytes(orjson.dumps(doc))
    users = ["alice", "bob", *(f"user-{i}" for i in range(20))]
    full = parse_document(doc).compiled
    expected = [evaluate(full, "gated", {"targeting_key": u}) for u in users]

    async with FlagClient(bootstrap=path) as flags:
        # Nothing here yields to the loop, so the background load has not run: these are
        # answered by compiling "gated" and its prerequisite on demand.
        answers = [await flags.details("gated", {"targeting_key": u}, default=None) for u in users]

    assert [(a.value, a.reason) for a in answers] == [(e.value, e.reason) for e in expected]
    assert {a.reason for a in answers} == {Reason.DEFAULT, Reason.PREREQUISITE_FAILED}


async def test_bootstrap__missing_file__start_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await FlagClient.connect(bootstrap=tmp_path / "absent.json")


async def test_bootstrap__not_a_snapshot__start_raises(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text('{"flags": "nope"}')

    with pytest.raises(ValueError, match="flags"):
        await FlagClient.connect(bootstrap=path)


async def test_close__twice__no_error(bootstrap_file: Path) -> None:
    flags = await FlagClient.connect(bootstrap=bootstrap_file)
    await flags.close()
    await flags.close()

    # Closed: still answers from the snapshot it holds.
    assert await flags.is_enabled("new-checkout", NA_PRO) is True


def test_options__url_with_library_settings__refused() -> None:
    with pytest.raises(ValueError, match="one source"):
        FlagClient(url="http://127.0.0.1:1", server_key="k", library=True)
    with pytest.raises(ValueError, match="server key"):
        FlagClient(url="http://127.0.0.1:1", server_key="")


def test_public_names__all__sorted_and_importable() -> None:
    import ff_core.client

    names = list(ff_core.client.__all__)
    assert names == sorted(names)
    assert all(hasattr(ff_core.client, name) for name in names)
