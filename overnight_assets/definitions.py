"""The code location: merges each domain's Definitions, built from the one overnight.yaml."""

from datetime import UTC, datetime

import dagster as dg

from overnight_assets.briefing.assets import build_briefing_defs
from overnight_assets.briefing.sensors import (
    after_failure_job,
    build_alert_sensors,
    build_failure_briefing_sensor,
    build_outbox_sensor,
)
from overnight_assets.code_review.assets import build_code_review_defs
from overnight_assets.config import OvernightConfig, load_config
from overnight_assets.gpu import build_operations_defs
from overnight_assets.memory.assets import build_consolidation_defs, build_memory_defs
from overnight_assets.operations.assets import build_maintenance_defs
from overnight_assets.operations.celery_executor import build_executor
from overnight_assets.operations.executor import pool_care_in_process_executor
from overnight_assets.operations.gaps import late_tick_reason
from overnight_assets.operations.sensors import build_dead_worker_sensor
from overnight_assets.partitions import night_partition, nightly_partitions
from overnight_assets.reading.assets import build_reading_defs
from overnight_assets.resources.dagster_resources import build_resources
from overnight_assets.section import SECTION_TAG
from overnight_assets.triage.assets import build_triage_defs
from overnight_assets.weekly.assets import build_weekly_defs

NIGHTLY = dg.AssetSelection.groups("nightly")


def section_keys(*domains: dg.Definitions) -> list[dg.AssetKey]:
    return [
        spec.key
        for domain in domains
        for asset in domain.assets or []
        for spec in asset.specs
        if SECTION_TAG in spec.tags
    ]


def build_defs(config: OvernightConfig) -> dg.Definitions:
    daily = nightly_partitions(config)
    workers = [
        build_operations_defs(daily),
        build_triage_defs(config.triage, daily),
        build_reading_defs(config.reading, daily),
        build_code_review_defs(config.code_review, config.paths.repos, daily),
    ]
    nightly_job = dg.define_asset_job(
        "nightly",
        selection=NIGHTLY,
        description="The whole night for one partition: triage, reading, code review, the briefing, its delivery "
        "and the cerebellum's reinforcement.",
    )
    delivery_job = dg.define_asset_job(
        "deliver_outbox",
        selection="morning_delivery",
        description="Delivers what waits in the outbox, oldest first; launched by outbox_sensor.",
    )
    # a failed nightly run's briefing, launched by the sensor below; in-process even in celery mode, so
    # that what failed the night (a broker down, a worker gone) cannot keep its briefing from going out
    briefing_job = after_failure_job(pool_care_in_process_executor)

    @dg.schedule(
        name="nightly_schedule",
        cron_schedule=config.schedules.nightly,
        execution_timezone=config.timezone,
        job=nightly_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Materializes the night's partition (the last complete day) at the configured time; "
        "a tick more than schedules.grace_hours late (the machine was off) is skipped, not run.",
    )
    def nightly_schedule(context: dg.ScheduleEvaluationContext):
        partition_key = night_partition(context.scheduled_execution_time, config.timezone)
        if partition_key < config.first_night.isoformat():
            return dg.SkipReason(f"The night of {partition_key} is before first_night ({config.first_night})")
        backfill = f"overnight run --date {partition_key}"
        late = late_tick_reason(
            context.scheduled_execution_time, datetime.now(UTC), config.schedules.grace_hours, partition_key, backfill
        )
        return dg.SkipReason(late) if late else dg.RunRequest(run_key=partition_key, partition_key=partition_key)

    return dg.Definitions.merge(
        *workers,
        build_briefing_defs(daily, section_keys(*workers), config.paths, config.ui.base_url, config.alerts.briefing_by),
        build_maintenance_defs(config.retention, config.schedules.maintenance, config.timezone),
        build_memory_defs(config.memory, daily),
        build_weekly_defs(config),
        build_consolidation_defs(config.memory, daily),
        dg.Definitions(
            jobs=[nightly_job, delivery_job, briefing_job],
            schedules=[nightly_schedule],
            sensors=[
                build_outbox_sensor(delivery_job, config.slack.token_env, config.paths),
                build_failure_briefing_sensor(nightly_job, briefing_job),
                build_dead_worker_sensor(),
                *build_alert_sensors(config.alerts, config.timezone, config.paths, config.ui.base_url),
            ],
            resources=build_resources(config),
            executor=build_executor(config.execution),  # in-process unless execution.mode says celery
        ),
    )


defs = build_defs(load_config())
