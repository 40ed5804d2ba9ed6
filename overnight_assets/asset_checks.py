"""What every domain's checks.py shares: a check of one night's partition, which reads what its
asset recorded for that night and reports a plain Verdict as Dagster's AssetCheckResult.

The checks are partitioned like their assets (a preview feature in Dagster 1.13), so the UI shows
a light per night and a check's input loads the night's value, not every partition's. None is
blocking: a red light never stops the morning message.
"""

import warnings
from typing import Any

import dagster as dg

from overnight_assets.verdict import Verdict

PREVIEW_WARNING = "Specifying a partitions_def on an AssetCheckSpec"


def night_check(asset: dg.AssetKey, partitions: dg.PartitionsDefinition, description: str):
    """The decorator of a check on one night of a nightly asset."""

    def decorate(fn):
        with warnings.catch_warnings():  # opted into on purpose (above): not a warning on every command
            warnings.filterwarnings("ignore", PREVIEW_WARNING, dg.PreviewWarning)
            return dg.asset_check(asset=asset, partitions_def=partitions, description=description, blocking=False)(fn)

    return decorate


def check_result(verdict: Verdict) -> dg.AssetCheckResult:
    severity = dg.AssetCheckSeverity.WARN if verdict.severity == "warn" else dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckResult(
        passed=verdict.passed, severity=severity, description=verdict.description, metadata=verdict.metadata
    )


def recorded_metadata(context: dg.AssetCheckExecutionContext, asset: dg.AssetKey) -> dict[str, Any] | None:
    """The metadata of the asset's latest materialization of the checked night, as plain values;
    None when that night was never materialized."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[context.partition_key]), limit=1
    ).records
    if not records:
        return None
    return {name: value.value for name, value in records[0].asset_materialization.metadata.items()}
