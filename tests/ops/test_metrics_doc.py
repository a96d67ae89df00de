"""docs/OBSERVABILITY.md's metrics table is what GET /metrics exposes."""

from __future__ import annotations

import json
import re

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.ops.conftest import ROOT, Seeded


def documented() -> dict[str, tuple[str, frozenset[str]]]:
    """Metric -> (type, labels), from the table under '## Metrics'."""
    text = (ROOT / "docs" / "OBSERVABILITY.md").read_text()
    section = text.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, frozenset[str]]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and (name := re.fullmatch(r"`(ff_\w+)`", cells[0])):
            rows[name.group(1)] = (cells[1], frozenset(re.findall(r"`(\w+)`", cells[2])))
    return rows


def exposed(text: str) -> dict[str, tuple[str, frozenset[str]]]:
    """Metric -> (type, labels) as scraped; counters by their sample name (``_total``)."""
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created"):  # prometheus_client's creation times
            continue
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = {label for sample in family.samples for label in sample.labels} - {"le"}
        found[name] = (family.type, frozenset(labels))
    return found


async def test_metrics_table__after_traffic__equals_what_metrics_exposes(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    # Traffic that gives every labelled family a sample: a request, an evaluation.
    evaluated = await http.get(
        "/api/v1/flags/new-checkout/evaluate",
        params={"context": json.dumps({"targeting_key": "u1"})},
        headers={"Authorization": f"Bearer {seeded.server_key}"},
    )
    assert evaluated.status_code == 200

    scraped = await http.get("/metrics")

    assert scraped.status_code == 200
    assert exposed(scraped.text) == documented()
