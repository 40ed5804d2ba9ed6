"""A red light beside security_triage: a collector that should have looked did not."""

import dagster as dg

from overnight_assets.asset_checks import check_result, night_check, recorded_metadata
from overnight_assets.config import TriageConfig
from overnight_assets.triage.health import collectors_verdict, enabled_collectors

TRIAGE = dg.AssetKey("security_triage")


def triage_checks(settings: TriageConfig, partitions: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    enabled = enabled_collectors(settings)

    @night_check(TRIAGE, partitions, "Every collector the config enables reported an outcome; a failed one warns.")
    def every_collector_reported(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        recorded = recorded_metadata(context, TRIAGE)
        return check_result(collectors_verdict(enabled, recorded and recorded.get("collectors")))

    return [every_collector_reported]
