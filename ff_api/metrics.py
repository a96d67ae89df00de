"""Prometheus metrics: one registry per app, requests by route template, live state at scrape.

Requests are counted, and their latency observed, when the response *starts*: a normal
response's handler has finished by then, and a stream (SSE) is counted once as it opens,
its latency the time to open it, never the hours it stays open. Open streams show in
``ff_sse_subscribers`` instead. Route labels are templates (``/ofrep/v1/evaluate/flags/
{key:path}``), never raw paths, so their number is bounded by the app's routes.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from ff_api.hub import Hub
from ff_api.snapshots import Snapshots
from ff_api.usage import UNKNOWN_FLAG, UsageRecorder

UNMATCHED = "(unmatched)"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Routes x methods x statuses stay far below; beyond it requests count as unmatched.
_LABEL_SETS_LIMIT = 10_000
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# As Prometheus writes them (0.0005, 1.0, +Inf), the last for what no bound holds.
_BUCKET_LABELS = [floatToGoString(b) for b in (*_BUCKETS, math.inf)]  # type: ignore[no-untyped-call]


class _Live:
    """What is read from the running app at each scrape rather than counted as it happens."""

    def __init__(self, hub: Hub, snapshots: Snapshots, usage: UsageRecorder) -> None:
        self._hub, self._snapshots, self._usage = hub, snapshots, usage

    def collect(self) -> Iterator[Metric]:
        evaluations = CounterMetricFamily(
            "ff_evaluations",
            f"Flag evaluations served by project, environment, flag ({UNKNOWN_FLAG}: not found) "
            "and reason",
            labels=["project", "environment", "flag", "reason"],
        )
        for labels, count in sorted(self._usage.served().items()):
            evaluations.add_metric(labels, count)
        yield evaluations
        yield GaugeMetricFamily(
            "ff_sse_subscribers", "Open change streams (SDK and browser)", self._hub.count()
        )
        deliveries = CounterMetricFamily(
            "ff_sse_deliveries",
            "Batches of changes delivered to streams: written to the connection by the hub "
            "(direct) or queued for the stream's task (queued: the client was not reading)",
            labels=["path"],
        )
        deliveries.add_metric(["direct"], self._hub.delivered_direct)
        deliveries.add_metric(["queued"], self._hub.delivered_queued)
        yield deliveries
        yield GaugeMetricFamily(
            "ff_change_follower_lag_seconds",
            "Seconds since this replica last read the change log of every loaded project",
            self._snapshots.lag_s,
        )
        yield GaugeMetricFamily(
            "ff_change_follower_round_seconds",
            "How long the change follower's last round of reads took",
            self._snapshots.round_s,
        )
        yield GaugeMetricFamily(
            "ff_usage_pending",
            "Usage counts (project, environment, flag) waiting for the next flush",
            self._usage.pending(),
        )
        yield CounterMetricFamily(
            "ff_usage_write_failures",
            "Usage updates the store refused (their counts wait for the next flush)",
            self._usage.failures,
        )
        yield CounterMetricFamily(
            "ff_usage_dropped_evaluations",
            "Evaluations never written because too many counts waited after failures",
            self._usage.dropped,
        )


class _Requests:
    """Requests and their latency by (route, method, status), kept as plain numbers.

    prometheus_client's Counter and Histogram lock and validate on every observation
    (about 3 µs a request, as much as a dozen flag evaluations); here an observation is
    a dict lookup, a bisect and three increments, and the library builds the families
    at scrape time.
    """

    def __init__(self) -> None:
        # labels -> [count, sum of seconds, one count per bucket (the last: +Inf)]
        self._stats: dict[tuple[str, str, int], list[float]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        labels = (route, method, status)
        stats = self._stats.get(labels)
        if stats is None:
            if len(self._stats) >= _LABEL_SETS_LIMIT:
                labels = (UNMATCHED, "OTHER", status)
                stats = self._stats.get(labels)
            if stats is None:
                stats = self._stats[labels] = [0, 0.0] + [0] * (len(_BUCKETS) + 1)
        stats[0] += 1
        stats[1] += seconds
        stats[2 + bisect_left(_BUCKETS, seconds)] += 1

    def collect(self) -> Iterator[Metric]:
        names = ["route", "method", "status"]
        requests = CounterMetricFamily(
            "ff_http_requests", "HTTP requests by route template, method and status", labels=names
        )
        latency = HistogramMetricFamily(
            "ff_http_request_duration_seconds",
            "Time until the response started (for a stream: until it opened)",
            labels=names,
        )
        for (route, method, status), stats in sorted(self._stats.items()):
            labels = [route, method if method in _METHODS else "OTHER", str(status)]
            requests.add_metric(labels, stats[0])
            cumulative, buckets = 0.0, []
            for bound, count in zip(_BUCKET_LABELS, stats[2:], strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            latency.add_metric(labels, buckets, stats[1])
        yield requests
        yield latency


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = _Requests()
        self.registry.register(self._requests)
        self._live: _Live | None = None

    def watch(self, hub: Hub, snapshots: Snapshots, usage: UsageRecorder) -> None:
        """Report on the app's live parts (called by each run of the lifespan)."""
        if self._live is not None:
            self.registry.unregister(self._live)
        self._live = _Live(hub, snapshots, usage)
        self.registry.register(self._live)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self._requests.observe(route, method, status, seconds)

    def observe_request(self, scope: Scope, status: int, started: float) -> None:
        """A request whose response starts now (ff_api/access.py calls it for every one)."""
        seconds = time.perf_counter() - started
        self._requests.observe(route_template(scope), scope["method"], status, seconds)

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """The text format Prometheus asked for (``Accept``), and its content type."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type


def route_template(scope: Scope) -> str:
    """The path template of the route that served ``scope`` (a bounded label)."""
    route = scope.get("route")
    if route is not None:
        path = getattr(route, "path", None)
        return path if isinstance(path, str) else UNMATCHED
    # Answered before routing (a CORS preflight, a 429), or no route at all (404): match
    # the routes once per method and path, not on every such request (a refused request
    # must stay cheap, or a noisy key slows the others down by being refused).
    memo = (scope["method"], scope["path"])
    template = _UNROUTED.get(memo)
    if template is None:
        routes: Sequence[BaseRoute] = getattr(scope.get("app"), "routes", ())
        found = next((r for r in routes if r.matches(scope)[0] is not Match.NONE), None)
        path = getattr(found, "path", None)
        template = path if isinstance(path, str) else UNMATCHED
        if len(_UNROUTED) >= _LABEL_SETS_LIMIT:
            _UNROUTED.clear()
        _UNROUTED[memo] = template
    return template


_UNROUTED: dict[tuple[str, str], str] = {}
