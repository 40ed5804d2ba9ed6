"""Daily partitions in the configured timezone: partition D covers D 00:00 to D+1 00:00."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from overnight_assets.config.schema import DEFAULT_FIRST_NIGHT, OvernightConfig

FIRST_NIGHT = DEFAULT_FIRST_NIGHT.isoformat()


def daily_partitions(timezone: str, start_date: str = FIRST_NIGHT) -> dg.DailyPartitionsDefinition:
    # end_offset=1: today's partition exists too, so the new-commits sensor can review today's
    # commits as they land; the nightly schedule still materializes only complete days.
    return dg.DailyPartitionsDefinition(start_date=start_date, timezone=timezone, end_offset=1)


def nightly_partitions(config: OvernightConfig) -> dg.DailyPartitionsDefinition:
    """The partitions every process builds from the same file: from `first_night` to today."""
    return daily_partitions(config.timezone, config.first_night.isoformat())


@dataclass(frozen=True)
class Night:
    """One partition of the nightly chain: its key and its window [start, end), aware, in the
    partitions' timezone. The window runs from midnight to midnight on the wall clock, so a day
    that changes to or from summer time is 23 or 25 hours long."""

    partition_key: str
    start: datetime
    end: datetime
    timezone: str

    @classmethod
    def of(cls, context: dg.AssetExecutionContext) -> Night:
        """The night an asset materializes, from Dagster's own window for its partition."""
        window = context.partition_time_window
        return cls(context.partition_key, window.start, window.end, context.assets_def.partitions_def.timezone)

    @classmethod
    def of_partition(cls, partitions: dg.TimeWindowPartitionsDefinition, partition_key: str) -> Night:
        """The same night outside a run (benchmarks, tests): the window Dagster gives the asset."""
        window = partitions.time_window_for_partition_key(partition_key)
        return cls(partition_key, window.start, window.end, partitions.timezone)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def today_partition(now: datetime, timezone: str) -> str:
    return now.astimezone(ZoneInfo(timezone)).date().isoformat()


def night_partition(tick: datetime, timezone: str) -> str:
    """The partition a nightly tick materializes: the last complete day before the tick."""
    local = tick.astimezone(ZoneInfo(timezone))
    return (local.date() - timedelta(days=1)).isoformat()
