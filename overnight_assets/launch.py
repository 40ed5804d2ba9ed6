"""Running the project's jobs from the command line, where no daemon is: the nightly job for one
partition, and the briefing of a night whose run failed."""

import dagster as dg

from overnight_assets.briefing.sensors import AFTER_FAILED_RUN_TAG, AFTER_FAILURE_JOB, interrupted, no_briefing_needed
from overnight_assets.operations.sensors import recover_dead_workers


def run_nightly(partition: str, tags: dict | None = None) -> bool:
    """Execute the nightly job for one partition in the instance at DAGSTER_HOME.

    Runs whose worker died on this host are failed first and their pool slots freed: without the
    daemon, nothing else would, and this night's LLM steps would wait for them for ever.
    """
    with dg.DagsterInstance.get() as instance:
        for line in recover_dead_workers(instance):
            print(f"overnight: {line}", flush=True)
        result = dg.execute_job(
            dg.reconstructable(nightly_job), instance=instance, tags={"dagster/partition": partition, **(tags or {})}
        )
        return result.success


def nightly_job():
    from overnight_assets.definitions import defs

    return defs.resolve_job_def("nightly")


def brief_after_failed_night(partition: str) -> bool:
    """`overnight run`'s stand-in for the sensor (no daemon there): after its nightly run for the
    partition failed, run briefing_after_failure for it. True when the briefing went out."""
    with dg.DagsterInstance.get() as instance:
        records = instance.get_run_records(
            filters=dg.RunsFilter(job_name="nightly", tags={"dagster/partition": partition}), limit=1
        )
        if not records or records[0].dagster_run.status != dg.DagsterRunStatus.FAILURE:
            return False
        failed = records[0].dagster_run
        if interrupted(instance, failed.run_id):  # the owner stopped this command: stop, don't brief
            print(
                f"overnight: the nightly run {failed.run_id} was interrupted by a signal: no briefing sent; "
                f"`overnight run --date {partition}` runs the night again"
            )
            return False
        if reason := no_briefing_needed(instance, failed):
            print(f"overnight: {reason}")
            return True
        result = dg.execute_job(
            dg.reconstructable(_after_failure_job),
            instance=instance,
            tags={"dagster/partition": partition, AFTER_FAILED_RUN_TAG: failed.run_id},
        )
        print(f"overnight: the nightly run {failed.run_id} failed; the briefing went out anyway (run {result.run_id})")
        return result.success


def _after_failure_job():
    from overnight_assets.definitions import defs

    return defs.resolve_job_def(AFTER_FAILURE_JOB)
