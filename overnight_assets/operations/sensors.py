"""Dead run workers: find them, mark their runs failed, free their pool slots (every minute, and before `overnight run`)."""

from __future__ import annotations

import dagster as dg

from overnight_assets.operations.run_workers import WORKER_TAG, Host, Worker, dead_worker_reason

UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def recover_dead_workers(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed every unfinished run whose worker on this host is gone, and free its pool slots.

    Returns one line per run recovered. Runs from another host, runs whose worker lives and runs
    without a worker record (their pid's host is unknown) are left alone: for those, dagster.yaml's
    max_runtime_seconds stays the backstop.
    """
    host = Host.here()
    recovered = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED)):
        worker = Worker.from_tag(run.tags.get(WORKER_TAG))
        why = host.why_gone(worker)
        if worker is None or why is None:
            continue
        current = instance.get_run_by_id(run.run_id)
        if (
            current is None or current.status not in UNFINISHED
        ):  # recovered meanwhile by the sensor or another `overnight run`
            continue
        reason = dead_worker_reason(worker, why, _pools_held(instance, run.run_id))
        instance.report_run_failed(current, reason)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        recovered.append(f"run {run.run_id}: {reason}")
    return recovered


def _pools_held(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    storage = instance.event_log_storage
    if run_id not in storage.get_concurrency_run_ids():
        return []
    infos = storage.get_concurrency_infos(sorted(storage.get_concurrency_keys()))
    return [pool for pool, info in infos.items() for slot in info.claimed_slots if slot.run_id == run_id]


def build_dead_worker_sensor() -> dg.SensorDefinition:
    @dg.sensor(
        name="dead_worker_sensor",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Every minute: a started run whose worker process on this host is gone (killed, OOM, reboot) "
            "is marked failed and its pool slots are freed, so the gpu pool never stays blocked."
        ),
    )
    def dead_worker_sensor(context: dg.SensorEvaluationContext):
        recovered = recover_dead_workers(context.instance)
        for line in recovered:
            context.log.warning(line)
        return dg.SkipReason("; ".join(recovered) or "no run with a dead worker on this host")

    return dead_worker_sensor
