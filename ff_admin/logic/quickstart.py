"""What the Quickstart page fills its snippets with, and the snippets as the page shows them.

Decisions:
- The key shown is the newest active key of its kind in the selected environment (its
  display prefix: the raw key is not stored); without one, the snippet says to create one.
- Server-side snippets use the first live flag by key; browser snippets prefer the first
  client-visible one, since no other flag ever reaches a browser.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ff_admin.logic.slug import slugify
from ff_admin.logic.snippets import snippets
from ff_core.models import ApiKey, Flag, KeyKind

_BROWSER_LANGUAGES = frozenset({"html", "javascript"})
# rx.code_block (Prism) calls HTML "markup".
_HIGHLIGHT = {"html": "markup"}


@dataclass
class SnippetCard:
    id: str
    title: str
    # A language rx.code_block knows.
    language: str
    code: str


def newest_active_prefix(keys: Iterable[ApiKey], kind: KeyKind, environment: str) -> str:
    """The display prefix of the newest active ``kind`` key of ``environment``, or ""."""
    fitting = [
        k for k in keys if k.kind is kind and k.environment == environment and k.revoked_at is None
    ]
    return max(fitting, key=lambda k: k.created_at).prefix if fitting else ""


def example_flags(flags: Iterable[Flag]) -> tuple[str, str]:
    """The flag for server snippets and the one for browser snippets ("" without flags)."""
    live = sorted((f for f in flags if not f.archived), key=lambda f: f.key)
    if not live:
        return "", ""
    visible = [f for f in live if f.client_visible]
    return live[0].key, (visible or live)[0].key


def cards(
    api_url: str, project: str, environment: str, keys: Iterable[ApiKey], flags: Iterable[Flag]
) -> list[SnippetCard]:
    keys = list(keys)
    server_flag, browser_flag = example_flags(flags)
    fill = {
        "api_url": api_url,
        "project": project,
        "environment": environment,
        "server_prefix": newest_active_prefix(keys, KeyKind.SERVER, environment),
        "client_prefix": newest_active_prefix(keys, KeyKind.CLIENT, environment),
    }
    server = snippets(**fill, flag_key=server_flag or "my-flag")
    browser = snippets(**fill, flag_key=browser_flag or "my-flag")
    chosen = [
        b if b.language in _BROWSER_LANGUAGES else s for s, b in zip(server, browser, strict=True)
    ]
    return [
        SnippetCard(
            id="snippet-" + (slugify(s.title) or str(index)),
            title=s.title,
            language=_HIGHLIGHT.get(s.language, s.language),
            code=s.code,
        )
        for index, s in enumerate(chosen)
    ]
