"""The nightly job end to end on a real SQLite instance, against loopback Ollama and Slack."""

import json
from typing import get_args

import pytest

from overnight_assets.definitions import build_defs
from overnight_assets.section import LLMState, SectionLLMState
from overnight_assets_tests.testkit.nights import FAILED_LOGINS, NEW_SUDO_USER, NIGHT, append_to_auth_log, metadata


def run_night(config, instance, partition=NIGHT):
    result = (
        build_defs(config).resolve_job_def("nightly").execute_in_process(partition_key=partition, instance=instance)
    )
    assert result.success
    return result


def llm_states(config, instance, partition=NIGHT) -> set[str]:
    """Every `llm` the night recorded, checked against the types: each asset's metadata holds an
    LLMState, each section in the briefing a SectionLLMState."""
    recorded = {}
    for key in instance.get_asset_keys():
        event = instance.get_latest_materialization_event(key)
        if event and "llm" in event.asset_materialization.metadata:
            recorded[key.to_user_string()] = event.asset_materialization.metadata["llm"].value
    briefing = json.loads((config.paths.assets / "morning_briefing" / f"{partition}.json").read_text())
    in_sections = {section["key"]: section["llm"] for section in briefing["sections"]}
    assert {"gpu_warmup", "security_triage", "morning_briefing"} <= set(recorded) and in_sections
    assert set(recorded.values()) <= set(get_args(LLMState)), recorded
    assert set(in_sections.values()) <= set(get_args(SectionLLMState)), in_sections
    return set(recorded.values()) | set(in_sections.values())


def test_clean_host_is_green_without_any_llm_question(make_config, instance, ollama_server, slack_server):
    config = make_config(ollama_server.url, slack_server.url)
    run_night(config, instance)
    triage = metadata(instance, "security_triage")
    assert triage["status"] == "GREEN" and triage["llm_calls"] == 0 and triage["llm"] == "not needed"
    assert llm_states(config, instance) == {"ok", "not needed"}  # the warm-up and the briefing's summary
    briefing = config.paths.briefing(NIGHT).read_text()
    assert briefing.startswith(f"# Morning briefing for {NIGHT}: GREEN")
    assert "No briefing for the previous day" in briefing
    assert len(slack_server.posts) == 1 and "GREEN" in slack_server.posts[0]["text"]


def test_amber_night_asks_the_llm_and_a_rerun_costs_nothing(
    make_config, instance, ollama_server, slack_server, host_files
):
    append_to_auth_log(host_files, FAILED_LOGINS)
    ollama_server.overrides = {"status": "AMBER", "summary": "Brute force from one address."}
    config = make_config(ollama_server.url, slack_server.url)
    run_night(config, instance)
    assert metadata(instance, "security_triage")["status"] == "AMBER"
    chats_after_first = len(ollama_server.chats)
    assert chats_after_first == 2  # the triage review and the briefing summary
    assert "12 failed SSH logins from 203.0.113.9" in json.dumps(ollama_server.chats[0]["messages"])

    run_night(config, instance)
    assert len(ollama_server.chats) == chats_after_first
    assert metadata(instance, "security_triage")["llm_cache_hits"] == 1
    assert len(slack_server.posts) == 1 and len(slack_server.updates) == 1
    assert sorted(p.name for p in config.paths.briefings.iterdir()) == [f"{NIGHT}.md"]


def test_the_llm_can_raise_but_never_lower(make_config, instance, ollama_server, host_files):
    append_to_auth_log(host_files, NEW_SUDO_USER)
    ollama_server.overrides = {"status": "GREEN", "summary": "Looks fine to me."}
    run_night(make_config(ollama_server.url), instance)
    assert metadata(instance, "security_triage")["status"] == "RED"


def test_the_llm_raises_amber_to_red(make_config, instance, ollama_server, host_files):
    append_to_auth_log(host_files, FAILED_LOGINS)
    ollama_server.overrides = {"status": "RED", "summary": "This is an attack."}
    run_night(make_config(ollama_server.url), instance)
    triage = metadata(instance, "security_triage")
    assert (triage["gate_status"], triage["status"]) == ("AMBER", "RED")


def test_without_ollama_every_asset_falls_back_and_says_so(make_config, instance, unused_url, host_files):
    append_to_auth_log(host_files, FAILED_LOGINS)
    config = make_config(unused_url)
    run_night(config, instance)
    assert metadata(instance, "gpu_warmup")["llm"] == "unavailable"
    assert metadata(instance, "security_triage")["llm"] == "unavailable"
    assert llm_states(config, instance) == {"unavailable", "not needed"}  # workers with nothing to read ask nothing
    assert metadata(instance, "morning_briefing")["summary_source"] == "fallback"
    briefing = config.paths.briefing(NIGHT).read_text()
    assert "llm: unavailable" in briefing and "deterministic fallback" in briefing
    assert metadata(instance, "morning_delivery")["delivery"].startswith("outbox only")
    assert (config.paths.outbox / f"{NIGHT}.json").exists()


def test_fail_policy_fails_the_asset_with_a_clear_error(make_config, instance, unused_url, host_files):
    append_to_auth_log(host_files, FAILED_LOGINS)
    config = make_config(unused_url, llm__on_unavailable="fail")
    result = (
        build_defs(config)
        .resolve_job_def("nightly")
        .execute_in_process(partition_key=NIGHT, instance=instance, raise_on_error=False)
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "security_triage"
    assert "LLM unavailable and llm.on_unavailable is 'fail'" in failure.step_failure_data.error.to_string()


def test_next_night_says_what_changed_since_yesterday(make_config, instance, ollama_server, host_files):
    config = make_config(ollama_server.url)
    run_night(config, instance, "2026-11-19")
    append_to_auth_log(host_files, FAILED_LOGINS)
    run_night(config, instance, NIGHT)
    briefing = json.loads((config.paths.assets / "morning_briefing" / f"{NIGHT}.json").read_text())
    assert "Security triage: GREEN → AMBER." in briefing["changes"]


def test_a_gap_in_history_is_said_not_fatal(make_config, instance, ollama_server):
    config = make_config(ollama_server.url)
    run_night(config, instance, "2026-11-17")
    run_night(config, instance, NIGHT)  # 2026-11-19 was never materialized
    briefing = json.loads((config.paths.assets / "morning_briefing" / f"{NIGHT}.json").read_text())
    assert briefing["changes"] == ["No briefing for the previous day: nothing to compare with yet."]


@pytest.mark.parametrize("collector", ["auth_log", "ports", "disk"])
def test_a_broken_collector_is_an_amber_finding_not_a_failed_run(
    make_config, instance, ollama_server, tmp_path, collector
):
    broken = {
        "auth_log": {"triage__auth_log": {"path": str(tmp_path / "missing.log")}},
        "ports": {"triage__ports": {"proc_net": str(tmp_path / "no-proc")}},
        "disk": {"triage__disk": {"paths": [str(tmp_path / "no-disk")]}},
    }[collector]
    run_night(make_config(ollama_server.url, **broken), instance)
    triage = metadata(instance, "security_triage")
    assert triage["status"] == "AMBER"
    assert triage["collectors"][collector]["outcome"] in ("failed", "ok")
    assert collector in triage["finding_list"]


def test_the_slack_token_never_reaches_logs_or_metadata(make_config, instance, ollama_server, slack_server):
    run_night(make_config(ollama_server.url, slack_server.url), instance)
    for record in instance.get_run_records():
        for entry in instance.all_logs(record.dagster_run.run_id):
            assert slack_server.token not in repr(entry)
