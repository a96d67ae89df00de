"""Reconnect delays: exponential, capped, with jitter so that a fleet does not reconnect in step."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """``next()`` after each failure, ``reset()`` after a success.

    The n-th delay is drawn uniformly from [base/2, base] with base = min(max_s,
    initial_s * factor**n): never zero (a dead server is not hammered) and spread out.
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    failures: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s or self.factor < 1:
            raise ValueError("a backoff needs 0 < initial_s <= max_s and factor >= 1")

    def next(self) -> float:
        # Bounded exponent: factor**n overflows a float long before a fleet gives up.
        base = min(self.max_s, self.initial_s * self.factor ** min(self.failures, 64))
        self.failures += 1
        return self.rng.uniform(base / 2, base)

    def reset(self) -> None:
        self.failures = 0
