"""A hostile Slack (or a proxy in front of it) never fails the delivery, never holds it for long and
never gets a secret written: whatever it answers, the message is delivered or kept in the outbox,
with a redacted reason, within the call's deadline."""

import threading
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from overnight_assets.briefing.delivery import deliver_pending, pending_partitions
from overnight_assets.resources.dagster_resources import SlackResource
from overnight_assets.resources.slack import MAX_PAGES
from overnight_assets_tests.testkit.loopback import RawReply
from overnight_assets_tests.testkit.resources import delivery_row, keep_message

NIGHT = "2026-11-20"
SECRET = "xoxb-2048-LEAK-Z8t4Vb7Nc1Md"


def deliver(tmp_path, slack_server, deadline_s: float = 120.0, limit_s: float = 30.0):
    """deliver_pending in a thread: a delivery still going after limit_s fails the test, not hangs it."""
    cortex = keep_message(tmp_path, NIGHT)
    poster = SlackResource(
        token_env="OVERNIGHT_TEST_SLACK_TOKEN", base_url=slack_server.url, backoff_s=0.01, timeout_s=deadline_s
    ).poster()
    outcome = {}
    worker = threading.Thread(
        target=lambda: outcome.update(report=deliver_pending(cortex, tmp_path / "outbox", poster)), daemon=True
    )
    worker.start()
    worker.join(limit_s)
    assert not worker.is_alive(), f"the delivery was still going after {limit_s} s"
    assert "report" in outcome, "deliver_pending raised: the morning_delivery step would fail"
    return cortex, outcome["report"]


def kept_with(cortex, report, reason: str) -> None:
    assert report.outcome == "kept in outbox" and report.pending == [NIGHT], report
    assert reason in report.error, report.error
    with cortex.connect() as db:
        attempts, last_error = db.execute("SELECT attempts, last_error FROM deliveries").fetchone()
    assert attempts == 1 and last_error == report.error  # the outbox sensor asks for another attempt


def test_a_non_json_page_quoting_a_secret_is_kept_in_the_outbox_and_the_secret_written_nowhere(
    tmp_path, slack_server, caplog
):
    slack_server.script = [
        (200, RawReply(f"<html>502 from the proxy, token={SECRET}</html>".encode(), "text/html"), {})
    ]
    cortex, report = deliver(tmp_path, slack_server)
    kept_with(
        cortex,
        report,
        "Received a response in a non-JSON format: <html>502 from the proxy, token=[redacted Slack token]",
    )
    assert (
        "non-JSON format" in caplog.text and SECRET not in caplog.text
    )  # slack-sdk's own log line, to stderr when not captured


def test_an_error_text_quoting_a_secret_is_redacted(tmp_path, slack_server):
    slack_server.script = [(200, {"ok": False, "error": f"invalid_auth for {SECRET}"}, {})]
    cortex, report = deliver(tmp_path, slack_server)
    kept_with(cortex, report, "error 'invalid_auth for [redacted Slack token]'")


@pytest.mark.parametrize(
    "answer, reason",
    [
        ((200, {"ok": False, "error": "ratelimited"}, {}), "HTTP 200, error 'ratelimited'"),
        ((503, {"ok": False}, {}), "HTTP 503"),
    ],
    ids=["ratelimited in a 200 without Retry-After", "503 forever"],
)
def test_a_refusal_that_lasts_keeps_the_message_for_the_outbox_sensor(tmp_path, slack_server, answer, reason):
    slack_server.script = [answer] * 20
    cortex, report = deliver(tmp_path, slack_server)
    kept_with(cortex, report, reason)
    assert slack_server.posts == []


