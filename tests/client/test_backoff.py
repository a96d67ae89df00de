"""Reconnect delays: exponential, capped, jittered, never zero."""

from __future__ import annotations

import random

import pytest

from ff_core.client import Backoff


def test_backoff__failures__grow_exponentially_within_jitter_bounds() -> None:
    backoff = Backoff(initial_s=1.0, max_s=30.0, rng=random.Random(1))

    delays = [backoff.next() for _ in range(10)]

    bases = [1, 2, 4, 8, 16, 30, 30, 30, 30, 30]
    assert all(base / 2 <= d <= base for d, base in zip(delays, bases, strict=True))
    assert max(delays) <= 30.0


def test_backoff__many_clients__delays_spread_out() -> None:
    delays = {round(Backoff(rng=random.Random(seed)).next(), 6) for seed in range(50)}

    assert len(delays) == 50


def test_backoff__reset__starts_again_from_initial() -> None:
    backoff = Backoff(initial_s=1.0, max_s=30.0)
    for _ in range(8):
        backoff.next()

    backoff.reset()

    assert backoff.next() <= 1.0


def test_backoff__many_failures__no_overflow() -> None:
    backoff = Backoff(initial_s=0.5, max_s=10.0, failures=10_000)

    assert 5.0 <= backoff.next() <= 10.0


@pytest.mark.parametrize(("initial", "maximum"), [(0.0, 1.0), (2.0, 1.0)])
def test_backoff__bad_bounds__refused(initial: float, maximum: float) -> None:
    with pytest.raises(ValueError, match="initial_s"):
        Backoff(initial_s=initial, max_s=maximum)
