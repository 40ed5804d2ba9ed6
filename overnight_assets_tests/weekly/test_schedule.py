"""The weekly schedule runs the week that ends on the Sunday it fires, in the configured timezone."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from overnight_assets.config import load_config
from overnight_assets.definitions import build_defs
from overnight_assets.weekly.assets import weekly_partitions
from overnight_assets.weekly.weeks import Week, week_ending_by


def weekly_defs(tmp_path, timezone: str, cron: str, grace_hours: float = 100000, first_night: str = "2026-01-01"):
    # a grace of about 11 years: these fixed ticks in the past still run (the grace is tested below)
    path = tmp_path / "overnight.yaml"
    path.write_text(
        f'timezone: {timezone}\nfirst_night: "{first_night}"\nhome: {tmp_path}\n'
        f'schedules: {{weekly: "{cron}", grace_hours: {grace_hours}}}\n'
    )
    config = load_config(path)
    return config, build_defs(config)


def evaluate(defs: dg.Definitions, tick: datetime):
    schedule = defs.resolve_schedule_def("weekly_schedule")
    with dg.build_schedule_context(scheduled_execution_time=tick, repository_def=defs.get_repository_def()) as context:
        return schedule.evaluate_tick(context)


@pytest.mark.parametrize(
    "timezone, cron, tick, week",
    [
        # the default: Sunday 05:00 in Bucharest (03:00 UTC) runs Monday 16 .. Sunday 22 November
        ("Europe/Bucharest", "0 5 * * 0", datetime(2026, 11, 22, 3, 0, tzinfo=UTC), "2026-11-16"),
        # just after midnight on Sunday in Auckland is still Saturday in UTC: the local Sunday counts
        ("Pacific/Auckland", "30 0 * * 0", datetime(2026, 11, 21, 11, 30, tzinfo=UTC), "2026-11-16"),
        # late on Sunday in Los Angeles is Monday in UTC: still the week ending that Sunday
        ("America/Los_Angeles", "30 23 * * 0", datetime(2026, 11, 23, 7, 30, tzinfo=UTC), "2026-11-16"),
        # a Monday tick runs the week that ended the day before
        ("Pacific/Auckland", "0 6 * * 1", datetime(2026, 11, 22, 17, 0, tzinfo=UTC), "2026-11-16"),
        # the week of a change to winter time in Bucharest (Sunday 25 October 2026)
        ("Europe/Bucharest", "0 5 * * 0", datetime(2026, 10, 25, 4, 0, tzinfo=UTC), "2026-10-19"),
    ],
)
def test_a_tick_runs_the_week_ending_on_its_sunday(tmp_path, timezone, cron, tick, week):
    config, defs = weekly_defs(tmp_path, timezone, cron)
    schedule = defs.resolve_schedule_def("weekly_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == (cron, timezone, "weekly")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    request = evaluate(defs, tick).run_requests[0]
    assert (request.partition_key, request.run_key) == (week, week)
    # the partition exists at the tick, though its week is not over yet
    partitions = weekly_partitions(config)
    assert week in partitions.get_partition_keys(current_time=tick)
    window = partitions.time_window_for_partition_key(week)
    assert window.start.tzinfo is not None and window.start.strftime("%A %H:%M") == "Monday 00:00"
    assert (window.start.date(), window.end.date()) == (
        date.fromisoformat(week),
        date.fromisoformat(week) + timedelta(7),
    )
    local_day, sunday = tick.astimezone(window.start.tzinfo).date(), window.end.date() - timedelta(days=1)
    assert sunday.weekday() == 6 and 0 <= (local_day - sunday).days < 7
    assert local_day.weekday() != 6 or local_day == sunday  # a Sunday tick: the week ending that very day


def test_the_week_is_monday_to_sunday_in_the_timezone():
    week = week_ending_by(datetime(2026, 11, 21, 11, 30, tzinfo=UTC), "Pacific/Auckland")
    assert (week.key, week.sunday.isoformat()) == ("2026-11-16", "2026-11-22")
    assert week.nights == [f"2026-11-{day}" for day in range(16, 23)]
    start, end = Week.of_key("2026-10-19").window("Europe/Bucharest")
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(
        hours=169
    )  # the change to winter time: an hour more


def test_a_late_tick_is_skipped_with_the_command_that_runs_the_week(tmp_path):
    _, defs = weekly_defs(tmp_path, "Europe/Bucharest", "0 5 * * 0", grace_hours=4)
    tick = datetime.now(UTC) - timedelta(days=3)
    result = evaluate(defs, tick)
    assert not result.run_requests
    reason = result.skip_message
    assert "Skipped the week of" in reason and "3.0 days late" in reason and "grace_hours is 4" in reason
    assert "dagster job backfill -j weekly --partitions " in reason


def test_a_tick_within_the_grace_runs(tmp_path):
    _, defs = weekly_defs(tmp_path, "Europe/Bucharest", "0 5 * * 0", grace_hours=4)
    tick = datetime.now(UTC) - timedelta(minutes=5)
    assert evaluate(defs, tick).run_requests[0].partition_key == week_ending_by(tick, "Europe/Bucharest").key


def test_a_week_before_first_night_is_skipped(tmp_path):
    _, defs = weekly_defs(tmp_path, "Europe/Bucharest", "0 5 * * 0", first_night="2026-11-23")
    result = evaluate(defs, datetime(2026, 11, 22, 3, 0, tzinfo=UTC))
    assert not result.run_requests and "before first_night" in result.skip_message