def test_a_retry_after_given_as_an_http_date_is_waited_out(tmp_path, slack_server):
    """RFC 9110 allows a date; slack-sdk's int() of it raised ValueError out of the delivery."""
    now = format_datetime(datetime.now(UTC), usegmt=True)
    slack_server.script = [(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": now})]
    _, report = deliver(tmp_path, slack_server)
    assert report.delivered == [NIGHT] and len(slack_server.posts) == 1


def test_a_retry_after_of_a_day_is_left_to_the_outbox_not_slept(tmp_path, slack_server):
    slack_server.script = [(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "86400"})]
    cortex, report = deliver(tmp_path, slack_server)
    kept_with(cortex, report, "HTTP 429, error 'ratelimited'")


@pytest.mark.parametrize(
    "answer, reason",
    [
        (
            RawReply(b'{"ok": true}', "application/json; charset=x-no-such-charset"),
            "(LookupError: unknown encoding: x-no-such-charset)",
        ),
        (
            RawReply(b'{"ok": true, "ts": "\xff\xfe"}', "application/json; charset=utf-8"),
            "(UnicodeDecodeError: 'utf-8' codec can't decode",
        ),
        ({"ok": True}, "Slack accepted chat.postMessage but its answer names no channel and ts"),
    ],
    ids=["unknown charset", "not UTF-8", "ok without ts"],
)
def test_an_answer_that_cannot_be_read_keeps_the_message_with_the_reason(tmp_path, slack_server, answer, reason):
    slack_server.script = [(200, answer, {})]
    cortex, report = deliver(tmp_path, slack_server)
    kept_with(cortex, report, reason)


@pytest.mark.parametrize("hostile", ["trickle", "hang"])
def test_a_trickling_or_silent_slack_is_cut_off_at_the_call_s_deadline(tmp_path, slack_server, hostile):
    """urllib's 30 s timeout is per read: one byte every 0.2 s kept a post going for as long as Slack liked."""
    body = b'{"ok": true, "channel": "C0OVERNIGHT", "ts": "1.000001"}' + b" " * 1000
    slack_server.script = [(200, RawReply(body, trickle_s=0.2, hang=hostile == "hang"), {})]
    cortex, report = deliver(tmp_path, slack_server, deadline_s=1)
    kept_with(cortex, report, "Slack gave no complete answer to chat.postMessage within 1 s")
    assert delivery_row(cortex, NIGHT)[2]  # the intent stays: the next delivery looks for the post first


def unknown_outcome(cortex) -> None:
    with cortex.connect() as db:
        db.execute("UPDATE deliveries SET intent_at = now()")  # an earlier attempt whose outcome is unknown


@pytest.mark.parametrize(
    "history",
    [
        {"ok": True, "messages": "junk"},
        {"ok": True, "messages": None},
        {
            "ok": True,
            "messages": [
                1,
                "x",
                None,
                {
                    "ts": "not a number",
                    "metadata": {"event_type": "overnight_briefing", "event_payload": {"partition": NIGHT}},
                },
            ],
        },
    ],
    ids=["a string", "null", "junk entries"],
)
def test_junk_history_posts_the_message_once(tmp_path, slack_server, history):
    cortex = keep_message(tmp_path, NIGHT)
    unknown_outcome(cortex)
    slack_server.history_answer = history
    _, report = deliver(tmp_path, slack_server)
    assert report.delivered == [NIGHT] and len(slack_server.posts) == 1 and pending_partitions(cortex) == []


def test_a_history_cursor_sent_round_in_a_loop_is_read_a_bounded_number_of_pages(tmp_path, slack_server):
    cortex = keep_message(tmp_path, NIGHT)
    unknown_outcome(cortex)
    page = {"ok": True, "messages": [], "has_more": True, "response_metadata": {"next_cursor": "same-again"}}
    slack_server.history_answer = page
    _, report = deliver(tmp_path, slack_server)
    assert slack_server.requests == 1 + MAX_PAGES + 1  # the list, the pages read, the post
    assert report.delivered == [NIGHT] and len(slack_server.posts) == 1
    assert f"more than {MAX_PAGES} pages of messages" in report.warnings[0]


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_server_error_after_slack_stored_the_post_is_not_posted_again(tmp_path, slack_server, status):
    """A proxy answering 5xx while Slack stores the post (a gateway timeout): slack-sdk's retry
    posted it again, once per retry. The post is looked for in the history first."""
    slack_server.stored_then = [(status, {"ok": False}, {})] * 4
    cortex, report = deliver(tmp_path, slack_server)
    assert report.delivered == [NIGHT] and len(slack_server.posts) == 1 and pending_partitions(cortex) == []
    assert delivery_row(cortex, NIGHT)[1] == next(iter(slack_server.messages))  # the stored post is the one recorded


def test_a_server_error_before_anything_was_stored_is_posted_again_after_a_look(tmp_path, slack_server):
    slack_server.script = [(503, {"ok": False}, {})]
    _, report = deliver(tmp_path, slack_server)
    assert report.delivered == [NIGHT] and len(slack_server.posts) == 1
