"""outbox_sensor retries messages that Slack refused; briefing_after_failure_sensor sends the
morning message of a night whose run failed. Between them a morning message is never lost."""

import os
from pathlib import Path

import dagster as dg

from overnight_assets.briefing.failures import SectionFailure, first_line, run_url
from overnight_assets.resources.cortex import Cortex, CortexLockedError

SENSOR_LOCK_WAIT_S = 5.0


def build_outbox_sensor(delivery_job, token_env: str, cortex_path: Path) -> dg.SensorDefinition:
    @dg.sensor(
        name="outbox_sensor",
        job=delivery_job,
        minimum_interval_seconds=15 * 60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests morning_delivery for the newest message whose delivery failed, until it is delivered.",
    )
    def outbox_sensor(context: dg.SensorEvaluationContext):
        if not os.environ.get(token_env):
            return dg.SkipReason(f"Slack not configured ({token_env} unset): messages wait in the outbox")
        if not cortex_path.exists():
            return dg.SkipReason("No Cortex yet: nothing has been delivered or kept")
        try:  # a tick must stay short: a lock held elsewhere is waited out by the next tick, not this one
            with Cortex(cortex_path, lock_wait_s=SENSOR_LOCK_WAIT_S).connect(read_only=True) as db:
                row = db.execute(
                    "SELECT partition_key, attempts FROM deliveries WHERE pending AND attempts > 0 "
                    "ORDER BY partition_key DESC LIMIT 1"
                ).fetchone()
        except CortexLockedError as error:
            return dg.SkipReason(f"Cortex is busy; the next tick looks again: {error}")
        if row is None:
            return dg.SkipReason("Outbox empty")
        partition_key, attempts = row
        # delivering one partition flushes every pending message, oldest first
        return dg.RunRequest(run_key=f"outbox-{partition_key}-{attempts}", partition_key=partition_key)

    return outbox_sensor


# --- the morning message after a failed night ------------------------------------------------
#
# Why a run-failure sensor: within a run Dagster never executes a step whose upstream failed (an
# asset input cannot tolerate a failed upstream), so one failed section skips morning_briefing
# and morning_delivery. Making every section asset swallow its own errors instead would hide the
# failure from the UI, from retries and from the triage's failed-run collector. A run-failure
# sensor is Dagster's tool for reacting to a failed run: it launches a second, small run of
# `briefing_after_failure` (morning_briefing + morning_delivery) for the same partition. That
# briefing loads its sections as optional inputs, keeps only those the failed run materialized
# and names the others with the error read from the failed run's events. `overnight run`, which
# has no daemon, does the same itself (brief_after_failed_night).

AFTER_FAILURE_JOB = "briefing_after_failure"
AFTER_FAILED_RUN_TAG = "overnight/after_failed_run"  # the failed nightly run a briefing stands in for
BRIEFING = dg.AssetKey("morning_briefing")
DELIVERY = dg.AssetKey("morning_delivery")


def after_failure_job():
    return dg.define_asset_job(
        AFTER_FAILURE_JOB,
        selection=dg.AssetSelection.assets(BRIEFING, DELIVERY),
        description="The morning message for a partition whose nightly run failed: what did materialize, and what failed.",
    )


def build_failure_briefing_sensor(nightly_job, briefing_job) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="briefing_after_failure_sensor",
        monitored_jobs=[nightly_job],
        request_job=briefing_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="When a nightly run fails, sends that night's briefing anyway, naming the failed sections.",
    )
    def briefing_after_failure_sensor(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        if reason := no_briefing_needed(context.instance, run):
            return dg.SkipReason(reason)
        return dg.RunRequest(
            run_key=f"after-{run.run_id}",
            partition_key=run.tags["dagster/partition"],
            tags={AFTER_FAILED_RUN_TAG: run.run_id},
        )

    return briefing_after_failure_sensor


def no_briefing_needed(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """Why a failed nightly run needs no briefing of its own, or None when it does."""
    if "dagster/partition" not in run.tags:
        return f"Run {run.run_id} has no partition"
    if DELIVERY in instance.get_asset_keys_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        return f"Run {run.run_id} delivered its briefing before it failed"
    return None


def failures_in_run(
    instance: dg.DagsterInstance, run_id: str, section_names: list[str], ui_base_url: str
) -> list[SectionFailure]:
    """Every section the failed run did not materialize: FAILED with its error's first line, or
    NOT RUN with what stopped the run first."""
    entries = instance.all_logs(
        run_id,
        of_type={
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.STEP_FAILURE,
            dg.DagsterEventType.RUN_FAILURE,
        },
    )
    materialized, errors, run_error = set(), {}, None
    for entry in entries:
        event = entry.dagster_event
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialized.add(event.asset_key.path[-1])
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            errors[event.step_key] = first_line(_innermost_message(event.step_failure_data.error))
        else:
            run_error = first_line(entry.message or "")
    link = run_url(ui_base_url, run_id)
    stopped = f"{', '.join(errors)} failed first" if errors else f"the run failed before it: {run_error}"
    return [
        SectionFailure(name, "FAILED", errors[name], link)
        if name in errors
        else SectionFailure(name, "NOT RUN", stopped, link)
        for name in section_names
        if name not in materialized
    ]


def _innermost_message(error) -> str:
    """Dagster wraps a step's exception ("Error occurred while executing op ..."); the user's
    error is its cause."""
    while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    return error.message


def interrupted(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether the run failed because its process was told to stop (SIGTERM, SIGINT)."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
        failure = entry.dagster_event.event_specific_data
        if (
            failure is not None
            and failure.error is not None
            and failure.error.cls_name == "DagsterExecutionInterruptedError"
        ):
            return True
    return False
