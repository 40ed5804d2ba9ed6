"""Weeks of run history for the maintenance tests: tiny assets run in a real instance at chosen past times
(Dagster's own freeze_time), one of them re-executed the way the UI does it."""

import threading
from datetime import datetime

import dagster as dg
from dagster._core.storage.tags import PARENT_RUN_ID_TAG, PARTITION_NAME_TAG, ROOT_RUN_ID_TAG
from dagster._core.test_utils import freeze_time

DIGEST, LEDGER = dg.AssetKey("digest"), dg.AssetKey("ledger")
daily = dg.DailyPartitionsDefinition(start_date="2026-01-01")
in_progress = threading.Event()  # a "hang" run is inside its step
finish = threading.Event()  # ...until this is set


@dg.asset(partitions_def=daily)
def digest(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    if context.run.tags.get("plant") == "failure":
        raise RuntimeError("planted failure")
    if context.run.tags.get("plant") == "hang":
        in_progress.set()
        assert finish.wait(timeout=120), "the test never let the run finish"
    print(f"digest of {context.partition_key}")  # captured output: a file under storage/<run_id>/
    return dg.MaterializeResult(metadata={"partition": context.partition_key})


@dg.asset
def ledger() -> dg.MaterializeResult:
    return dg.MaterializeResult()


def digest_job() -> dg.JobDefinition:
    return dg.Definitions(
        assets=[digest],
        jobs=[dg.define_asset_job("digest_job", selection=[digest], executor_def=dg.in_process_executor)],
    ).resolve_job_def("digest_job")


def run(instance: dg.DagsterInstance, asset, when: datetime, partition: str | None = None, plant: str = "") -> str:
    with freeze_time(when):
        result = dg.materialize(
            [asset],
            instance=instance,
            partition_key=partition,
            tags={"plant": plant} if plant else None,
            raise_on_error=False,
        )
    return result.run_id


def run_and_reexecute(
    instance: dg.DagsterInstance, first: datetime, again: datetime, partition: str
) -> tuple[str, str]:
    """A run of the digest, and its re-execution as the UI's "Re-execute all" records it: execute_job sets the
    run's root and parent but not the tags the UI (create_reexecuted_run) adds, by which the group is found."""
    job = dg.reconstructable(digest_job)
    with freeze_time(first), dg.execute_job(job, instance, tags={PARTITION_NAME_TAG: partition}) as result:
        root = result.run_id
    tags = {PARTITION_NAME_TAG: partition, ROOT_RUN_ID_TAG: root, PARENT_RUN_ID_TAG: root}
    options = dg.ReexecutionOptions(parent_run_id=root)
    with freeze_time(again), dg.execute_job(job, instance, tags=tags, reexecution_options=options) as result:
        assert result.success
        return root, result.run_id
