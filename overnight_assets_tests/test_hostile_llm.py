"""A hostile Ollama never loses the night: the nightly job against a loopback server that answers
with junk, trickles or hangs, and an llm.host holding a password that must never be written."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from overnight_assets.briefing.compose import SECTION_BYTES, summary_prompt
from overnight_assets.demo.history import History
from overnight_assets.reading.items import Item
from overnight_assets.reading.judge import ITEM_BYTES, judge_prompt
from overnight_assets.reading.score import Scored
from overnight_assets.secret_urls import keep_credentials
from overnight_assets.section import Section
from overnight_assets.status import Status
from overnight_assets.triage.findings import Finding, Severity
from overnight_assets.triage.review import FINDINGS_BYTES, review_prompt
from overnight_assets_tests.testkit.nights import NIGHT, metadata, run_nightly

LLM_ASSETS = ["gpu_warmup", "security_triage", "article_digest", "arxiv_finds", "code_reviews", "morning_briefing"]
HOSTILE = ["not_json", "wrong_shape", "no_content", "not_object", "trickle", "hang"]


def test_every_llm_asset_has_a_question_on_a_busy_night(busy_night, instance, ollama_server):
    """The ground the hostile tests stand on: with a good Ollama each LLM asset asks."""
    assert run_nightly(busy_night(ollama_server.url), instance).success
    for asset in LLM_ASSETS:
        assert metadata(instance, asset)["llm"] == "ok", asset
    assert metadata(instance, "security_triage")["status"] == "RED"


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_ollama_still_gives_the_night_its_briefing(busy_night, instance, ollama_server, hostile):
    ollama_server.hostile = hostile
    config = busy_night(ollama_server.url, llm__timeout_s=1)
    result = run_nightly(config, instance)
    assert result.success, [e.step_failure_data.error.to_string() for e in result.all_events if e.is_step_failure]
    for asset in LLM_ASSETS[hostile == "no_content" :]:  # a load's answer has no content to lack
        recorded = metadata(instance, asset)
        assert recorded["llm"] == "unavailable", asset
        assert recorded["llm_unavailable_reason"].startswith(f"Ollama at {ollama_server.url}"), asset
    expected = "no answer within 1 s" if hostile in ("trickle", "hang") else "malformed answer twice"
    assert expected in metadata(instance, "security_triage")["llm_unavailable_reason"]
    assert metadata(instance, "security_triage")["status"] == "RED"  # the planted sudo grant still counts
    briefing = config.paths.briefing(NIGHT).read_text()
    assert briefing.startswith(f"# Morning briefing for {NIGHT}: RED") and "deterministic fallback" in briefing
    if hostile in ("trickle", "hang"):  # one deadline per asset, then that asset stops asking
        assert len(ollama_server.chats) == len(LLM_ASSETS) - 1 and len(ollama_server.loads) == 1


@pytest.mark.parametrize("hostile", ["not_json", "hang"])
def test_a_hostile_ollama_with_the_fail_policy_fails_with_a_clear_error(busy_night, instance, ollama_server, hostile):
    ollama_server.hostile = hostile
    result = run_nightly(busy_night(ollama_server.url, llm__timeout_s=1, llm__on_unavailable="fail"), instance)
    failures = {e.step_key: e.step_failure_data.error for e in result.all_events if e.is_step_failure}
    assert "security_triage" in failures and "gpu_warmup" not in failures  # the warm-up records, never fails
    for error in failures.values():
        cause = error.cause or error  # Dagster wraps what the asset raised
        assert cause.cls_name == "LLMUnavailableError", error.to_string()
        assert "LLM unavailable and llm.on_unavailable is 'fail'" in cause.message


def test_a_password_in_llm_host_connects_and_is_never_written(busy_night, instance, ollama_server, tmp_path):
    ollama_server.basic_auth = ("owner", "hunter2pass")
    configured = ollama_server.url.replace("http://", "http://owner:hunter2pass@")
    config = busy_night(configured, llm__timeout_s=1)
    # the config loader keeps the credentials in this process and hands out the redacted URL
    config = config.model_copy(
        update={"llm": config.llm.model_copy(update={"host": keep_credentials(config.llm.host)})}
    )
    assert run_nightly(config, instance).success
    assert metadata(instance, "security_triage")["llm"] == "ok"  # the password reached Ollama
    ollama_server.hostile = "not_json"  # the next night's reasons name the host: redacted
    assert run_nightly(config, instance, "2026-11-21").success
    for asset in ("gpu_warmup", "morning_briefing"):
        assert metadata(instance, asset, "2026-11-21")["llm_unavailable_reason"].startswith(
            "Ollama at http://***@127.0.0.1:"
        )

    for record in instance.get_run_records():
        for entry in instance.all_logs(record.dagster_run.run_id):
            assert "hunter2pass" not in repr(entry)
    for folder in (config.paths.home, Path(instance.root_directory)):
        written = [path for path in folder.rglob("*") if path.is_file() and b"hunter2pass" in path.read_bytes()]
        assert written == []


# --- bounded prompts: a byte budget as well as a line budget, cut with a note ---

MEGABYTE_LINE = "é" * 500_000  # one line of 1,000,000 bytes, of two-byte characters: a cut must not split one


def test_a_commit_of_twelve_one_megabyte_lines_reaches_the_reviewer_within_the_byte_budget(
    make_config, instance, ollama_server, tmp_path
):
    history = History()
    when = datetime(2026, 11, 20, 12, tzinfo=ZoneInfo("Europe/Bucharest"))
    history.commit(
        "main",
        "Ana Pop",
        when,
        "Add the lookup tables",
        {f"tables/t{i:02}.txt": MEGABYTE_LINE + "\n" for i in range(12)},
    )
    repo = history.write(tmp_path / "repos" / "tables")
    config = make_config(ollama_server.url, code_review__repos=[{"name": "tables", "path": str(repo)}])
    assert config.code_review.max_diff_bytes == 200_000  # the default
    run_nightly(config, instance)
    [review] = [
        chat["messages"][1]["content"]
        for chat in ollama_server.chats
        if "Repository tables" in chat["messages"][1]["content"]
    ]
    assert len(review.encode()) < 200_000 + 2_000  # not 12 MB
    assert "diff cut to 200000 bytes (1180" in review and "not shown: tables/t01.txt, tables/t02.txt" in review
    assert "… cut: 1180" in review and "\ufffd" not in review  # the note, and no character cut in two
    assert metadata(instance, "code_reviews")["reviews"] == {"llm": 1}


def test_a_feed_item_of_megabytes_is_judged_from_its_start():
    item = Item(source="Feed", url="https://example.org/a", title="A huge item", summary="ollama " * 300_000)
    prompt = judge_prompt(Scored(item, 1.0, (), 1.0), [])
    assert len(prompt.encode()) < ITEM_BYTES + 500 and "Title: A huge item" in prompt
    assert "… cut: " in prompt and "bytes over the budget" in prompt


def test_junk_findings_cannot_crowd_a_red_one_out_of_the_triage_review():
    junk = [Finding("auth_log", Severity.AMBER, f"unreadable lines {i}", "\x00junk " * 500_000) for i in range(5)]
    red = Finding("auth_log", Severity.RED, "user mallory added to group sudo", "Nov 20 05:00:00 homelab usermod[777]")
    prompt = review_prompt([*junk, red])
    assert len(prompt.encode()) < FINDINGS_BYTES + 1_000
    assert "- [red] auth_log: user mallory added to group sudo. Nov 20 05:00:00 homelab usermod[777]" in prompt
    assert prompt.count("… cut: ") == 5  # each junk finding cut to its own budget, said so


def test_a_long_section_cannot_crowd_the_verdict_out_of_the_summary_prompt():
    commits = [{"title": f"homelab {n:08x} a commit", "sha": f"{n:08x}", "severity": "warning"} for n in range(50_000)]
    sections = [
        Section(
            "security_triage",
            "Security triage",
            Status.RED,
            items=[{"title": "user mallory added to group sudo", "severity": "red"}],
        ),
        Section("code_reviews", "Code reviews", Status.AMBER, items=commits),
    ]
    prompt = summary_prompt(NIGHT, sections, ["Security triage: GREEN → RED."])
    assert len(prompt.encode()) < 5 * SECTION_BYTES + 1_000  # each of the prompt's fences within its budget
    needs_action = prompt.split("<<<DATA needs action>>>\n", 1)[1]
    assert needs_action.startswith(
        "RED Security triage: user mallory added to group sudo\n"
    )  # worst first, never crowded out
    assert '"finding": "user mallory added to group sudo"' in prompt and prompt.count("… cut: ") == 2
