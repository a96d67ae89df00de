"""OFREP bulk answers kept per environment snapshot and context, and counted per answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from ff_api.bulk import REMEMBERED_BODY_BYTES, BulkAnswer, BulkAnswers
from ff_api.usage import MAX_ANSWERS, UsageRecorder
from ff_core.demo import representative_config, representative_flag
from ff_core.evaluation import CompiledEnvironment, evaluate
from ff_core.models import ApiKey, Clause, EnvironmentConfig, KeyKind, Operator, Rule, Serve
from ff_core.store import MemoryStore

NOW = 1_800_000_000.0


def key(kind: KeyKind = KeyKind.SERVER, ident: str = "k1") -> ApiKey:
    return ApiKey(
        id=ident,
        project="demo",
        kind=kind,
        name="bench",
        prefix="ffs_abcd",
        hash="0" * 64,
        environment="production",
        created_by="admin@example.com",
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def environment(*, now_rule: bool = False, enabled: bool = True) -> CompiledEnvironment:
    checkout = representative_flag().replace(
        environments={"production": representative_config(enabled)}
    )
    hidden = representative_flag(key="internal-tool", salt="x").replace(client_visible=False)
    flags = [checkout, hidden]
    if now_rule:
        launch = EnvironmentConfig(
            enabled=True,
            off_variant="off",
            rules=(
                Rule(
                    clauses=(Clause(attribute="$now", operator=Operator.AFTER, values=(NOW,)),),
                    serve=Serve(variant="on"),
                ),
            ),
            fallthrough=Serve(variant="off"),
        )
        flags.append(
            representative_flag(key="launch", salt="l").replace(environments={"production": launch})
        )
    return CompiledEnvironment("production", flags)


def canonical(ctx: dict[str, Any]) -> bytes:
    return orjson.dumps(ctx, option=orjson.OPT_SORT_KEYS)


US_PRO = {"targeting_key": "u1", "country": "US", "plan": "pro"}
DE_FREE = {"targeting_key": "u2", "country": "DE", "plan": "free"}


def test_answer__same_context_same_snapshot__kept_and_equal_to_evaluating() -> None:
    bulk, env = BulkAnswers(), environment()

    first, kept = bulk.answer(key(), env, 7, US_PRO, canonical(US_PRO), NOW)
    again, kept_again = bulk.answer(key(), env, 7, dict(US_PRO), canonical(US_PRO), NOW)

    assert kept
    assert kept_again
    assert again is first
    assert first.results == tuple(evaluate(env, k, US_PRO) for k in sorted(env.flags))
    flags = orjson.loads(b"[" + first.flags_json + b"]")
    assert [(f["key"], f["value"]) for f in flags] == [
        ("internal-tool", True),
        ("new-checkout", True),
    ]


def test_answer__other_context__its_own_answer_and_etag() -> None:
    bulk, env = BulkAnswers(), environment()

    us, _ = bulk.answer(key(), env, 7, US_PRO, canonical(US_PRO), NOW)
    de, _ = bulk.answer(key(), env, 7, DE_FREE, canonical(DE_FREE), NOW)

    assert de is not us
    assert de.etag != us.etag
    assert de.results == tuple(evaluate(env, k, DE_FREE) for k in sorted(env.flags))


def test_answer__environment_changed__recomputed_with_the_new_values() -> None:
    bulk = BulkAnswers()
    before, _ = bulk.answer(key(), environment(), 7, US_PRO, canonical(US_PRO), NOW)

    after, kept = bulk.answer(key(), environment(enabled=False), 8, US_PRO, canonical(US_PRO), NOW)

    assert kept
    assert after is not before
    values = {r.key: r.value for r in after.results}
    assert values["new-checkout"] is False
    assert after.etag != before.etag


def test_answer__a_flag_reads_now__never_kept_and_evaluated_at_that_now() -> None:
    bulk, env = BulkAnswers(), environment(now_rule=True)

    early, kept = bulk.answer(key(), env, 7, US_PRO, canonical(US_PRO), NOW - 1)
    late, _ = bulk.answer(key(), env, 7, US_PRO, canonical(US_PRO), NOW + 1)

    assert not kept
    assert {r.key: r.value for r in early.results}["launch"] is False
    assert {r.key: r.value for r in late.results}["launch"] is True


def test_answer__client_key__only_client_visible_flags_in_its_own_table() -> None:
    bulk, env = BulkAnswers(), environment()
    server, _ = bulk.answer(key(), env, 7, US_PRO, canonical(US_PRO), NOW)

    client, _ = bulk.answer(key(KeyKind.CLIENT), env, 7, US_PRO, canonical(US_PRO), NOW)

    assert {r.key for r in client.results} == {"new-checkout"}
    assert {r.key for r in server.results} == {"internal-tool", "new-checkout"}


def test_answer__limit_reached__table_emptied_and_answers_stay_correct() -> None:
    bulk, env = BulkAnswers(limit=3), environment()
    contexts = [{"targeting_key": f"user-{i}", "country": "DE"} for i in range(10)]

    answers = [bulk.answer(key(), env, 7, c, canonical(c), NOW)[0] for c in contexts]

    assert len(bulk._tables[("demo", "production", True)].answers) <= 3
    for ctx, answer in zip(contexts, answers, strict=True):
        assert answer.results == tuple(evaluate(env, k, ctx) for k in sorted(env.flags))


def test_answer__limit_zero__nothing_kept() -> None:
    bulk, env = BulkAnswers(limit=0), environment()

    first, kept = bulk.answer(key(), env, 7, US_PRO, canonical(US_PRO), NOW)
    second, _ = bulk.answer(key(), env, 7, US_PRO, canonical(US_PRO), NOW)

    assert not kept
    assert second is not first


def asked(bulk: BulkAnswers, env: CompiledEnvironment, ctx: dict[str, Any]) -> BulkAnswer:
    answer, kept = bulk.answer(key(), env, 7, ctx, canonical(ctx), NOW)
    return BulkAnswer(answer, kept, ctx, canonical(ctx))


BODY = b'{"context":{"targetingKey":"u1","country":"US","plan":"pro"}}'


def test_recall__body_remembered__same_answer_for_that_key_and_environment_only() -> None:
    bulk, env = BulkAnswers(), environment()
    us = asked(bulk, env, US_PRO)

    bulk.remember(key(), env, BODY, us)

    assert bulk.recall(key(), env, BODY) is us
    assert bulk.recall(key(), env, BODY + b" ") is None  # another body
    assert bulk.recall(key(ident="k2"), env, BODY) is None  # another key
    assert bulk.recall(key(KeyKind.CLIENT), env, BODY) is None  # another view


def test_recall__environment_changed__nothing_recalled() -> None:
    bulk, env = BulkAnswers(), environment()
    bulk.remember(key(), env, BODY, asked(bulk, env, US_PRO))
    changed = environment(enabled=False)

    after = bulk.recall(key(), changed, BODY)
    fresh = asked(bulk, changed, US_PRO)  # the table for the new environment
    stale = bulk.recall(key(), env, BODY)  # the old environment's table is gone

    assert after is None
    assert stale is None
    assert fresh.answer.results == tuple(
        evaluate(changed, k, US_PRO) for k in sorted(changed.flags)
    )


def test_recall__answer_not_kept__not_remembered() -> None:
    bulk, env = BulkAnswers(), environment(now_rule=True)
    launch = asked(bulk, env, US_PRO)

    bulk.remember(key(), env, BODY, launch)

    assert not launch.kept
    assert bulk.recall(key(), env, BODY) is None


def test_recall__body_over_the_bound__not_remembered() -> None:
    bulk, env = BulkAnswers(), environment()
    us = asked(bulk, env, US_PRO)
    padded = BODY[:-1] + b"," + b'"x":"' + b"y" * REMEMBERED_BODY_BYTES + b'"}'

    bulk.remember(key(), env, padded, us)
    bulk.remember(key(), env, BODY, us)

    assert bulk.recall(key(), env, padded) is None
    assert bulk.recall(key(), env, BODY) is us


def test_recall__answers_emptied_at_the_limit__bodies_too() -> None:
    bulk, env = BulkAnswers(limit=2), environment()
    bulk.remember(key(), env, BODY, asked(bulk, env, US_PRO))

    asked(bulk, env, DE_FREE)
    asked(bulk, env, {"targeting_key": "u3"})  # the third context empties the table

    assert bulk.recall(key(), env, BODY) is None


async def test_usage__answers_recorded_whole__expanded_per_flag_and_reason() -> None:
    store = MemoryStore()
    usage = UsageRecorder(store, flush_s=60)
    bulk, env = BulkAnswers(), environment()
    us, _ = bulk.answer(key(), env, 7, US_PRO, canonical(US_PRO), NOW)
    de, _ = bulk.answer(key(), env, 7, DE_FREE, canonical(DE_FREE), NOW)

    for _ in range(3):
        usage.record_answer(us)
    usage.record_answer(de)
    usage.record("demo", "production", "new-checkout", "TARGETING_MATCH")

    expected: dict[tuple[str, str, str, str], int] = {}
    for answer, times in ((us, 3), (de, 1)):
        for r in answer.results:
            label = ("demo", "production", r.key, r.reason.value)
            expected[label] = expected.get(label, 0) + times
    label = ("demo", "production", "new-checkout", "TARGETING_MATCH")
    expected[label] = expected.get(label, 0) + 1
    assert usage.served() == expected
    assert usage.pending() == 2  # two flags of one environment await the flush
    assert await usage.flush() == 2
    assert usage.served() == expected  # flushed counts stay in the metric's totals


def test_usage__many_distinct_answers__expanded_before_the_flush_counts_unchanged() -> None:
    # A new context per request makes a new answer each time; counted whole until the flush,
    # they would all stay alive for a minute (memory, and full collections walking them).
    usage = UsageRecorder(MemoryStore(), flush_s=60)
    bulk, env = BulkAnswers(), environment()
    contexts = [{"targeting_key": f"user-{i}", "country": "DE"} for i in range(MAX_ANSWERS * 3)]
    answers = [bulk.answer(key(), env, 7, c, canonical(c), NOW)[0] for c in contexts]

    for answer in answers:
        usage.record_answer(answer)

        assert len(usage._answers) <= MAX_ANSWERS
    expected: dict[tuple[str, str, str, str], int] = {}
    for answer in answers:
        for r in answer.results:
            label = ("demo", "production", r.key, r.reason.value)
            expected[label] = expected.get(label, 0) + 1
    assert usage.served() == expected
    assert sum(expected.values()) == len(answers) * len(env.flags)
