"""Run every benchmark, one after another in its own process, and print their figures in one table.

Each script prints its details and its table, then one `BENCH-JSON` line that this collects:
the details are passed through, the tables merged into one. Dagster's run logs (stderr) are
kept out of the way: shown only when a script fails, and searched for "database is locked". Usage: python benchmarks/run_all.py [name ...] (default: all).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from _report import MARK, format_row, header

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "import_location": ["--profile"],
    "triage_clean_host": [],
    "nightly_executor": [],
    "celery_overhead": [],
    "cortex_two_hosts": [],
    "code_review_prepare": [],
    "reading_fetch": [],
    "reading_llm_budget": [],
    "auth_log_read": [],
    "gpu_slot_recovery": [],
    "gpu_pool_claim_race": ["--trials", "10"],
    "daemon_idle_cpu": ["--seconds", "150"],
    "instance_size": ["--nights", "90"],
    "serve_requests": [],
    "consolidation_scale": [],
    "memory_year": ["--nights", "365"],
    "similarity_compare": [],  # wordllama's half only where it is installed (see the script)
    "memory_seen": [],
}


def run(name: str, args: list[str]) -> tuple[list[dict], list[str]]:
    print(f"== {name}", flush=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / f"{name}.py"), *args], cwd=HERE, capture_output=True, text=True)
    figures, notes = [], []
    for line in done.stdout.splitlines():
        if line.startswith(MARK):
            figures = json.loads(line.removeprefix(MARK))["figures"]
        elif not line.startswith((name, "benchmark ")):  # its own table: the combined one follows
            print(line)
    if done.returncode != 0:
        print(done.stderr[-4000:])
        notes.append(f"{name}: exited with {done.returncode}")
    locked = done.stderr.count("database is locked")
    if locked:
        notes.append(f"{name}: 'database is locked' {locked} times in its logs")
    print(f"   ({time.perf_counter() - started:.0f} s)\n", flush=True)
    return figures, notes


def main(names: list[str]) -> int:
    results, notes = {}, []
    for name in names or BENCHMARKS:
        results[name], more = run(name, BENCHMARKS[name])
        notes += more
    print(header())
    for name, figures in results.items():
        for fig in figures:
            print(format_row(name, fig))
    for note in notes:
        print(f"note: {note}")
    crashed = any("exited" in note for note in notes)
    missed = any(fig["ok"] is False for figures in results.values() for fig in figures)
    return 1 if crashed or missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
