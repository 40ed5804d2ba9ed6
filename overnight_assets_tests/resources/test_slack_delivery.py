"""The real slack-sdk against a loopback Slack Web API: post, update, 429, 500, invalid_auth, outbox."""

import json

from overnight_assets.briefing.delivery import deliver_pending, keep_in_outbox, pending_partitions
from overnight_assets.resources.cortex import Cortex
from overnight_assets.resources.definitions import SlackResource

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]


def poster(slack_server, token_env="OVERNIGHT_TEST_SLACK_TOKEN"):
    return SlackResource(token_env=token_env, base_url=slack_server.url, backoff_s=0.01).poster()


def keep(tmp_path, partition, text="text"):
    cortex = Cortex(tmp_path / "cortex.duckdb")
    keep_in_outbox(cortex, tmp_path / "outbox", partition, text, BLOCKS)
    return cortex


def test_post_then_rerun_updates_the_same_message(tmp_path, slack_server):
    cortex = keep(tmp_path, "2026-11-20", "first")
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.delivered == ["2026-11-20"] and report.pending == []
    assert not (tmp_path / "outbox" / "2026-11-20.json").exists()
    keep(tmp_path, "2026-11-20", "second")
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.updated == ["2026-11-20"]
    assert len(slack_server.posts) == 1 and len(slack_server.updates) == 1
    assert slack_server.updates[0]["text"] == "second" and slack_server.posts[0]["blocks"] == BLOCKS


def test_rate_limit_honours_retry_after(tmp_path, slack_server):
    slack_server.script = [(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"})]
    report = deliver_pending(keep(tmp_path, "2026-11-20"), tmp_path / "outbox", poster(slack_server))
    assert report.delivered == ["2026-11-20"] and slack_server.requests == 2


def test_server_errors_are_retried_with_backoff(tmp_path, slack_server):
    slack_server.script = [(500, {"ok": False}, {}), (502, {"ok": False}, {})]
    report = deliver_pending(keep(tmp_path, "2026-11-20"), tmp_path / "outbox", poster(slack_server))
    assert report.delivered == ["2026-11-20"] and slack_server.requests == 3


def test_persistent_failure_keeps_the_message_and_the_next_run_delivers_it(tmp_path, slack_server):
    slack_server.script = [(500, {"ok": False}, {})] * 4
    cortex = keep(tmp_path, "2026-11-19")
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.outcome == "kept in outbox" and "HTTP 500" in report.error
    assert report.pending == ["2026-11-19"]
    assert json.loads((tmp_path / "outbox" / "2026-11-19.json").read_text())["text"] == "text"
    keep(tmp_path, "2026-11-20")
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.delivered == ["2026-11-19", "2026-11-20"] and pending_partitions(cortex) == []


def test_invalid_auth_is_named_and_nothing_is_lost(tmp_path, slack_server, monkeypatch):
    monkeypatch.setenv("OTHER_TOKEN", "xoxb-wrong-secret")
    report = deliver_pending(keep(tmp_path, "2026-11-20"), tmp_path / "outbox", poster(slack_server, "OTHER_TOKEN"))
    assert "invalid_auth" in report.error and "xoxb-wrong-secret" not in report.error
    assert report.pending == ["2026-11-20"]


def test_unset_token_means_outbox_only(tmp_path, monkeypatch):
    monkeypatch.delenv("OVERNIGHT_UNSET_TOKEN", raising=False)
    assert SlackResource(token_env="OVERNIGHT_UNSET_TOKEN").poster() is None
    cortex = keep(tmp_path, "2026-11-20")
    report = deliver_pending(cortex, tmp_path / "outbox", None)
    assert report.outcome.startswith("outbox only") and report.pending == ["2026-11-20"]
