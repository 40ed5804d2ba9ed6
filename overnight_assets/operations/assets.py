"""The weekly maintenance: the `retention` asset, its job and schedule, and the instance calls it makes.

The rules (which runs, ticks and Cortex rows go, and why the others stay) are in retention.py.
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import ROOT_RUN_ID_TAG

from overnight_assets.config import RetentionConfig
from overnight_assets.operations.retention import (
    FINISHED,
    Cutoffs,
    Removed,
    prune_cortex_or_skip,
    removable_runs,
    tick_purges,
)
from overnight_assets.resources.dagster_resources import CortexResource

_ASSET_EVENTS = {
    dg.DagsterEventType.ASSET_MATERIALIZATION: dg.DagsterInstance.fetch_materializations,
    dg.DagsterEventType.ASSET_OBSERVATION: dg.DagsterInstance.fetch_observations,
}
_TICKS = {"schedule_ticks_deleted": "SCHEDULE", "sensor_ticks_deleted": "SENSOR"}  # InstigatorType names
_CHUNK = 500  # ids per query: well inside SQLite's limit on bound parameters


def _chunks(ids: list) -> list[list]:
    return [ids[start : start + _CHUNK] for start in range(0, len(ids), _CHUNK)]


def prune_runs(instance: dg.DagsterInstance, before: datetime) -> dict[str, int]:
    """Delete the finished runs created before `before` that retention.removable_runs lets go."""
    statuses = [dg.DagsterRunStatus(status) for status in FINISHED]
    candidates = instance.get_run_ids(filters=dg.RunsFilter(statuses=statuses, created_before=before))
    going = removable_runs(candidates, runs_holding_latest_asset_events(instance), group_roots(instance, candidates))
    for run_id in going:
        delete_run(instance, run_id)
    return {"runs_deleted": len(going), "old_runs_kept": len(candidates) - len(going)}


def runs_holding_latest_asset_events(instance: dg.DagsterInstance) -> set[str]:
    """Every run that holds the latest materialization or observation of an asset, or of one of its partitions."""
    run_ids = set()
    for asset_key in instance.get_asset_keys():
        for event_type, fetch in _ASSET_EVENTS.items():
            records = list(fetch(instance, asset_key, limit=1).records)  # the latest of all: an unpartitioned asset's
            latest = sorted(instance.get_latest_storage_id_by_partition(asset_key, event_type).values())
            for chunk in _chunks(latest):
                query = dg.AssetRecordsFilter(asset_key=asset_key, storage_ids=chunk)
                records += fetch(instance, query, limit=len(chunk)).records
            run_ids |= {record.run_id for record in records}
    return run_ids


def group_roots(instance: dg.DagsterInstance, run_ids: list[str]) -> dict[str, str]:
    """Run id -> root, for every run in a re-execution group whose root is one of `run_ids`."""
    roots = {}
    for chunk in _chunks(run_ids):
        for run in instance.get_runs(filters=dg.RunsFilter(tags={ROOT_RUN_ID_TAG: chunk})):
            roots[run.run_id] = run.tags[ROOT_RUN_ID_TAG]
    return roots


def delete_run(instance: dg.DagsterInstance, run_id: str) -> None:
    instance.delete_run(run_id)  # the run, its whole event log (asset events included), any pool slot it held
    instance.compute_log_manager.delete_logs(prefix=[run_id])  # its captured stdout/stderr
    from dagster._core.storage.event_log import SqliteEventLogStorage  # here: sqlalchemy and alembic load late

    storage = instance.event_log_storage
    if isinstance(storage, SqliteEventLogStorage):  # one file per run there: delete_run empties it, keeps it
        shard = storage.path_for_shard(run_id)
        for path in (shard, f"{shard}-wal", f"{shard}-shm"):
            Path(path).unlink(missing_ok=True)


def purge_ticks(instance: dg.DagsterInstance, now: datetime) -> dict[str, int]:
    """Apply dagster.yaml's tick retention to every schedule and sensor the instance knows, stopped ones too."""
    # here, not at import: the scheduler's modules are slow to load, and every process loads this file
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import TickStatus

    removed = {}
    for kind, type_name in _TICKS.items():
        instigator_type = InstigatorType[type_name]
        days = {status.value: days for status, days in instance.get_tick_retention_settings(instigator_type).items()}
        removed[kind] = 0
        for state in instance.all_instigator_state(instigator_type=instigator_type):
            for statuses, before in tick_purges(days, now):
                where = (state.instigator_origin_id, state.selector_id)
                tick_statuses = [TickStatus(status) for status in statuses]
                going = instance.get_tick_summaries(*where, before=before.timestamp(), statuses=tick_statuses)
                instance.purge_ticks(*where, before=before.timestamp(), tick_statuses=tick_statuses)
                removed[kind] += len(going)
    return removed


def build_maintenance_defs(policy: RetentionConfig, cron: str, timezone: str) -> dg.Definitions:

    @dg.asset(
        group_name="operations",
        kinds={"dagster", "duckdb"},
        description=(
            f"Weekly retention: finished runs older than {policy.runs_days} days with their event logs (never one "
            "still running, nor one holding an asset's latest materialization), schedule and sensor ticks by "
            f"dagster.yaml's retention settings, Cortex caches unused for {policy.cache_days} days and feed items "
            f"gone from their feed for {policy.feed_items_days} days. Its metadata counts what went."
        ),
    )
    def retention(context: dg.AssetExecutionContext, cortex: CortexResource) -> dg.MaterializeResult:
        now = datetime.now(UTC)
        cutoffs = Cutoffs.of(policy, now)
        removed = Removed()
        removed.add(prune_runs(context.instance, cutoffs.runs))
        removed.add(purge_ticks(context.instance, now))
        prune_cortex_or_skip(cortex.get(), cutoffs, removed)
        for part, reason in removed.skipped.items():
            context.log.warning(f"{part} skipped this week: {reason}")
        context.log.info(f"Retention removed {removed.summary()}")
        return dg.MaterializeResult(
            metadata={
                **removed.counts,
                **{f"{part}_skipped": reason for part, reason in removed.skipped.items()},
                "summary": removed.summary(),
            }
        )

    maintenance = dg.define_asset_job(
        "maintenance", selection=[retention], description="The weekly retention of runs, ticks and Cortex."
    )
    schedule = dg.ScheduleDefinition(
        name="maintenance_schedule",
        job=maintenance,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Runs the retention weekly, at schedules.maintenance.",
    )
    return dg.Definitions(assets=[retention], jobs=[maintenance], schedules=[schedule])
