"""Nights the chain missed: a late tick is skipped, not run, and the skipped nights are listed with
the one command that fills them.

Dagster's schedule daemon, started after downtime, evaluates each tick it missed since its last
iteration (at most `max_catchup_runs` of them, the newest; 5 by default), each with its own
scheduled time; a schedule without partitions would get only the newest. Run late, a nightly tick
would send a morning briefing in the afternoon, or several at once. So a tick evaluated more than
`schedules.grace_hours` after its time is skipped with a reason, and its night stays a missing
partition until backfilled.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

NIGHTLY_JOB = "nightly"


def late_tick_reason(scheduled: datetime, now: datetime, grace_hours: float, night: str, backfill: str) -> str | None:
    """Why a tick evaluated at `now` is skipped, or None when it is within its grace period."""
    late = now - scheduled
    if late <= timedelta(hours=grace_hours):
        return None
    return (
        f"Skipped the night of {night}: the tick of {scheduled:%Y-%m-%d %H:%M %Z} came {_hours(late)} late "
        f"(schedules.grace_hours is {grace_hours:g}); the machine was probably off. "
        f"`overnight gaps` lists the missed nights; to run this one: {backfill}"
    )


def missing_nights(nights: Sequence[str], materialized: Iterable[set[str]]) -> list[str]:
    """The nights some asset has no materialization for (each set: one asset's materialized nights)."""
    done = list(materialized)
    return [night for night in nights if not all(night in partitions for partitions in done)]


def backfill_command(nights: Sequence[str], location: Sequence[str]) -> str:
    """The dagster CLI command that backfills the nightly job for `nights` (the daemon runs it).

    `location`: the flags naming the code location as the daemon loads it, e.g. `-w workspace.yaml`.
    """
    command = ["dagster", "job", "backfill", *location, "-j", NIGHTLY_JOB, "--partitions", ",".join(nights)]
    return shlex.join([*command, "--noprompt"])


def _hours(late: timedelta) -> str:
    hours = late.total_seconds() / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"
