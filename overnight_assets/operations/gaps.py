"""Nights the chain missed: a late tick is skipped, not run, and the skipped nights are listed with
the one command that fills them.

What Dagster 1.13's schedule daemon does after downtime (dagster/_scheduler/scheduler.py,
`launch_scheduled_runs_for_schedule_iterator`): it collects the ticks missed since the schedule's
last tick or recorded iteration, and, since a schedule's snapshot carries no partition set
(`ScheduleSnap.from_def` sets `partition_set_name=None`), keeps only the newest of them ("has no
partition set, so not trying to catch up"; `max_catchup_runs` does not apply). It evaluates that
one tick at once, with its own scheduled time: at 14:00 for a 03:00 tick. So a tick evaluated more
than `schedules.grace_hours` after its time is skipped with a reason; its night, like any older
missed night the daemon never evaluates, stays a missing partition until backfilled.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from datetime import datetime

from overnight_assets.late_ticks import late_tick_skip

NIGHTLY_JOB = "nightly"


def late_tick_reason(scheduled: datetime, now: datetime, grace_hours: float, night: str, backfill: str) -> str | None:
    """Why a nightly tick evaluated at `now` is skipped, or None when it is within its grace period."""
    fill = f"`overnight gaps` lists the missed nights; to run this one: {backfill}"
    return late_tick_skip(scheduled, now, grace_hours, f"the night of {night}", fill)


def missing_nights(nights: Sequence[str], materialized: Iterable[set[str]]) -> list[str]:
    """The nights some asset has no materialization for (each set: one asset's materialized nights)."""
    done = list(materialized)
    return [night for night in nights if not all(night in partitions for partitions in done)]


def backfill_command(nights: Sequence[str], location: Sequence[str], dagster: str = "dagster") -> str:
    """The dagster CLI command that backfills the nightly job for `nights` (the daemon runs it).

    `location`: the flags naming the code location as the daemon loads it, e.g. `-w workspace.yaml`;
    `dagster`: the CLI to call, e.g. the one installed beside this `overnight` (its venv may not be on PATH).
    """
    command = [dagster, "job", "backfill", *location, "-j", NIGHTLY_JOB, "--partitions", ",".join(nights)]
    return shlex.join([*command, "--noprompt"])
