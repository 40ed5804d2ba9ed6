"""The weekly maintenance on a real SQLite instance holding weeks of history: old runs go with their event
logs, captured output and run files; recent runs, runs still in progress and runs holding an asset's latest
materialization stay; ticks go by dagster.yaml's retention; a locked Cortex is skipped, not fatal."""

import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteInstigatorOrigin, RemoteRepositoryOrigin
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    ScheduleInstigatorData,
    SensorInstigatorData,
    TickData,
    TickStatus,
)
from dagster._core.test_utils import freeze_time
from dagster._utils.error import SerializableErrorInfo

from overnight_assets.config import RetentionConfig
from overnight_assets.operations.assets import build_maintenance_defs
from overnight_assets.resources.cortex import Cortex
from overnight_assets.resources.dagster_resources import CortexResource
from overnight_assets_tests.testkit import REPO
from overnight_assets_tests.testkit.cortex import hold_cortex, release_cortex
from overnight_assets_tests.testkit.run_history import (
    DIGEST,
    LEDGER,
    digest,
    finish,
    in_progress,
    ledger,
    run,
    run_and_reexecute,
)

NOW = datetime.now(UTC)
WEEKS_AGO = NOW - timedelta(days=60)  # past the default retention.runs_days (30)
EVERYTHING = ["record", "event log", "captured output"]


def retention(instance, home: Path, lock_wait_s: float = 30) -> dict:
    (asset,) = build_maintenance_defs(RetentionConfig(), "0 12 * * 0", "UTC").assets
    resources = {"cortex": CortexResource(path=str(home / "cortex.duckdb"), lock_wait_s=lock_wait_s)}
    result = dg.materialize([asset], instance=instance, resources=resources)
    assert result.success
    return {key: value.value for key, value in result.asset_materializations_for_node("retention")[0].metadata.items()}


def leftovers(instance, run_id: str) -> list[str]:
    """What the instance still keeps of a run: its record, its event log (SQLite: a file per run), its captured
    stdout/stderr. (Its events are not read here: reading a deleted run's log would create its file again.)"""
    home = Path(instance.root_directory)
    return [
        what
        for what, kept in (
            ("record", instance.has_run(run_id)),
            ("event log", (home / "history" / "runs" / f"{run_id}.db").exists()),
            ("captured output", (home / "storage" / run_id).exists()),
        )
        if kept
    ]


def materializing_runs(instance) -> set[str]:
    """The runs the cross-run index (what the UI's asset pages read) holds materializations of."""
    return {record.run_id for key in (DIGEST, LEDGER) for record in instance.fetch_materializations(key, 100).records}


@pytest.fixture
def history(instance):
    """Two months of runs: superseded, failed, re-executed, one still running; and this week's."""
    runs = {
        "superseded": run(instance, digest, WEEKS_AGO - timedelta(days=2), "2026-09-01"),
        "latest of its partition": run(instance, digest, WEEKS_AGO - timedelta(days=1), "2026-09-01"),
        "failed": run(instance, digest, WEEKS_AGO, "2026-09-02", plant="failure"),
        "unpartitioned, superseded": run(instance, ledger, WEEKS_AGO),
    }
    runs["root of a re-execution"], runs["re-execution"] = run_and_reexecute(instance, WEEKS_AGO, NOW, "2026-09-03")
    runs["recent ledger"] = run(instance, ledger, NOW)
    return runs


def test_old_runs_go_with_their_logs_and_nothing_the_ui_shows_is_lost(instance, history, tmp_path):
    materialized = instance.get_latest_storage_id_by_partition(DIGEST, dg.DagsterEventType.ASSET_MATERIALIZATION)
    assert all(
        leftovers(instance, run_id) == EVERYTHING
        for run_id in (history["superseded"], history["latest of its partition"])
    )

    removed = retention(instance, tmp_path / "home")

    assert not (tmp_path / "home" / "cortex.duckdb").exists()  # no night ran with this home: none is created
    gone = {"superseded", "failed", "unpartitioned, superseded"}
    for what, run_id in history.items():
        assert leftovers(instance, run_id) == ([] if what in gone else EVERYTHING), what
        assert what in gone or instance.all_logs(run_id), what
    assert materializing_runs(instance).isdisjoint(history[what] for what in gone)
    assert removed["runs_deleted"] == 3 and removed["old_runs_kept"] == 2
    # every partition still shows materialized, by the same event; the re-executed run's group still opens
    assert (
        instance.get_latest_storage_id_by_partition(DIGEST, dg.DagsterEventType.ASSET_MATERIALIZATION) == materialized
    )
    assert instance.get_latest_materialization_event(LEDGER).run_id == history["recent ledger"]
    root, group = instance.get_run_group(history["re-execution"])
    assert root == history["root of a re-execution"] and len(group) == 2

    again = retention(instance, tmp_path / "home")
    assert {kind: count for kind, count in again.items() if isinstance(count, int) and count} == {"old_runs_kept": 2}
    assert again["summary"].startswith("runs deleted: 0; old runs kept: 2;")


