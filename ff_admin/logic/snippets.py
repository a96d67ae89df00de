"""The quickstart: code that evaluates one flag, ready to copy, for each way in.

The dashboard knows a key's prefix, not the key (only its HMAC is stored): a prefix is
written as ``<prefix>...`` under a comment asking to paste the full key. A full key (just
created, shown once) is written as is. With no key at all, the kind's bare prefix is used.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from ff_core import keys

_SERVER_PREFIX = "ffs_"
_CLIENT_PREFIX = "ffc_"


@dataclass
class Snippet:
    title: str
    # For highlighting: "python", "html", "javascript", "bash".
    language: str
    code: str


def snippets(
    api_url: str,
    project: str,
    environment: str,
    server_prefix: str,
    client_prefix: str,
    flag_key: str,
) -> list[Snippet]:
    api = api_url.rstrip("/")
    server, server_note = _key(server_prefix, _SERVER_PREFIX, "server", project, environment)
    client, client_note = _key(client_prefix, _CLIENT_PREFIX, "client", project, environment)
    return [
        Snippet("Python service (ff SDK)", "python", _sdk(api, server, server_note, flag_key)),
        Snippet(
            "Python with OpenFeature", "python", _openfeature(api, server, server_note, flag_key)
        ),
        Snippet("Browser module (ff.js)", "html", _ff_js(api, client, client_note, flag_key)),
        Snippet(
            "Browser EventSource", "javascript", _event_source(api, client, client_note, flag_key)
        ),
        Snippet("curl (OFREP)", "bash", _curl(api, server, server_note, flag_key)),
    ]


def _key(prefix: str, bare: str, kind: str, project: str, environment: str) -> tuple[str, str]:
    """The key to write, and comment lines (without the comment marker) about it."""
    about = f"A {kind} key of project {project!r}, environment {environment!r}."
    if keys.looks_like_key(prefix) and len(prefix) > keys.DISPLAY_PREFIX_LENGTH:
        return prefix, about
    if not prefix:
        return f"{bare}...", f"{about}\nCreate one under Keys, then paste the full key here."
    return f"{prefix}...", f"{about}\nPaste the full key: the dashboard shows only its start."


def _comment(note: str, marker: str, indent: str = "") -> str:
    return "\n".join(f"{indent}{marker} {line}" for line in note.splitlines())


def _py(value: str) -> str:
    return json.dumps(value)


def _js(value: str) -> str:
    # Inside <script>, "</" could end the element.
    return json.dumps(value).replace("</", "<\\/")


def _fill(template: str, **values: str) -> str:
    for name, value in values.items():
        template = template.replace(f"__{name}__", value)
    return template


_SDK = """import asyncio

from ff_core.client import FlagClient

FF_API_URL = __API__
__NOTE__
FF_SERVER_KEY = __KEY__


async def main() -> None:
    async with FlagClient(url=FF_API_URL, server_key=FF_SERVER_KEY) as flags:
        user = {"targeting_key": "user-1"}
        print(await flags.is_enabled(__FLAG__, user, default=False))
        details = await flags.details(__FLAG__, user)
        print(details.value, details.variant, details.reason)


asyncio.run(main())
"""


def _sdk(api: str, key: str, note: str, flag: str) -> str:
    return _fill(_SDK, API=_py(api), NOTE=_comment(note, "#"), KEY=_py(key), FLAG=_py(flag))


_OPENFEATURE = """import asyncio

from openfeature import api
from openfeature.evaluation_context import EvaluationContext

from ff_core.client import FlagClient
from ff_core.client.provider import FlagProvider

FF_API_URL = __API__
__NOTE__
FF_SERVER_KEY = __KEY__


async def main() -> None:
    flags = await FlagClient.connect(url=FF_API_URL, server_key=FF_SERVER_KEY)
    try:
        api.set_provider(FlagProvider(flags))
        client = api.get_client()
        context = EvaluationContext(targeting_key="user-1")
        print(await client.get_boolean_value_async(__FLAG__, False, context))
        details = await client.get_boolean_details_async(__FLAG__, False, context)
        print(details.value, details.variant, details.reason)
    finally:
        api.shutdown()
        await flags.close()


asyncio.run(main())
"""


def _openfeature(api: str, key: str, note: str, flag: str) -> str:
    return _fill(_OPENFEATURE, API=_py(api), NOTE=_comment(note, "#"), KEY=_py(key), FLAG=_py(flag))


_FF_JS = """<script type="module">
  import { connect } from __MODULE__;

__NOTE__
  // Only flags marked client-visible reach the browser, as evaluated values.
  const flags = connect({ clientKey: __KEY__, context: { targetingKey: "user-1" } });
  await flags.ready;
  console.log(flags.isEnabled(__FLAG__));
  flags.onChange((keys) => {
    if (keys.includes(__FLAG__)) console.log(flags.isEnabled(__FLAG__));
  });
</script>
"""


def _ff_js(api: str, key: str, note: str, flag: str) -> str:
    return _fill(
        _FF_JS,
        MODULE=_js(f"{api}/sdk/ff.js"),
        NOTE=_comment(note, "//", "  "),
        KEY=_js(key),
        FLAG=_js(flag),
    )


_EVENT_SOURCE = """__NOTE__
// Only flags marked client-visible reach the browser, as evaluated values.
const params = new URLSearchParams({
  key: __KEY__,
  context: JSON.stringify({ targetingKey: "user-1" }),
});
const source = new EventSource(__STREAM__ + "?" + params);
let flags = {};
source.addEventListener("snapshot", (event) => {
  flags = JSON.parse(event.data).flags; // every flag: replaces what we had
  console.log(flags[__FLAG__]?.value);
});
source.addEventListener("change", (event) => {
  const { flags: changed, removed } = JSON.parse(event.data);
  Object.assign(flags, changed);
  for (const key of removed) delete flags[key];
  console.log(flags[__FLAG__]?.value);
});
// EventSource reconnects by itself and resumes with Last-Event-ID.
"""


def _event_source(api: str, key: str, note: str, flag: str) -> str:
    return _fill(
        _EVENT_SOURCE,
        NOTE=_comment(note, "//"),
        KEY=_js(key),
        STREAM=_js(f"{api}/api/v1/browser/stream"),
        FLAG=_js(flag),
    )


_CURL = """__NOTE__
FF_KEY=__KEY__
curl -X POST __URL__ \\
  -H "Authorization: Bearer $FF_KEY" \\
  -H 'Content-Type: application/json' \\
  -d '{"context": {"targetingKey": "user-1"}}'
"""


def _curl(api: str, key: str, note: str, flag: str) -> str:
    return _fill(
        _CURL,
        NOTE=_comment(note, "#"),
        KEY=shlex.quote(key),
        URL=shlex.quote(f"{api}/ofrep/v1/evaluate/flags/{flag}"),
    )
