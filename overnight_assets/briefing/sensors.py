"""outbox_sensor: retries messages that Slack refused, so a morning message is never lost."""


import os

import dagster as dg

from overnight_assets.config import OvernightConfig
from overnight_assets.resources.cortex import Cortex


def build_outbox_sensor(config: OvernightConfig, delivery_job) -> dg.SensorDefinition:
    @dg.sensor(
        name="outbox_sensor",
        job=delivery_job,
        minimum_interval_seconds=15 * 60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests morning_delivery for the newest message whose delivery failed, until it is delivered.",
    )
    def outbox_sensor(context: dg.SensorEvaluationContext):
        if not os.environ.get(config.slack.token_env):
            return dg.SkipReason(f"Slack not configured ({config.slack.token_env} unset): messages wait in the outbox")
        cortex_path = config.home_path / "cortex.duckdb"
        if not cortex_path.exists():
            return dg.SkipReason("No Cortex yet: nothing has been delivered or kept")
        with Cortex(cortex_path).connect(read_only=True) as db:
            row = db.execute(
                "SELECT partition_key, attempts FROM deliveries WHERE pending AND attempts > 0 "
                "ORDER BY partition_key DESC LIMIT 1"
            ).fetchone()
        if row is None:
            return dg.SkipReason("Outbox empty")
        partition_key, attempts = row
        # delivering one partition flushes every pending message, oldest first
        return dg.RunRequest(run_key=f"outbox-{partition_key}-{attempts}", partition_key=partition_key)

    return outbox_sensor
