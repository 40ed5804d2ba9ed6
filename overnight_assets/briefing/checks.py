"""Red lights beside the morning: a briefing that leaves a section out, a message that went
nowhere; and the freshness policy that says when morning_delivery is late."""

from datetime import timedelta

import dagster as dg

from overnight_assets.asset_checks import check_result, night_check, recorded_metadata
from overnight_assets.briefing.health import briefing_verdict, delivery_verdict
from overnight_assets.briefing.sensors import BRIEFING, DELIVERY
from overnight_assets.config import Paths

# a delivery counts for the morning when it happened in this window before `alerts.briefing_by`:
# the night's run, however early it is scheduled, and never yesterday morning's
DELIVERY_WINDOW = timedelta(hours=12)


def briefing_checks(
    partitions: dg.PartitionsDefinition, section_assets: list[dg.AssetKey], paths: Paths
) -> list[dg.AssetChecksDefinition]:
    section_keys = [key.path[-1] for key in section_assets]

    @night_check(BRIEFING, partitions, "The briefing is not empty and names every section, a failed one too.")
    def names_every_section(morning_briefing: dict) -> dg.AssetCheckResult:
        return check_result(briefing_verdict(morning_briefing, section_keys))

    @night_check(DELIVERY, partitions, "The message was delivered, or waits in the outbox with a reason.")
    def delivered_or_kept(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        in_outbox = (paths.outbox / f"{context.partition_key}.json").exists()
        return check_result(delivery_verdict(context.partition_key, recorded_metadata(context, DELIVERY), in_outbox))

    return [names_every_section, delivered_or_kept]


def delivered_by(briefing_by: str, timezone: str) -> dg.FreshnessPolicy:
    """morning_delivery is fresh when it materialized within DELIVERY_WINDOW before the daily
    deadline (`alerts.briefing_by`, HH:MM in the config's timezone); the daemon evaluates it."""
    hours, minutes = briefing_by.split(":")
    return dg.FreshnessPolicy.cron(
        deadline_cron=f"{int(minutes)} {int(hours)} * * *", lower_bound_delta=DELIVERY_WINDOW, timezone=timezone
    )
