"""Sticky, monotonic bucketing (DESIGN 3).

``bucket = int(sha1(f"{salt}.{flag_key}.{value}").hexdigest()[:15], 16) / 0xFFFFFFFFFFFFFFF``.
The first 15 hex digits are the top 60 bits of the digest, so the same number is
``int.from_bytes(digest[:8]) >> 4``; comparing ``h * 100_000 < cumulative * MAX`` keeps
the arithmetic exact (no float rounding at the range edges).
"""

from __future__ import annotations

from hashlib import sha1
from typing import Final

BUCKET_MAX: Final = 0xFFFFFFFFFFFFFFF


def bucket_hash(salt: str, flag_key: str, value: str) -> int:
    """The 60-bit hash of DESIGN 3, an integer in ``[0, BUCKET_MAX]``."""
    return int.from_bytes(sha1(f"{salt}.{flag_key}.{value}".encode()).digest()[:8], "big") >> 4


def bucket(salt: str, flag_key: str, value: str) -> float:
    """The bucket in ``[0, 1]`` as DESIGN 3 writes it; for display and tests."""
    return bucket_hash(salt, flag_key, value) / BUCKET_MAX


def digest_threshold(bound: int, total: int) -> int:
    """The same test on the whole digest: ``h * total < bound`` iff ``digest < threshold``.

    ``digest`` is the 160-bit SHA-1 digest read as an integer, so ``h = digest >> 100``.
    For integers ``h * total < bound`` iff ``h < ceil(bound / total)``, iff
    ``digest < ceil(bound / total) << 100``: one ``int.from_bytes`` and one comparison
    per evaluation, no slicing, shifting or multiplying.
    """
    return -(-bound // total) << 100


def bounds(weights: list[int]) -> list[int]:
    """Exclusive upper bounds of each weight's range, to compare with ``h * ROLLOUT_TOTAL``."""
    out, cumulative = [], 0
    for weight in weights:
        cumulative += weight
        out.append(cumulative * BUCKET_MAX)
    return out
