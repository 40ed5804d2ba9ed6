"""The code location loads, every job resolves, and the pieces the UI shows are there."""

import subprocess
import sys
from datetime import UTC, datetime

import dagster as dg

from overnight_assets.config import load_config
from overnight_assets.definitions import build_defs, defs
from overnight_assets_tests.testkit import REPO


def test_every_job_resolves():
    for job in defs.resolve_all_job_defs():
        assert job.name in {
            "nightly",
            "deliver_outbox",
            "briefing_after_failure",
            "reading",
            "code_review",
            "__ASSET_JOB",
        }
    assert {"nightly", "deliver_outbox", "briefing_after_failure", "reading", "code_review"} <= {
        job.name for job in defs.resolve_all_job_defs()
    }


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
    llm_assets = {"gpu_warmup", "security_triage", "article_digest", "arxiv_finds", "code_reviews", "morning_briefing"}
    for asset in llm_assets:
        assert graph.get(key(asset)).pools == {"gpu"}, asset
    for asset in ("pr_digest", "morning_delivery"):
        assert not graph.get(key(asset)).pools, asset
    assert {a.key.path[-1] for a in graph.asset_nodes if a.group_name == "nightly"} >= llm_assets | {"morning_delivery"}


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
