"""Two runs claiming the `gpu` pool (limit 1) at the same instant: how often do both get the slot?

Each trial starts two processes on one instance (the repo's dagster.yaml, pool limit 1) that wait
for the same moment and then call the storage's `claim_concurrency_slot`, as a run's executor does
before a pool step. In Dagster 1.13.27 the claim is check-then-act: `has_unassigned_slots` then
`add_pending_step` (both can see the one slot free and both be assigned), then a select of a free
slot and an update of it by id (both can take the same row; on PostgreSQL `FOR UPDATE SKIP
LOCKED` holds only for its own autocommitted statement). Both claims then succeed, the slot row
names only the last writer: two steps run in a pool of one.

This is why the earlier timestamp-based tests/test_gpu_pool.py failed once under load: its two
nights started together and reached gpu_warmup, their first pool step, at the same moment.
Usage: python benchmarks/gpu_pool_claim_race.py [--trials N] [--postgres URL]
Target: 0 double claims through the project's executor, which claims under a lock file on this
host (operations/executor.py); Dagster's own claim is measured beside it for comparison.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import yaml
from _report import figure, report

REPO = Path(__file__).resolve().parents[1]


def claim(home: str, start_at: float, run_id: str, answers, locked: bool) -> None:
    import dagster as dg

    from overnight_assets.operations.executor import pool_claims_lock

    instance = dg.DagsterInstance.from_config(home)  # kept: the storage refers back to it
    storage = instance.event_log_storage
    while time.time() < start_at:  # both processes leave the mark together
        pass
    if not locked:  # Dagster's own claim, as its stock executors make it
        answers.put(storage.claim_concurrency_slot("gpu", run_id, "gpu_warmup").is_claimed)
        return
    with pool_claims_lock(instance):  # the project's executor's claim
        answers.put(storage.claim_concurrency_slot("gpu", run_id, "gpu_warmup").is_claimed)


def trials(home: str, count: int, locked: bool) -> int:
    import dagster as dg

    instance = dg.DagsterInstance.from_config(home)
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default("gpu")
    both = 0
    for _ in range(count):
        answers = multiprocessing.Queue()
        runs = [str(uuid.uuid4()) for _ in range(2)]
        start_at = time.time() + 1.5  # time enough for both to import dagster and open the instance
        workers = [multiprocessing.Process(target=claim, args=(home, start_at, run, answers, locked)) for run in runs]
        for worker in workers:
            worker.start()
        claimed = [answers.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join()
        both += all(claimed)
        for run in runs:
            storage.free_concurrency_slots_for_run(run)
    return both


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument(
        "--postgres", help="a database URL (postgresql+psycopg2://...): PostgreSQL storage instead of SQLite"
    )
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="pool-race-")
    try:
        settings = yaml.safe_load((REPO / "dagster.yaml").read_text())
        settings.pop("run_monitoring", None)
        if args.postgres:
            settings["storage"] = {"postgres": {"postgres_url": args.postgres}}
        Path(home, "dagster.yaml").write_text(yaml.safe_dump(settings))
        dagsters = trials(home, args.trials, locked=False)
        ours = trials(home, args.trials, locked=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    storage = "postgres" if args.postgres else "sqlite"
    print(
        f"both claimed the one slot in {dagsters} of {args.trials} trials with Dagster's claim, {ours} with the project's ({storage})"
    )
    report(
        "gpu_pool_claim_race",
        [
            figure(f"double claims of {args.trials}, Dagster's claim ({storage})", dagsters, "trials"),
            figure(
                f"double claims of {args.trials}, the project's executor ({storage})", ours, "trials", "0", ours == 0
            ),
        ],
    )


if __name__ == "__main__":
    main()
