"""Snapshots: applying changes in order, ignoring stale ones, and saying what changed."""

from __future__ import annotations

import pytest

from ff_core.client.snapshot import (
    Change,
    DocumentError,
    Snapshot,
    parse_document,
    read_document,
)
from ff_core.evaluation import evaluate
from ff_core.models import EntityKind, EnvironmentConfig, Flag, Prerequisite, Segment, Serve
from tests.client.conftest import demo_snapshot

FLAG, SEGMENT = EntityKind.FLAG, EntityKind.SEGMENT


def enabled(flag: Flag, on: bool, version: int) -> Flag:
    config = flag.environments["production"].replace(enabled=on)
    return flag.replace(environments={"production": config}, version=version)


def value(snapshot: Snapshot, key: str) -> object:
    return evaluate(snapshot.compiled, key, {"targeting_key": "alice"}).value


def test_apply__newer_version__served_and_reported() -> None:
    snapshot = demo_snapshot(seq=7)
    legacy = snapshot.flags["legacy-mode"]

    updated, changed = snapshot.apply([Change(FLAG, "legacy-mode", 8, 1, enabled(legacy, True, 1))])

    assert (value(snapshot, "legacy-mode"), value(updated, "legacy-mode")) == (False, True)
    assert changed == {"legacy-mode"}
    assert updated.seq == 8


@pytest.mark.parametrize("version", [0, 1])
def test_apply__version_not_newer__ignored(version: int) -> None:
    snapshot, _ = demo_snapshot().apply(
        [Change(FLAG, "legacy-mode", 8, 1, enabled(demo_snapshot().flags["legacy-mode"], True, 1))]
    )
    stale = enabled(snapshot.flags["legacy-mode"], False, version)

    updated, changed = snapshot.apply([Change(FLAG, "legacy-mode", 9, version, stale)])

    assert value(updated, "legacy-mode") is True
    assert changed == set()


def test_apply__upsert_older_than_a_delete__stays_deleted() -> None:
    snapshot = demo_snapshot()
    legacy = snapshot.flags["legacy-mode"]

    deleted, _ = snapshot.apply([Change(FLAG, "legacy-mode", 8, 3, None)])
    revived, changed = deleted.apply([Change(FLAG, "legacy-mode", 9, 2, enabled(legacy, True, 2))])

    assert "legacy-mode" not in revived.flags
    assert evaluate(revived.compiled, "legacy-mode").error_code is not None
    assert changed == set()


def test_apply__segment_change__flags_using_it_reported() -> None:
    snapshot = demo_snapshot()
    segment = Segment(key="beta", name="Beta", included=("dave",), version=1)

    updated, changed = snapshot.apply([Change(SEGMENT, "beta", 8, 1, segment)])

    assert changed == {"search.max-results"}
    assert evaluate(updated.compiled, "search.max-results", {"targeting_key": "dave"}).value == 100


def test_apply__prerequisite_changed__dependents_reported() -> None:
    snapshot = demo_snapshot()
    gated = snapshot.flags["legacy-mode"].replace(
        key="gated",
        environments={
            "production": EnvironmentConfig(
                enabled=True,
                off_variant="off",
                fallthrough=Serve(variant="on"),
                prerequisites=(Prerequisite(flag="new-checkout", variant="on"),),
            )
        },
    )
    with_gate, _ = snapshot.apply([Change(FLAG, "gated", 8, 1, gated)])
    checkout = with_gate.flags["new-checkout"]

    _, changed = with_gate.apply([Change(FLAG, "new-checkout", 9, 1, checkout.replace(version=1))])

    assert changed == {"new-checkout", "gated"}


def test_apply__refused_definition__parse_error_until_fixed() -> None:
    snapshot = demo_snapshot()
    legacy = snapshot.flags["legacy-mode"]

    broken, _ = snapshot.apply([Change(FLAG, "legacy-mode", 8, 1, None, problem="bad")])
    fixed, _ = broken.apply([Change(FLAG, "legacy-mode", 9, 2, enabled(legacy, True, 2))])

    assert broken.invalid == {"legacy-mode": "bad"}
    assert fixed.invalid == {}
    assert value(fixed, "legacy-mode") is True


def test_changed_since__one_flag_rewritten__only_that_flag() -> None:
    old = demo_snapshot()
    flags = {**old.flags, "legacy-mode": enabled(old.flags["legacy-mode"], True, 5)}
    new = Snapshot.build("demo", "production", 9, flags.values(), old.segments.values())

    assert new.changed_since(old) == {"legacy-mode"}
    assert new.changed_since(new) == set()


def test_dump__read_back__same_definitions_of_this_environment_only() -> None:
    snapshot = demo_snapshot(seq=12)

    again = parse_document(read_document(snapshot.dump()))

    assert (again.project, again.environment, again.seq) == ("demo", "production", 12)
    assert set(again.flags) == set(snapshot.flags)
    assert set(again.flags["banner-text"].environments) == {"production"}
    assert again.segments == snapshot.segments


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[]", "object"),
        (b'{"segments": []}', "flags"),
        (b'{"flags": [], "seq": -1}', "seq"),
        (b'{"flags": [], "seq": true}', "seq"),
        (b'{"flags": [], "environment": 3}', "environment"),
    ],
)
def test_read_document__not_a_snapshot__document_error(raw: bytes, problem: str) -> None:
    with pytest.raises(DocumentError, match=problem):
        read_document(raw)


def test_parse_document__no_environment_anywhere__document_error() -> None:
    with pytest.raises(DocumentError, match="environment"):
        parse_document(read_document(b'{"flags": []}'))
