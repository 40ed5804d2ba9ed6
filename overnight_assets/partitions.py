"""Daily partitions in the configured timezone: partition D covers D 00:00 to D+1 00:00."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

FIRST_NIGHT = "2026-01-01"


def daily_partitions(timezone: str, start_date: str = FIRST_NIGHT) -> dg.DailyPartitionsDefinition:
    # end_offset=1: today's partition exists too, so the new-commits sensor can review today's
    # commits as they land; the nightly schedule still materializes only complete days.
    return dg.DailyPartitionsDefinition(start_date=start_date, timezone=timezone, end_offset=1)


def partition_window(partition_key: str, timezone: str) -> tuple[datetime, datetime]:
    start = datetime.strptime(partition_key, "%Y-%m-%d").replace(tzinfo=ZoneInfo(timezone))
    return start, start + timedelta(days=1)  # aware arithmetic is wall-clock: DST days are 23 or 25 h


def today_partition(now: datetime, timezone: str) -> str:
    return now.astimezone(ZoneInfo(timezone)).date().isoformat()


def night_partition(tick: datetime, timezone: str) -> str:
    """The partition a nightly tick materializes: the last complete day before the tick."""
    local = tick.astimezone(ZoneInfo(timezone))
    return (local.date() - timedelta(days=1)).isoformat()