def test_a_run_in_progress_is_never_deleted_however_old(instance, tmp_path):
    in_progress.clear()
    finish.clear()
    outcome = {}

    def night() -> None:  # a night stuck in a step since two months ago
        hung = dg.materialize([digest], instance=instance, partition_key="2026-09-04", tags={"plant": "hang"})
        outcome["status"] = instance.get_run_by_id(hung.run_id).status

    with freeze_time(WEEKS_AGO):  # only while the run is created and starts
        hung_night = threading.Thread(target=night)
        hung_night.start()
        assert in_progress.wait(timeout=60)
    try:
        (started,) = instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert started.create_timestamp < NOW - timedelta(days=59)

        removed = retention(instance, tmp_path / "home")

        assert removed["runs_deleted"] == 0
        assert leftovers(instance, started.dagster_run.run_id) == EVERYTHING
    finally:
        finish.set()
        hung_night.join(timeout=60)
    assert outcome == {"status": dg.DagsterRunStatus.SUCCESS}


def origin(name: str) -> RemoteInstigatorOrigin:
    return RemoteInstigatorOrigin(
        RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("overnight_assets"), "__repository__"), name
    )


def tick(instance, state: InstigatorState, status: TickStatus, days_ago: float) -> None:
    """A tick as the daemon records it, `days_ago` days ago."""
    outcome = {
        TickStatus.SUCCESS: {"run_ids": ["a-run-it-launched"]},
        TickStatus.FAILURE: {"error": SerializableErrorInfo("the sensor raised", [], "RuntimeError")},
        TickStatus.SKIPPED: {"skip_reason": "nothing to do"},
    }
    instance.create_tick(
        TickData(
            instigator_origin_id=state.instigator_origin_id,
            instigator_name=state.instigator_name,
            instigator_type=state.instigator_type,
            status=status,
            timestamp=(NOW - timedelta(days=days_ago)).timestamp(),
            selector_id=state.selector_id,
            **outcome.get(status, {}),
        )
    )


def test_the_instance_reads_the_repos_tick_retention(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")  # as `make demo` and `make dev` do
    settings = yaml.safe_load((REPO / "dagster.yaml").read_text())["retention"]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for kind, instigator_type in (("schedule", InstigatorType.SCHEDULE), ("sensor", InstigatorType.SENSOR)):
            read = instance.get_tick_retention_settings(instigator_type)
            expected = {TickStatus(status.upper()): days for status, days in settings[kind]["purge_after_days"].items()}
            assert {status: read[status] for status in expected} == expected, kind
            assert read[TickStatus.STARTED] == -1  # a tick under way is never purged
    assert settings["sensor"]["purge_after_days"]["skipped"] < settings["sensor"]["purge_after_days"]["success"]


def test_ticks_go_by_the_instances_retention_stopped_sensors_too(instance, tmp_path):
    retention_days = {"skipped": 7, "success": 30, "failure": 30}
    assert instance.get_tick_retention_settings(InstigatorType.SENSOR) == {
        **{TickStatus(status.upper()): days for status, days in retention_days.items()},
        TickStatus.STARTED: -1,
    }
    running = InstigatorState(
        origin("outbox_sensor"), InstigatorType.SENSOR, InstigatorStatus.RUNNING, SensorInstigatorData()
    )
    stopped = InstigatorState(
        origin("new_commits_sensor"), InstigatorType.SENSOR, InstigatorStatus.STOPPED, SensorInstigatorData()
    )
    schedule = InstigatorState(
        origin("nightly_schedule"),
        InstigatorType.SCHEDULE,
        InstigatorStatus.RUNNING,
        ScheduleInstigatorData("0 3 * * *"),
    )
    for state in (running, stopped, schedule):
        instance.add_instigator_state(state)
    for state in (running, stopped):
        tick(instance, state, TickStatus.SKIPPED, days_ago=8)  # goes
        tick(instance, state, TickStatus.SKIPPED, days_ago=6)
        tick(instance, state, TickStatus.SUCCESS, days_ago=20)
        tick(instance, state, TickStatus.FAILURE, days_ago=31)  # goes
        tick(instance, state, TickStatus.STARTED, days_ago=90)  # a tick under way: never
    tick(instance, schedule, TickStatus.SUCCESS, days_ago=31)  # goes
    tick(instance, schedule, TickStatus.SUCCESS, days_ago=29)

    removed = retention(instance, tmp_path / "home")

    assert (removed["sensor_ticks_deleted"], removed["schedule_ticks_deleted"]) == (4, 1)
    for state in (running, stopped):
        left = instance.get_ticks(state.instigator_origin_id, state.selector_id)
        assert sorted(t.status.value for t in left) == ["SKIPPED", "STARTED", "SUCCESS"], state.instigator_name
    assert len(instance.get_ticks(schedule.instigator_origin_id, schedule.selector_id)) == 1


def test_a_locked_cortex_is_skipped_with_the_reason_and_the_runs_still_go(instance, tmp_path):
    home = tmp_path / "home"
    Cortex(home / "cortex.duckdb").connect().__enter__().close()
    old = run(instance, digest, WEEKS_AGO, "2026-09-05", plant="failure")
    holder = hold_cortex(home / "cortex.duckdb", read_only=True)  # someone left `duckdb -readonly` open
    try:
        removed = retention(instance, home, lock_wait_s=0.5)
    finally:
        release_cortex(holder)
    assert f"stayed locked by PID {holder.pid}" in removed["cortex_skipped"]
    assert removed["runs_deleted"] == 1 and not instance.has_run(old)
    assert "llm_cache_deleted" not in removed
    assert "cortex skipped: Cortex at" in removed["summary"]
    assert retention(instance, home)["llm_cache_deleted"] == 0  # next week it goes through
