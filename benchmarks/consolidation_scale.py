"""Consolidation over 1,000,000 memories and 3,000,000 edges: its time (target: at most 10 s) and the
peak memory of the process that runs it (target: at most 2 GiB).

The memory is made first (testkit/memories.py fill_memory: a year of memories, a third below the prune
floor, twins, long bodies); then a child process consolidates it and the peak RSS is the child's own
(getrusage RUSAGE_CHILDREN, after it ended). Usage: python benchmarks/consolidation_scale.py [--memories N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _report import figure, report

from overnight_assets.resources.cortex import Cortex
from overnight_assets_tests.testkit.memories import fill_memory

AS_OF = datetime(2026, 6, 1, 3, tzinfo=UTC)
CHILD = """
import json, sys
from datetime import datetime
from overnight_assets.memory.consolidation import Settings, consolidate
from overnight_assets.resources.cortex import Cortex
outcome = consolidate(Cortex(sys.argv[1]), Settings(), datetime.fromisoformat(sys.argv[2]))
print(json.dumps(outcome.metadata()))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memories", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=3_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cortex = Cortex(Path(folder) / "cortex.duckdb")
        started = time.perf_counter()
        with cortex.connect() as db:
            fill_memory(db, args.memories, args.edges, AS_OF)
        print(f"made {args.memories:,} memories and {args.edges:,} edges in {time.perf_counter() - started:.1f} s")
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(cortex.path), AS_OF.isoformat()], capture_output=True, text=True
        )
        if done.returncode != 0:
            sys.exit(done.stderr[-3000:])
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"consolidation: {outcome}")
    report(
        "consolidation_scale",
        [
            figure(
                "consolidation, 1M memories + 3M edges", outcome["seconds"], "s", "<= 10 s", outcome["seconds"] <= 10
            ),
            figure("peak RSS of the consolidating process", round(peak_mib), "MiB", "<= 2048 MiB", peak_mib <= 2048),
            figure(
                "pruned / merged / compressed", f"{outcome['pruned']}/{outcome['merged']}/{outcome['compressed']}", ""
            ),
            figure("live after", outcome["kept"], "rows"),
        ],
    )


if __name__ == "__main__":
    main()
