"""What distribution costs: the nightly job under the Celery executor (a gpu worker and a default worker
on this machine, Redis on 127.0.0.1:6379 as broker and result backend) against the project's in-process
executor, LLM answers instant.

Both variants run the identical assets and resources as `dg.execute_job(dg.reconstructable(...))` on a
real SQLite DAGSTER_HOME with the repo's dagster.yaml (pool `gpu` limited to 1), against loopback
Ollama and Slack; every night's auth log holds 12 failed root logins from a new address, so the
triage gate says AMBER and the LLM is asked. They alternate, each on fresh partitions; the figure is
the median of REPEATS runs, and the ratio celery / in-process. The workers are started once (their
start is not counted: they are long-lived services) and serve the `gpu` and default queues as the
README's two hosts do. The Celery loop polls its tasks once a second (dagster-celery's TICK_SECONDS),
so most of the overhead is that tick, paid per step along the chain's critical path.
"""

from __future__ import annotations

import os
import statistics
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

REPEATS = 3
FIRST_NIGHT = date(2026, 10, 1)


def in_process_nightly() -> dg.JobDefinition:
    """The code location's nightly job's assets and resources under the project's in-process executor."""
    from overnight_assets.definitions import NIGHTLY, defs
    from overnight_assets.operations.executor import pool_care_in_process_executor

    job = dg.define_asset_job("nightly_in_process", selection=NIGHTLY, executor_def=pool_care_in_process_executor)
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)


def workers_used(run_id: str) -> set[str | None]:
    from overnight_assets_tests.testkit.celery_workers import step_runs

    with dg.DagsterInstance.get() as instance:
        return {run.worker for run in step_runs(instance, run_id).values()}


def main() -> None:
    from _loopback import loopback
    from _report import figure, report
    from nightly_executor import run_once

    from overnight_assets_tests.testkit.celery_workers import (
        Queues,
        celery_env,
        celery_workers,
        nightly_job,
        redis_reachable,
    )

    if not redis_reachable():
        raise SystemExit("Redis is not reachable at 127.0.0.1:6379: the Celery variant needs it")
    queues = Queues.fresh()
    with loopback(**queues.config()) as env:
        os.environ.update(celery_env(dict(os.environ)))  # this process orchestrates: it needs the broker too
        env.ollama.overrides = {"status": "AMBER", "summary": "Brute force from one address."}
        with celery_workers(dict(os.environ), queues, Path(env.root)) as nodes:
            variants = {"in_process": in_process_nightly, "celery": nightly_job}
            times: dict[str, list[float]] = {name: [] for name in variants}
            night = FIRST_NIGHT
            for _ in range(REPEATS):
                for name, job_fn in variants.items():
                    env.plant_failed_logins(night, f"203.0.113.{night.day}")
                    chats_before = len(env.ollama.chats)
                    seconds, run_id = run_once(job_fn, night.isoformat())
                    asked = len(env.ollama.chats) - chats_before
                    workers = workers_used(run_id)
                    expected = {None} if name == "in_process" else set(nodes.values())
                    assert workers == expected, f"{name} ran its steps on {workers}, not {expected}"
                    assert asked >= 1, "the LLM was not asked: the run is not AMBER"
                    times[name].append(seconds)
                    print(
                        f"  {name:<11} {night} {seconds:6.2f} s  {asked} LLM chats, workers {sorted(map(str, workers))}"
                    )
                    night += timedelta(days=1)

    in_process, celery = (statistics.median(times[name]) for name in variants)
    report(
        "celery_overhead",
        [
            figure("in_process executor median wall", in_process, "s"),
            figure("celery executor (2 local workers) median wall", celery, "s"),
            figure("celery / in_process", celery / in_process, "ratio"),
        ],
    )


if __name__ == "__main__":
    main()
