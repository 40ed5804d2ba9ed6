"""The night checks run in the nightly job on a real SQLite instance and record green and yellow
lights per night: a good night passes every check; a night with a broken collector and no Slack
warns on both, naming what went wrong; a briefing that leaves a section out fails its check. And
morning_delivery's freshness policy, as the daemon's own evaluator judges it."""

import asyncio
import json
import shutil
from datetime import datetime, timedelta

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.definitions.freshness_evaluator import CronFreshnessPolicyEvaluator
from dagster._core.loader import LoadingContextForTest
from dagster._core.test_utils import freeze_time

from overnight_assets.config import AlertsConfig, load_config
from overnight_assets.definitions import build_defs
from overnight_assets_tests.testkit import SAMPLES
from overnight_assets_tests.testkit.config import write_config
from overnight_assets_tests.testkit.fake_ollama import FakeOllama
from overnight_assets_tests.testkit.fake_slack import FakeSlack
from overnight_assets_tests.testkit.instances import loopback_instance
from overnight_assets_tests.testkit.nights import NIGHT, run_nightly

BAD_NIGHT = "2026-11-19"
TRIAGE = dg.AssetCheckKey(dg.AssetKey("security_triage"), "every_collector_reported")
BRIEFING = dg.AssetCheckKey(dg.AssetKey("morning_briefing"), "names_every_section")
DELIVERY = dg.AssetCheckKey(dg.AssetKey("morning_delivery"), "delivered_or_kept")


def night_config(root, llm_url, slack_url, **overrides):
    host = root / "host"
    shutil.copytree(SAMPLES, host)
    return load_config(write_config(root, host, llm_url, slack_url, **overrides))


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """One instance, two nights, each with its own home: a good one, and one whose docker collector
    cannot reach its socket while Slack's token variable is unset."""
    root = tmp_path_factory.mktemp("checks")
    with loopback_instance(root, FakeOllama(), FakeSlack()) as (instance, _, ollama_url, slack_url):
        good = night_config(root / "good", ollama_url, slack_url)
        bad = night_config(
            root / "bad",
            ollama_url,
            slack_url,
            triage__docker={"base_url": f"unix://{root}/no-docker.sock"},
            slack__token_env="OVERNIGHT_TEST_UNSET_SLACK_TOKEN",
        )
        assert run_nightly(good, instance, NIGHT).success
        assert run_nightly(bad, instance, BAD_NIGHT).success
        yield instance, good


def evaluation(instance, check: dg.AssetCheckKey, partition: str) -> dg.AssetCheckEvaluation:
    records = instance.event_log_storage.get_asset_check_execution_history(check, limit=10)
    record = next(record for record in records if record.partition == partition)
    return record.event.dagster_event.event_specific_data


def test_a_good_night_passes_every_check(nights):
    instance, _ = nights
    for check in (TRIAGE, BRIEFING, DELIVERY):
        assert evaluation(instance, check, NIGHT).passed, check
    assert evaluation(instance, TRIAGE, NIGHT).description == "All 5 enabled collectors reported"
    assert evaluation(instance, BRIEFING, NIGHT).description == "Names all 5 sections"
    assert evaluation(instance, DELIVERY, NIGHT).description == "Delivered to #overnight (posted)"


def test_a_failed_collector_and_an_unconfigured_slack_are_yellow_lights_that_say_why(nights):
    instance, _ = nights
    triage, delivery = evaluation(instance, TRIAGE, BAD_NIGHT), evaluation(instance, DELIVERY, BAD_NIGHT)
    assert (triage.passed, triage.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert triage.description.startswith("Collectors that failed: docker (")
    assert (delivery.passed, delivery.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert delivery.description.startswith("Not sent: Slack is not configured; the message waits in")
    assert evaluation(instance, BRIEFING, BAD_NIGHT).passed


def test_the_briefing_check_fails_on_a_stored_briefing_missing_a_section(nights):
    _, config = nights
    stored = json.loads((config.paths.assets / "morning_briefing" / f"{NIGHT}.json").read_text())
    check = next(c for c in build_defs(config).asset_checks if BRIEFING in c.check_keys)
    assert check(morning_briefing=stored).passed
    stored["sections"] = [s for s in stored["sections"] if s["key"] != "pr_digest"]
    result = check(morning_briefing=stored)
    assert (result.passed, result.description) == (False, "Sections missing from the briefing: pr_digest")


def freshness(instance, config, briefing_by: str, now: datetime) -> FreshnessState:
    """morning_delivery's freshness as the daemon's evaluator sees it at `now`, due by briefing_by."""
    config = config.model_copy(update={"alerts": AlertsConfig(briefing_by=briefing_by)})
    node = build_defs(config).resolve_asset_graph().get(dg.AssetKey("morning_delivery"))
    with freeze_time(now):
        return asyncio.run(CronFreshnessPolicyEvaluator().evaluate_freshness(LoadingContextForTest(instance), node))


def test_morning_delivery_is_fresh_until_the_next_deadline_passes_without_a_delivery(nights):
    instance, config = nights
    delivered = datetime.fromtimestamp(
        instance.get_latest_materialization_event(DELIVERY.asset_key).timestamp, config.tz
    )
    due = delivered + timedelta(hours=1)  # the deadline this delivery met
    briefing_by = f"{due:%H:%M}"
    assert freshness(instance, config, briefing_by, due + timedelta(hours=1)) == FreshnessState.PASS
    # the next morning's deadline passed with nothing delivered since: yesterday's delivery does not count
    assert freshness(instance, config, briefing_by, due + timedelta(days=1, hours=1)) == FreshnessState.FAIL
