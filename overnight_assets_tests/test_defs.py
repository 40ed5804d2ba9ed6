"""The code location loads, every job resolves, and the pieces the UI shows are there."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from overnight_assets.config import load_config
from overnight_assets.definitions import build_defs, defs
from overnight_assets_tests.testkit import REPO

JOBS = {"nightly", "deliver_outbox", "briefing_after_failure", "reading", "code_review", "maintenance", "weekly"}


def test_every_job_resolves():
    assert {job.name for job in defs.resolve_all_job_defs()} == JOBS | {"__ASSET_JOB"}


def test_asset_graph_lineage_and_pool():
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey
    assert graph.get(key("security_triage")).parent_keys == {key("gpu_warmup")}
    assert graph.get(key("article_digest")).parent_keys == {key("gpu_warmup")}
    assert graph.get(key("arxiv_finds")).parent_keys == {key("gpu_warmup"), key("article_digest")}
    assert graph.get(key("code_reviews")).parent_keys == {key("gpu_warmup")}
    assert graph.get(key("pr_digest")).parent_keys == {key("code_reviews")}
    sections = {key(name) for name in ("security_triage", "article_digest", "arxiv_finds", "code_reviews", "pr_digest")}
    assert graph.get(key("morning_briefing")).parent_keys == sections | {key("morning_briefing")}
    assert graph.get(key("morning_delivery")).parent_keys == {key("morning_briefing")}
    assert graph.get(key("cerebellum")).parent_keys == {key("morning_delivery")}
    llm_assets = {"gpu_warmup", "security_triage", "article_digest", "arxiv_finds", "code_reviews", "morning_briefing"}
    for asset in llm_assets:
        assert graph.get(key(asset)).pools == {"gpu"}, asset
    for asset in ("pr_digest", "morning_delivery", "cerebellum"):
        assert not graph.get(key(asset)).pools, asset
    nightly = {a.key.path[-1] for a in graph.asset_nodes if a.group_name == "nightly"}
    assert nightly >= llm_assets | {"morning_delivery", "cerebellum"}
    assert dg.AssetKey("cerebellum") in defs.resolve_job_def("nightly").asset_layer.asset_graph.get_all_asset_keys()


def test_the_sunday_chain_is_its_own_weekly_group_and_job():
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey
    assert graph.get(key("evolution")).parent_keys == {key("ecosystem_watch")}
    assert graph.get(key("basal_ganglia")).parent_keys == {key("evolution")}
    chain = {key("ecosystem_watch"), key("evolution"), key("basal_ganglia")}
    assert {node.key for node in graph.asset_nodes if node.group_name == "weekly"} == chain
    assert graph.get(key("evolution")).pools == {"gpu"} and not graph.get(key("basal_ganglia")).pools
    weekly = defs.resolve_job_def("weekly")
    assert set(weekly.asset_layer.asset_graph.executable_asset_keys) == chain
    assert isinstance(weekly.partitions_def, dg.WeeklyPartitionsDefinition)
    schedule = defs.resolve_schedule_def("weekly_schedule")
    assert (schedule.cron_schedule, schedule.job_name) == ("0 5 * * 0", "weekly")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_sensors_run_by_default():
    for name in ("outbox_sensor", "new_commits_sensor", "briefing_after_failure_sensor"):
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING, name
    assert defs.resolve_sensor_def("new_commits_sensor").job_name == "code_review"


def test_nightly_schedule_targets_the_last_complete_day_in_the_configured_timezone(tmp_path):
    config_path = tmp_path / "overnight.yaml"
    # a grace of about 11 years: this fixed tick in the past still runs (grace is tested in operations/test_gaps.py)
    config_path.write_text(
        'timezone: Pacific/Auckland\nschedules: {nightly: "30 2 * * *", grace_hours: 100000}\nhome: ' + str(tmp_path)
    )
    location = build_defs(load_config(config_path))
    schedule = location.resolve_schedule_def("nightly_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 2 * * *", "Pacific/Auckland")
    tick = datetime(2026, 11, 20, 13, 30, tzinfo=UTC)  # 02:30 on Nov 21 in Auckland
    repository = location.get_repository_def()
    with dg.build_schedule_context(scheduled_execution_time=tick, repository_def=repository) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "2026-11-20" and request.run_key == "2026-11-20"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_the_maintenance_runs_weekly_at_the_configured_time_by_default(tmp_path):
    default = defs.resolve_schedule_def("maintenance_schedule")
    assert (default.cron_schedule, default.job_name) == ("0 12 * * 0", "maintenance")
    assert default.default_status == dg.DefaultScheduleStatus.RUNNING
    config_path = tmp_path / "overnight.yaml"
    config_path.write_text('timezone: Pacific/Auckland\nschedules: {maintenance: "30 4 * * 6"}\nhome: ' + str(tmp_path))
    schedule = build_defs(load_config(config_path)).resolve_schedule_def("maintenance_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 4 * * 6", "Pacific/Auckland")


def test_in_celery_mode_a_failed_nights_briefing_still_runs_in_process(tmp_path):
    """What failed the night (a broker down, a worker gone) must not keep its briefing from going out."""
    config_path = tmp_path / "overnight.yaml"
    config_path.write_text("execution: {mode: celery}\nhome: " + str(tmp_path))
    celery_defs = build_defs(load_config(config_path))
    nightly = celery_defs.resolve_job_def("nightly").executor_def
    after_failure = celery_defs.resolve_job_def("briefing_after_failure").executor_def
    assert nightly.name != after_failure.name
    assert after_failure.name == defs.resolve_job_def("nightly").executor_def.name  # the in-process one


def test_dagster_definitions_validate_passes():
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_code_location_loads_no_client_library():
    """Every outside system's library loads at first use, not with each code-location load."""
    clients = {"feedparser", "bs4", "arxiv", "requests", "ollama", "slack_sdk", "docker", "git", "duckdb", "httpx"}
    code = (
        "import sys, overnight_assets.definitions\n"
        f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(clients)!r}))\n"
        "print(loaded)\nsys.exit(1 if loaded else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_everything_the_ui_lists_says_what_it_is():
    repository = defs.get_repository_def()
    graph = defs.resolve_asset_graph()
    described = {
        **{f"asset {node.key.to_user_string()}": node.description for node in graph.asset_nodes},
        **{f"check {key.to_user_string()}": graph.get(key).description for key in graph.asset_check_keys},
        **{f"job {job.name}": job.description for job in repository.get_all_jobs() if not job.name.startswith("__")},
        **{f"schedule {schedule.name}": schedule.description for schedule in repository.schedule_defs},
        **{f"sensor {sensor.name}": sensor.description for sensor in repository.sensor_defs},
    }
    assert {"job nightly", "check morning_delivery:delivered_or_kept"} <= set(described)
    assert [name for name, description in described.items() if not (description or "").strip()] == []


