"""A schedule's tick evaluated long after its time is skipped, not run, with a reason.

After downtime Dagster's daemon evaluates a schedule's latest missed tick at once, with its own
scheduled time (operations/gaps.py says how): a 03:00 briefing would go out at 14:00. Every
schedule of the chain (nightly, weekly) therefore returns a SkipReason built here when its tick
comes more than `schedules.grace_hours` late.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def late_tick_skip(scheduled: datetime, now: datetime, grace_hours: float, skipped: str, fill: str) -> str | None:
    """Why a tick evaluated at `now` is skipped (`skipped`: what it would have run; `fill`: how to
    run it by hand), or None when it is within its grace period."""
    late = now - scheduled
    if late <= timedelta(hours=grace_hours):
        return None
    return (
        f"Skipped {skipped}: the tick of {scheduled:%Y-%m-%d %H:%M %Z} came {_hours(late)} late "
        f"(schedules.grace_hours is {grace_hours:g}); the machine was probably off. {fill}"
    )


def _hours(late: timedelta) -> str:
    hours = late.total_seconds() / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"
