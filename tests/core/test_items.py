"""Item encoding is pure: tested without AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ff_core import limits
from ff_core.errors import IdempotencyKeyReused, InvalidDefinition
from ff_core.graph import evaluation_costs, find_cycle
from ff_core.models import EntityKind, Flag, Invitation, Project, Role, Segment, boolean_variants
from ff_core.store import items as it


@pytest.mark.parametrize(
    ("entity", "model"),
    [
        (EntityKind.FLAG, Flag(key="a.b", name="A", salt="s", variants=boolean_variants())),
        (EntityKind.SEGMENT, Segment(key="beta", name="Beta", included=("u1",))),
        (EntityKind.PROJECT, Project(key="demo", name="Demo")),
    ],
)
def test_encode_entity__round_trip__same_model(
    entity: EntityKind, model: Flag | Segment | Project
) -> None:
    item = it.encode_entity("demo", entity, model)

    assert it.decode_entity(item) == model
    assert item["pk"] == {"S": "PROJECT#demo"}
    assert item["version"] == {"N": "0"}


def test_encode_entity__flag_over_limit__invalid_definition_naming_limit() -> None:
    flag = Flag(key="a", name="A", description="x" * 4000, variants=boolean_variants())
    big = flag.replace(tags=tuple(f"t{i}" for i in range(limits.MAX_TAGS)))
    assert it.encode_entity("demo", EntityKind.FLAG, big)
    huge_variants = {f"v{i}": {"value": "y" * 3000} for i in range(limits.MAX_VARIANTS)}
    too_big = Flag(key="a", name="A", value_type="string", variants=huge_variants)

    with pytest.raises(InvalidDefinition, match=f"limit is {limits.MAX_FLAG_BYTES} bytes"):
        it.encode_entity("demo", EntityKind.FLAG, too_big)


def test_history_id__later_time__sorts_after() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [it.history_id(t0 + timedelta(microseconds=i), 100 - i) for i in range(5)]
    assert ids == sorted(ids)
    assert it.history_id(t0, 1) < it.history_id(t0, 2)


def test_history_pk__segment_and_flag_with_same_key__distinct() -> None:
    assert it.history_pk("p", EntityKind.FLAG, "beta") != it.history_pk(
        "p", EntityKind.SEGMENT, "beta"
    )


def test_replayed__other_fingerprint__refused() -> None:
    item = {
        "fingerprint": {"S": "a"},
        "seq": {"N": "3"},
        "version": {"N": "2"},
        "history_id": {"S": "h"},
    }
    assert it.replayed("k", "a", item).seq == 3
    with pytest.raises(IdempotencyKeyReused):
        it.replayed("k", "b", item)


@pytest.mark.parametrize(
    ("edges", "start", "cycle"),
    [
        ({"a": ["b"], "b": []}, "a", None),
        ({"a": ["b"], "b": ["a"]}, "a", ["a", "b", "a"]),
        ({"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": ["a"]}, "a", ["a", "b", "d", "a"]),
        # A cycle elsewhere that does not pass through start is not start's problem.
        ({"a": ["b"], "b": ["c"], "c": ["b"]}, "a", None),
        ({"a": []}, "a", None),
    ],
)
def test_find_cycle__graphs__finds_paths_through_start(
    edges: dict[str, list[str]], start: str, cycle: list[str] | None
) -> None:
    assert find_cycle(edges, start) == cycle


async def test_check_references__diamond_over_evaluation_budget__refused() -> None:
    """Depth alone would allow 16^16 evaluations; the write-time budget refuses it."""
    from ff_core import limits
    from ff_core.models import EnvironmentConfig, Prerequisite, Serve
    from ff_core.services.checks import check_references

    def flag(key: str, needs: list[str]) -> Flag:
        config = EnvironmentConfig(
            off_variant="off",
            fallthrough=Serve(variant="on"),
            prerequisites=tuple(Prerequisite(flag=n, variant="on") for n in needs),
        )
        return Flag(key=key, name=key, variants=boolean_variants(), environments={"p": config})

    # Layer i needs both flags of layer i+1; layer 8 needs nothing. Evaluating a flag of
    # layer i costs 2^(9-i) - 1: layer 1 costs 255 (within the budget), "top" 511.
    layers = 8
    flags = {f"l{layers}-{j}": flag(f"l{layers}-{j}", []) for j in range(2)}
    for i in range(layers - 1, 0, -1):
        for j in range(2):
            flags[f"l{i}-{j}"] = flag(f"l{i}-{j}", [f"l{i + 1}-0", f"l{i + 1}-1"])
    check_references(flags["l1-0"], flags, {}, ["p"])  # 255: accepted
    top = flag("top", ["l1-0", "l1-1"])

    with pytest.raises(InvalidDefinition, match=str(limits.MAX_PREREQUISITE_EVALUATIONS)):
        check_references(top, flags, {}, ["p"])


@pytest.mark.parametrize(
    ("edges", "costs"),
    [
        ({"a": []}, {"a": 1}),
        ({"a": ["b"], "b": ["c"], "c": []}, {"a": 3, "b": 2, "c": 1}),
        # A diamond counts the shared prerequisite once per path, as evaluation does.
        ({"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}, {"a": 5, "b": 2, "c": 2, "d": 1}),
    ],
)
def test_evaluation_costs__graphs__counts_evaluations_per_flag(
    edges: dict[str, list[str]], costs: dict[str, int]
) -> None:
    assert evaluation_costs(edges) == costs


def test_evaluation_costs__chain_deeper_than_recursion_limit__no_error() -> None:
    edges = {f"f{i}": [f"f{i + 1}"] for i in range(5000)}
    assert evaluation_costs(edges)["f0"] == 5001


def test_invitation_items__round_trip__by_hash_and_project_with_ttl_after_expiry() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    invitation = Invitation(
        id="i1",
        project="demo",
        email="a@x.io",
        role=Role.VIEWER,
        token_hash="a" * 64,
        invited_by="alice",
        created_at=t0,
        expires_at=t0 + timedelta(days=7),
    )

    by_hash, listed = it.invitation_items(invitation)

    assert (by_hash["pk"], by_hash["sk"]) == ({"S": "INVITE#" + "a" * 64}, {"S": "META"})
    assert (listed["pk"], listed["sk"]) == ({"S": "INVITES#demo"}, {"S": "i1"})
    assert it.decode_invitation(by_hash) == it.decode_invitation(listed) == invitation
    expiry = int(invitation.expires_at.timestamp())
    assert int(by_hash["ttl"]["N"]) == expiry + it.INVITATION_RETENTION_DAYS * 86_400
