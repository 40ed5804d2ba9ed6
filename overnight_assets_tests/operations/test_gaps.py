"""Missed nights: a tick past its grace period is skipped with its reason, inside it runs; the
gaps are listed with a backfill command the dagster CLI accepts."""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from overnight_assets.config import load_config
from overnight_assets.definitions import build_defs
from overnight_assets.operations.gaps import backfill_command, late_tick_reason, missing_nights
from overnight_assets_tests.testkit import REPO
from overnight_assets_tests.testkit.config import write_config

TICK = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)  # 03:00 in Bucharest


def test_a_tick_within_grace_runs_and_a_late_one_says_why_and_how_to_fill_it():
    assert late_tick_reason(TICK, TICK + timedelta(hours=3, minutes=59), 4, "2026-11-20", "cmd") is None
    reason = late_tick_reason(TICK, TICK + timedelta(hours=11), 4, "2026-11-20", "overnight run --date 2026-11-20")
    assert "night of 2026-11-20" in reason and "11.0 hours late" in reason and "grace_hours is 4" in reason
    assert reason.endswith("overnight run --date 2026-11-20") and "overnight gaps" in reason
    assert "3.0 days late" in late_tick_reason(TICK, TICK + timedelta(days=3), 4, "2026-11-20", "cmd")


def test_a_night_is_missing_when_any_nightly_asset_lacks_it():
    nights = ["2026-11-18", "2026-11-19", "2026-11-20"]
    assert missing_nights(nights, [{"2026-11-18", "2026-11-19"}, {"2026-11-18"}]) == ["2026-11-19", "2026-11-20"]
    assert missing_nights(nights, [set(nights), set(nights)]) == []


def test_the_backfill_command_names_the_location_job_and_nights():
    command = backfill_command(["2026-11-19", "2026-11-20"], ["-w", "/my dir/workspace.yaml"])
    assert shlex.split(command) == [
        "dagster", "job", "backfill", "-w", "/my dir/workspace.yaml", "-j", "nightly",
        "--partitions", "2026-11-19,2026-11-20", "--noprompt",
    ]  # fmt: skip


def evaluate(schedule: dg.ScheduleDefinition, location: dg.Definitions, tick: datetime):
    with dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=location.get_repository_def()
    ) as context:
        return schedule.evaluate_tick(context)


@pytest.fixture
def nightly(tmp_path):
    """The nightly schedule of a location whose first night is 10 days ago, grace 2 hours."""
    first_night = (datetime.now(UTC).date() - timedelta(days=10)).isoformat()
    path = tmp_path / "overnight.yaml"
    path.write_text(f"home: {tmp_path}\nfirst_night: {first_night}\nschedules: {{grace_hours: 2}}\n")
    location = build_defs(load_config(path))
    return location.resolve_schedule_def("nightly_schedule"), location


@pytest.mark.parametrize("late", [timedelta(seconds=5), timedelta(hours=1, minutes=59)])
def test_the_schedule_runs_a_tick_within_grace(nightly, late):
    schedule, location = nightly
    tick = datetime.now(UTC) - late
    requests = evaluate(schedule, location, tick).run_requests
    night = (tick.date() - timedelta(days=1)).isoformat()
    assert [(request.partition_key, request.run_key) for request in requests] == [(night, night)]


def test_the_schedule_skips_a_tick_past_grace_and_names_the_night(nightly):
    schedule, location = nightly
    tick = datetime.now(UTC) - timedelta(hours=2, minutes=5)
    result = evaluate(schedule, location, tick)
    night = (tick.date() - timedelta(days=1)).isoformat()
    assert not result.run_requests
    assert f"Skipped the night of {night}" in result.skip_message
    assert f"overnight run --date {night}" in result.skip_message


def test_the_schedule_skips_a_night_before_first_night(nightly):
    schedule, location = nightly
    result = evaluate(schedule, location, datetime.now(UTC) - timedelta(days=11))
    assert not result.run_requests and "before first_night" in result.skip_message


def materialize_runless(instance: dg.DagsterInstance, keys, night: str) -> None:
    for key in keys:
        instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=night))