JOBS_WITH_CHECKS = ("nightly", "briefing_after_failure", "deliver_outbox")


def test_the_night_checks_run_with_their_assets():
    checks = {
        dg.AssetCheckKey(dg.AssetKey("security_triage"), "every_collector_reported"),
        dg.AssetCheckKey(dg.AssetKey("morning_briefing"), "names_every_section"),
        dg.AssetCheckKey(dg.AssetKey("morning_delivery"), "delivered_or_kept"),
    }
    in_job = {name: defs.resolve_job_def(name).asset_layer.asset_graph.asset_check_keys for name in JOBS_WITH_CHECKS}
    assert checks <= in_job["nightly"]
    assert {key for key in checks if key.asset_key.path[-1].startswith("morning")} <= in_job["briefing_after_failure"]
    assert dg.AssetCheckKey(dg.AssetKey("morning_delivery"), "delivered_or_kept") in in_job["deliver_outbox"]
    for key in checks:
        assert not defs.resolve_asset_graph().get(key).blocking, f"{key} must never stop the morning message"


@pytest.mark.parametrize("written, deadline", [(None, "30 7 * * *"), ("06:05", "5 6 * * *"), ("23:59", "59 23 * * *")])
def test_morning_delivery_is_due_by_the_configured_time_in_the_configured_timezone(tmp_path, written, deadline):
    config_path = tmp_path / "overnight.yaml"
    alerts = f"alerts: {{briefing_by: '{written}'}}\n" if written else ""
    config_path.write_text(f"timezone: Pacific/Auckland\nhome: {tmp_path}\n{alerts}")
    graph = build_defs(load_config(config_path)).resolve_asset_graph()
    policy = graph.get(dg.AssetKey("morning_delivery")).freshness_policy
    assert policy == dg.FreshnessPolicy.cron(
        deadline, lower_bound_delta=timedelta(hours=12), timezone="Pacific/Auckland"
    )


def test_without_a_deadline_morning_delivery_has_no_freshness_policy(tmp_path):
    config_path = tmp_path / "overnight.yaml"
    config_path.write_text(f"home: {tmp_path}\nalerts: {{briefing_by: null}}\n")
    graph = build_defs(load_config(config_path)).resolve_asset_graph()
    assert graph.get(dg.AssetKey("morning_delivery")).freshness_policy is None
