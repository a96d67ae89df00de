"""A flag key from a human name: ``"Nouveau paiement (beta)"`` → ``"nouveau-paiement-beta"``."""

from __future__ import annotations

import re
import unicodedata

from ff_core import limits

KEY_PATTERN = re.compile(limits.FLAG_KEY_PATTERN)
# What FLAG_KEY_PATTERN allows: one leading character and up to 127 more.
MAX_KEY_LENGTH = 128

_SEPARATORS = re.compile(r"[^a-z0-9]+")
# Letters that Unicode does not decompose into an ASCII base letter.
_LETTERS = str.maketrans({"æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "ł": "l", "þ": "th"})


def slugify(name: str) -> str:
    """Lower-case ASCII letters and digits joined by single ``-``; "" when nothing is usable.

    Accents are folded (``é`` → ``e``); characters with no ASCII form (``日本``) are dropped.
    Dots and underscores, although valid in keys, become ``-`` too: one separator reads best.
    """
    # casefold first: "ß" becomes "ss" instead of vanishing.
    lowered = name.casefold().translate(_LETTERS)
    folded = unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore").decode("ascii")
    slug = _SEPARATORS.sub("-", folded.lower()).strip("-")
    slug = slug[:MAX_KEY_LENGTH].rstrip("-")
    return slug if KEY_PATTERN.match(slug) else ""
