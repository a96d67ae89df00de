"""ff_api/collector.py: full collections on our schedule, with what survives frozen (in a
child process: freezing the test runner's objects would leak)."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import gc, json, weakref
from ff_api.collector import FreezingCollector, freeze

class Node:
    pass

out = {}
freeze()
collector = FreezingCollector(check_s=1, freeze_objects=5_000, full_interval_s=3_600)
out["few_new_objects"] = collector.check()

# A reference cycle frozen while alive, then dropped: collections skip it...
cycle = Node()
cycle.me = cycle
dead = weakref.ref(cycle)
gc.freeze()
del cycle
gc.collect()
out["frozen_cycle_kept_by_collect"] = dead() is not None

# New long-lived objects are frozen without a full collection (no pause)...
kept = [Node() for _ in range(10_000)]
gc.collect()
out["unfrozen_before"] = len(gc.get_objects(generation=2))
out["many_new_objects"] = collector.check()
out["unfrozen_after"] = len(gc.get_objects(generation=2))
out["frozen_cycle_kept_by_freeze"] = dead() is not None

# ...and the full collection when due frees what died frozen.
collector.full_interval_s = 0
out["due"] = collector.check()
out["frozen_cycle_freed"] = dead() is None
out["counts"] = [collector.freezes, collector.full_collections]
print(json.dumps(out))
"""


def test_collector__new_long_lived_objects_frozen__full_collection_when_due_frees_cycles() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )

    out = json.loads(result.stdout)
    assert out["few_new_objects"] is None
    assert out["frozen_cycle_kept_by_collect"] is True
    assert out["unfrozen_before"] > 10_000
    assert out["many_new_objects"] == "freeze"
    assert out["unfrozen_after"] < 100  # everything alive is frozen again
    assert out["frozen_cycle_kept_by_freeze"] is True
    assert out["due"] == "full"
    assert out["frozen_cycle_freed"] is True
    assert out["counts"] == [1, 1]
