"""Fuzzing every operation of ``/openapi.json`` with schemathesis against the real API.

The document is the one the app serves, built from its own routes; schemathesis generates
requests from it, valid ones (``positive``) and ones that break it (``negative``), and
sends them over a real loopback port to the API over moto's DynamoDB server. Each request
carries valid credentials for its route family (an owner's admin key, a server or client
key, a dashboard session), and path parameters are mostly steered to things that exist
(project ``demo``, its flags, segments and environments), so that requests reach the
handlers instead of stopping at 401 or 404.

Every response must: not be a 5xx; have a status code, content type, headers and body
that the document declares; carry no stack trace. A request into project ``other`` with
``demo``'s credentials must be a 404.

``FF_FUZZ_EXAMPLES`` sets the examples per operation and mode (default 20: about 1,400
requests in the suite, the same ones on every run). The full run is the same code with
fresh random data (``FF_FUZZ_EXAMPLES=200``: over 10,000 requests); its figure is in
docs/RELIABILITY.md.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ff_api import ApiSettings, create_app, openapi
from ff_core import tokens
from tests.security.conftest import World

EXAMPLES = int(os.environ.get("FF_FUZZ_EXAMPLES", "20"))
# The suite's bounded run is reproducible; a longer run explores new inputs each time.
DERANDOMIZE = "FF_FUZZ_EXAMPLES" not in os.environ
SPEC = openapi.build(create_app(ApiSettings()).routes, "0")
SCHEMA = schemathesis.openapi.from_dict(SPEC)
# An event stream with valid credentials never ends, and schemathesis reads whole bodies:
# their bad input is covered by tests/api/test_sdk_sync.py and test_browser_stream.py.
STREAMS = {
    (method.upper(), path)
    for path, ops in SPEC["paths"].items()
    for method, op in ops.items()
    if "text/event-stream" in next(iter(op["responses"].values())).get("content", {})
}


def operations() -> list[Any]:
    """Every operation schemathesis reads from the document; a part it cannot read fails."""
    found = []
    for result in SCHEMA.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in STREAMS:
            found.append(operation)
    return found


OPERATIONS = operations()


def _fuzzable(operation: Any) -> bool:
    """Negative data needs something to break: a parameter or a body."""
    spec = SPEC["paths"][operation.path][operation.method.lower()]
    return bool(spec["parameters"]) or "requestBody" in spec


CASES = [
    pytest.param(operation, mode, id=f"{operation.method.upper()} {operation.path} {mode.value}")
    for operation in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _fuzzable(operation)
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FLAGS = ["new-checkout", "checkout.layout", "discount-rate", "legacy-mode"]
SEGMENTS = ["beta"]
ENVIRONMENTS = ["production", "staging", "development"]
TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "site-packages")

SENT: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    total = sum(SENT.values())
    print(f"\nfuzzed {total} requests over {len(SENT)} operations x modes")


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def credentials(security: list[dict[str, Any]], world: World, choice: int) -> dict[str, str]:
    """Headers with a valid credential for one of the operation's security schemes."""
    schemes = [name for entry in security for name in entry]
    if "adminKey" in schemes:
        return {"Authorization": f"Bearer {world.demo.admin}"}
    if "session" in schemes:
        return {"Cookie": f"{tokens.SESSION_COOKIE}={world.session()}"}
    if "serverKey" in schemes and ("clientKey" not in schemes or choice % 2 == 0):
        return {"Authorization": f"Bearer {world.demo.server}"}
    if "clientKey" in schemes:
        return {"Authorization": f"Bearer {world.demo.client}"}
    return {}


def steer(path: str, params: dict[str, Any], data: st.DataObject) -> None:
    """Point most requests at things that exist; keep some generated values."""
    if "project" in params:
        params["project"] = data.draw(st.sampled_from(["demo"] * 6 + ["other", params["project"]]))
    if "key" in params:
        known = SEGMENTS if "/segments/" in path else FLAGS
        params["key"] = data.draw(st.sampled_from([*known, params["key"]]))
    if "environment" in params:
        params["environment"] = data.draw(st.sampled_from([*ENVIRONMENTS, params["environment"]]))


def no_stack_trace(response: requests.Response) -> None:
    for marker in TRACE_MARKERS:
        assert marker not in response.text, response.text[:500]


# schemathesis 4.32 draws some optional headers with the global `random` module inside its
# strategies, which hypothesis flags (on rare examples) with a deprecation warning.
@pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)
@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_fuzz__every_operation__no_5xx_no_schema_violation_no_trace(
    operation: Any, mode: GenerationMode, world: World, session: requests.Session
) -> None:
    security = SPEC["paths"][operation.path][operation.method.lower()]["security"]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode), data=st.data())
    def fuzz(case: Any, data: st.DataObject) -> None:
        if case.path_parameters:
            steer(operation.path, case.path_parameters, data)
        headers = credentials(security, world, data.draw(st.integers(0, 1)))
        response = case.call(base_url=world.url, session=session, headers=headers, timeout=30)
        SENT[f"{operation.method.upper()} {operation.path} {mode.value}"] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)
        no_stack_trace(response)
        if (case.path_parameters or {}).get("project") == "other":
            assert response.status_code == 404, response.text

    fuzz()