@pytest.fixture
def gaps_instance(tmp_path, host_files):
    """(make(first_night) -> (config path, env, nightly asset keys)): a UTC config whose nightly tick
    is at 00:00, so yesterday is the last night due, and a DAGSTER_HOME with the repo's dagster.yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")

    def make(first_night: date, **overrides):
        overrides = {"timezone": "UTC", "first_night": first_night, "schedules__nightly": "0 0 * * *", **overrides}
        config = write_config(tmp_path, host_files, "http://127.0.0.1:9", **overrides)
        keys = dg.AssetSelection.groups("nightly").resolve(build_defs(load_config(config)).resolve_asset_graph())
        return config, {**os.environ, "DAGSTER_HOME": str(home), "OVERNIGHT_CONFIG": str(config)}, keys

    return make


def test_gaps_lists_the_missing_nights_and_its_backfill_command_is_accepted(gaps_instance):
    today = datetime.now(UTC).date()
    nights = [(today - timedelta(days=days)).isoformat() for days in range(6, 0, -1)]
    config, env, keys = gaps_instance(date.fromisoformat(nights[0]))
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        for night in (nights[0], nights[2], nights[5]):
            materialize_runless(instance, keys, night)
        materialize_runless(instance, sorted(keys)[:-1], nights[3])  # one asset short: still a gap

    # a fresh shell: the venv's bin is not on PATH, so the printed command names the venv's dagster by its path
    path_without_venv = os.pathsep.join(
        entry for entry in os.environ["PATH"].split(os.pathsep) if entry != os.path.dirname(sys.executable)
    )
    gaps = overnight_gaps({**env, "PATH": path_without_venv})
    missing = [nights[1], nights[3], nights[4]]
    assert gaps.returncode == 3, gaps.stderr
    assert f"3 of 6 nights ({nights[0]} to {nights[5]}) not materialized:" in gaps.stdout
    assert "".join(f"  {night}\n" for night in missing) in gaps.stdout
    environment, command = printed_command(gaps.stdout)
    assert environment == {"DAGSTER_HOME": env["DAGSTER_HOME"], "OVERNIGHT_CONFIG": str(config)}
    assert os.path.basename(command[0]) == "dagster" and command[1:3] == ["job", "backfill"]
    assert ",".join(missing) in command
    submitted = subprocess.run(
        command,
        env={**os.environ, **environment, "PATH": path_without_venv},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert submitted.returncode == 0, submitted.stdout[-2000:] + submitted.stderr[-2000:]
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        [backfill] = instance.get_backfills()
    assert (backfill.job_name, sorted(backfill.partition_names)) == ("nightly", missing)


def test_gaps_without_gaps_exits_zero(gaps_instance):
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    _, env, keys = gaps_instance(yesterday)
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        materialize_runless(instance, keys, yesterday.isoformat())
    gaps = overnight_gaps(env)
    assert gaps.returncode == 0, gaps.stdout + gaps.stderr
    assert f"No gaps: every nightly asset is materialized for {yesterday} to {yesterday}." in gaps.stdout


def overnight_gaps(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "overnight_assets.cli", "gaps"], env=env, capture_output=True, text=True, timeout=180
    )


def printed_command(stdout: str) -> tuple[dict[str, str], list[str]]:
    """The last line's NAME=value assignments and the command after them."""
    words = shlex.split(stdout.strip().splitlines()[-1])
    assignments = list(itertools.takewhile(lambda word: "=" in word, words))
    return dict(word.split("=", 1) for word in assignments), words[len(assignments) :]


def test_a_daemon_started_after_missed_ticks_skips_the_late_one_and_launches_nothing(gaps_instance, monkeypatch):
    """The machine was off across two nightly ticks (the last 3 hours ago, grace 1 hour): the daemon,
    resuming from the schedule's last recorded start, evaluates the newest and skips it, naming its night."""
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        InstigatorType,
        ScheduleInstigatorData,
        TickStatus,
    )
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    from overnight_assets_tests.testkit.instances import dagster_daemon

    now = datetime.now(UTC)
    last_tick = (now - timedelta(hours=3)).replace(second=0, microsecond=0)
    cron = f"{last_tick.minute} {last_tick.hour} * * *"
    _, env, _ = gaps_instance(now.date() - timedelta(days=10), schedules__nightly=cron, schedules__grace_hours=1)
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    monkeypatch.setenv("OVERNIGHT_CONFIG", env["OVERNIGHT_CONFIG"])
    with dg.DagsterInstance.get() as instance:
        with WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(REPO / "workspace.yaml")])) as workspace:
            location = workspace.create_request_context().get_code_location("overnight_assets")
            schedule = location.get_repository("__repository__").get_schedule("nightly_schedule")
        # the schedule as a daemon left it when the machine went off, 50 hours ago
        off_since = (now - timedelta(hours=50)).timestamp()
        data = ScheduleInstigatorData(schedule.cron_schedule, start_timestamp=off_since)
        state = InstigatorState(
            schedule.get_remote_origin(), InstigatorType.SCHEDULE, InstigatorStatus.DECLARED_IN_CODE, data
        )
        instance.add_instigator_state(state)
        origin_id, selector_id = schedule.get_remote_origin_id(), schedule.selector_id

        with dagster_daemon(env):
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                ticks = instance.get_ticks(origin_id, selector_id)
                if ticks and ticks[0].status != TickStatus.STARTED:
                    break
                time.sleep(0.5)  # polling the instance until the daemon has evaluated the missed tick
        # Dagster 1.13 evaluates only the newest missed tick (its schedules carry no partition set), in
        # the same iteration after any older one: an older night is never run late, it stays a gap
        [tick] = ticks
        assert tick.status == TickStatus.SKIPPED and tick.timestamp == last_tick.timestamp(), tick
        night = (last_tick - timedelta(days=1)).date().isoformat()
        assert f"Skipped the night of {night}: the tick of {last_tick:%Y-%m-%d %H:%M} UTC came 3.0 hours late" in (
            tick.skip_reason
        )
        assert instance.get_runs_count() == 0
