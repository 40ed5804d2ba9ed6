"""The Sunday chain's weeks: Monday 00:00 to the next Monday 00:00 in the configured timezone,
named by their Monday (`YYYY-MM-DD`, as Dagster's weekly partitions with day_offset=1 name them).

The weekly schedule fires on Sunday morning (`schedules.weekly`) and runs the week that ends that
Sunday: still going when it runs, which is why its partition exists early (end_offset=1). A tick
on any other day runs the last week that ended on or before that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SUNDAY = 6  # date.weekday()


@dataclass(frozen=True)
class Week:
    monday: date

    @classmethod
    def of_key(cls, key: str) -> Week:
        return cls.containing(date.fromisoformat(key))

    @classmethod
    def containing(cls, day: date) -> Week:
        return cls(day - timedelta(days=day.weekday()))

    @property
    def key(self) -> str:
        return self.monday.isoformat()

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def nights(self) -> list[str]:
        """The nightly partitions (days) the week holds, Monday to Sunday."""
        return [(self.monday + timedelta(days=offset)).isoformat() for offset in range(7)]

    def window(self, timezone: str) -> tuple[datetime, datetime]:
        """[Monday 00:00, next Monday 00:00), aware, in `timezone` (168 hours but at a DST change)."""
        tz = ZoneInfo(timezone)
        return (
            datetime.combine(self.monday, time(), tz),
            datetime.combine(self.monday + timedelta(days=7), time(), tz),
        )

    def __str__(self) -> str:
        return f"{self.monday:%d %b} to {self.sunday:%d %b %Y}"


def week_ending_by(tick: datetime, timezone: str) -> Week:
    """The week a weekly tick runs: the one ending on the last Sunday on or before the tick's local day."""
    local = tick.astimezone(ZoneInfo(timezone)).date()
    sunday = local - timedelta(days=(local.weekday() - SUNDAY) % 7)
    return Week.containing(sunday)
