"""The real slack-sdk against a loopback Slack Web API: post, update, 429, 500, invalid_auth, outbox."""

import json
import os
import signal
import socket
import subprocess
import sys
from typing import get_args

from overnight_assets.briefing.delivery import (
    DeliveryState,
    claim_partition,
    deliver_pending,
    delivery_owner,
    keep_in_outbox,
    pending_partitions,
)
from overnight_assets.resources.cortex import Cortex
from overnight_assets.resources.dagster_resources import SlackResource
from overnight_assets_tests.testkit.resources import BLOCKS, delivery_row, keep_message


def poster(slack_server, token_env="OVERNIGHT_TEST_SLACK_TOKEN"):
    return SlackResource(token_env=token_env, base_url=slack_server.url, backoff_s=0.01).poster()


def test_post_then_rerun_updates_the_same_message(tmp_path, slack_server):
    cortex = keep_message(tmp_path, "2026-11-20", "first")
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.delivered == ["2026-11-20"] and report.pending == []
    assert not (tmp_path / "outbox" / "2026-11-20.json").exists()
    keep_message(tmp_path, "2026-11-20", "second")
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.updated == ["2026-11-20"]
    assert len(slack_server.posts) == 1 and len(slack_server.updates) == 1
    assert slack_server.updates[0]["text"] == "second" and slack_server.posts[0]["blocks"] == BLOCKS


def test_rate_limit_honours_retry_after(tmp_path, slack_server):
    slack_server.script = [(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"})]
    report = deliver_pending(keep_message(tmp_path, "2026-11-20"), tmp_path / "outbox", poster(slack_server))
    assert report.delivered == ["2026-11-20"] and slack_server.requests == 2


def test_server_errors_are_retried_with_backoff_a_post_looked_for_first(tmp_path, slack_server):
    """A post that got a 5xx may be stored (see test_hostile_slack.py): the history is read (its
    502 retried) before it is posted again."""
    slack_server.script = [(500, {"ok": False}, {}), (502, {"ok": False}, {})]
    report = deliver_pending(keep_message(tmp_path, "2026-11-20"), tmp_path / "outbox", poster(slack_server))
    assert report.delivered == ["2026-11-20"] and len(slack_server.posts) == 1
    assert slack_server.requests == 5  # post, conversations.list twice, conversations.history, post


def test_persistent_failure_keeps_the_message_and_the_next_run_delivers_it(tmp_path, slack_server):
    slack_server.script = [(500, {"ok": False}, {})] * 5  # the post, then the look for it and its 3 retries
    cortex = keep_message(tmp_path, "2026-11-19")
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.outcome == "kept in outbox" and "HTTP 500" in report.error
    assert report.pending == ["2026-11-19"]
    assert json.loads((tmp_path / "outbox" / "2026-11-19.json").read_text())["text"] == "text"
    keep_message(tmp_path, "2026-11-20")
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.delivered == ["2026-11-19", "2026-11-20"] and pending_partitions(cortex) == []


def test_invalid_auth_is_named_and_nothing_is_lost(tmp_path, slack_server, monkeypatch):
    monkeypatch.setenv("OTHER_TOKEN", "xoxb-wrong-secret")
    report = deliver_pending(
        keep_message(tmp_path, "2026-11-20"), tmp_path / "outbox", poster(slack_server, "OTHER_TOKEN")
    )
    assert "invalid_auth" in report.error and "xoxb-wrong-secret" not in report.error
    assert report.pending == ["2026-11-20"]


def test_unset_token_means_outbox_only(tmp_path, monkeypatch):
    monkeypatch.delenv("OVERNIGHT_UNSET_TOKEN", raising=False)
    assert SlackResource(token_env="OVERNIGHT_UNSET_TOKEN").poster() is None
    cortex = keep_message(tmp_path, "2026-11-20")
    report = deliver_pending(cortex, tmp_path / "outbox", None)
    assert report.outcome.startswith("outbox only") and report.pending == ["2026-11-20"]


def test_a_delivery_ends_in_one_of_the_states_its_type_names(tmp_path, slack_server):
    cortex = keep_message(tmp_path, "2026-11-20")
    states = [deliver_pending(cortex, tmp_path / "outbox", None).outcome]
    slack_server.script = [(500, {"ok": False}, {})] * 5  # the post, then the look for it and its 3 retries
    states.append(deliver_pending(cortex, tmp_path / "outbox", poster(slack_server)).outcome)
    states.append(deliver_pending(cortex, tmp_path / "outbox", poster(slack_server)).outcome)
    assert states == ["outbox only (Slack not configured)", "kept in outbox", "delivered"]
    assert set(states) == set(get_args(DeliveryState))


# --- once per partition: claims, intent, Slack metadata --------------------------------------

DELIVER = """
import json, sys
from pathlib import Path
from overnight_assets.briefing.delivery import deliver_pending
from overnight_assets.resources.cortex import Cortex
from overnight_assets.resources.dagster_resources import SlackResource

poster = SlackResource(token_env="OVERNIGHT_TEST_SLACK_TOKEN", base_url=sys.argv[2], backoff_s=0.01).poster()
report = deliver_pending(Cortex(sys.argv[1]), Path(sys.argv[1]).parent / "outbox", poster)
print(json.dumps(vars(report)))
"""


def delivering_process(tmp_path, slack_server) -> subprocess.Popen:
    """Another process delivering the shared outbox, as another run's morning_delivery does."""
    command = [sys.executable, "-c", DELIVER, str(tmp_path / "cortex.duckdb"), slack_server.url]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def posted_partitions(slack_server) -> list[str]:
    return sorted(post["metadata"]["event_payload"]["partition"] for post in slack_server.posts)


def test_each_post_names_its_partition_in_slack_metadata(tmp_path, slack_server):
    deliver_pending(keep_message(tmp_path, "2026-11-20"), tmp_path / "outbox", poster(slack_server))
    metadata = {"event_type": "overnight_briefing", "event_payload": {"partition": "2026-11-20"}}
    assert slack_server.posts[0]["metadata"] == metadata


def test_three_runs_delivering_at_once_post_each_night_once(tmp_path, slack_server):
    """Each run delivers every pending partition of the shared outbox; with Slack slow to answer,
    all three see all three nights pending at once. The per-partition claim lets one post each."""
    nights = ["2026-11-18", "2026-11-19", "2026-11-20"]
    for night in nights:
        keep_message(tmp_path, night, f"briefing {night}")
    slack_server.delay_s = 0.5
    processes = [delivering_process(tmp_path, slack_server) for _ in nights]
    reports = [json.loads(process.communicate(timeout=120)[0]) for process in processes]
    assert posted_partitions(slack_server) == nights, reports
    assert sorted(sum((r["delivered"] for r in reports), [])) == nights and slack_server.updates == []
    assert pending_partitions(Cortex(tmp_path / "cortex.duckdb")) == []


def test_killed_after_slack_accepted_the_rerun_updates_the_one_message(tmp_path, slack_server):
    """The delivering process dies (SIGKILL) after Slack stored the post, before it was recorded.
    The rerun takes over the dead process's claim, finds the post by its metadata and updates it."""
    cortex = keep_message(tmp_path, "2026-11-20", "first")
    victim: list[subprocess.Popen] = []
    slack_server.after_post = lambda body: (os.kill(victim[0].pid, signal.SIGKILL), victim[0].wait())
    victim.append(delivering_process(tmp_path, slack_server))
    assert victim[0].wait(timeout=120) == -signal.SIGKILL
    pending, ts, intent_recorded, claimed_by = delivery_row(cortex, "2026-11-20")
    assert (pending, ts, intent_recorded) == (True, None, True) and f":{victim[0].pid}:" in claimed_by

    slack_server.after_post = None
    keep_message(tmp_path, "2026-11-20", "second")
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.delivered == ["2026-11-20"] and report.updated == ["2026-11-20"], report
    assert len(slack_server.posts) == 1 and len(slack_server.updates) == 1
    [(posted_ts, message)] = slack_server.messages.items()
    assert slack_server.updates[0]["ts"] == posted_ts and message["text"] == "second"
    assert delivery_row(cortex, "2026-11-20") == (False, posted_ts, False, None)


def test_a_connection_dropped_after_acceptance_is_not_posted_again_blindly(tmp_path, slack_server):
    """Slack stored the post but the answer never came: slack-sdk's connection retry would post it
    again. It is kept (intent recorded) and the next delivery updates what Slack has."""
    dropped = []

    def drop_the_answer(body):
        if not dropped:
            dropped.append(body)
            raise ConnectionAbortedError("the proxy dropped the answer")  # the server closes the connection

    slack_server.after_post = drop_the_answer
    cortex = keep_message(tmp_path, "2026-11-20")
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.outcome == "kept in outbox" and len(slack_server.posts) == 1
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.updated == ["2026-11-20"] and len(slack_server.posts) == 1 and pending_partitions(cortex) == []


def test_a_live_claim_is_respected_a_dead_or_expired_one_taken_over(tmp_path):
    cortex = keep_message(tmp_path, "2026-11-20")
    me = delivery_owner("run-a")
    assert claim_partition(cortex, "2026-11-20", me) is not None
    assert claim_partition(cortex, "2026-11-20", delivery_owner("run-b")) is None  # this process lives
    assert claim_partition(cortex, "2026-11-20", me) is not None  # its owner may come back

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = f"{socket.gethostname()}:{finished.stdout.strip()}:run-killed"
    elsewhere = "gpu-host:1:run-elsewhere"
    for holder, taken_over in ((dead, True), (elsewhere, False)):
        with cortex.connect() as db:
            db.execute("UPDATE deliveries SET claimed_by = ?, claim_expires = now() + INTERVAL 10 MINUTE", [holder])
        assert (claim_partition(cortex, "2026-11-20", me) is not None) is taken_over, holder
    with cortex.connect() as db:
        db.execute("UPDATE deliveries SET claim_expires = now() - INTERVAL 1 SECOND")
    assert claim_partition(cortex, "2026-11-20", me) is not None  # another host's claim, expired


def test_a_text_kept_while_posting_stays_pending_and_updates_the_message(tmp_path, slack_server):
    cortex = keep_message(tmp_path, "2026-11-20", "first")
    slack_server.after_post = lambda body: keep_message(tmp_path, "2026-11-20", "rerun's text")
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.delivered == ["2026-11-20"] and report.pending == ["2026-11-20"]
    assert (tmp_path / "outbox" / "2026-11-20.json").exists()
    slack_server.after_post = None
    deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert len(slack_server.posts) == 1 and slack_server.updates[0]["text"] == "rerun's text"


def test_history_unreadable_posts_anyway_and_says_so(tmp_path, slack_server):
    """A missing scope must not cost the morning: the message goes out, with a warning."""
    cortex = keep_message(tmp_path, "2026-11-20")
    with cortex.connect() as db:
        db.execute("UPDATE deliveries SET intent_at = now()")  # an attempt whose outcome is unknown
    slack_server.script = [(200, {"ok": False, "error": "missing_scope", "needed": "channels:read"}, {})]
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.delivered == ["2026-11-20"] and len(slack_server.posts) == 1
    assert (
        "could not look for an earlier post of 2026-11-20 (HTTP 200, error 'missing_scope'); posting it"
        in report.warnings
    )


def test_retry_after_is_honoured_as_the_server_sees_it(tmp_path, slack_server):
    """A 429 with Retry-After: 1: the retry reaches the server no sooner than a second later."""
    slack_server.script = [(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})]
    report = deliver_pending(keep_message(tmp_path, "2026-11-20"), tmp_path / "outbox", poster(slack_server))
    assert report.delivered == ["2026-11-20"]
    (limited, _), (retried, path) = slack_server.arrivals[:2]
    assert path.endswith("/chat.postMessage") and retried - limited >= 1.0


# --- past 50 blocks: the rest in the message's thread, once --------------------------------------

REPLIES = [
    {"text": f"continued ({n} of 2)", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"part {n}"}}]}
    for n in (1, 2)
]


def keep_long(tmp_path, partition, replies=REPLIES, text="text"):
    cortex = Cortex(tmp_path / "cortex.duckdb")
    keep_in_outbox(cortex, tmp_path / "outbox", partition, text, BLOCKS, replies)
    return cortex


def thread_of(slack_server, partition="2026-11-20"):
    """(the message's ts, [(reply ts, reply)] in its thread) of the partition's one message."""
    [(ts, _)] = [(ts, m) for ts, m in slack_server.messages.items() if not m.get("thread_ts")]
    return ts, slack_server.thread(ts)


def reply_ts(cortex, partition="2026-11-20"):
    with cortex.connect() as db:
        return json.loads(
            db.execute("SELECT reply_ts FROM deliveries WHERE partition_key = ?", [partition]).fetchone()[0] or "[]"
        )


def test_replies_go_into_the_thread_and_a_rerun_updates_them(tmp_path, slack_server):
    cortex = keep_long(tmp_path, "2026-11-20")
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.delivered == ["2026-11-20"] and report.pending == []
    ts, replies = thread_of(slack_server)
    assert [reply["text"] for _, reply in replies] == ["continued (1 of 2)", "continued (2 of 2)"]
    assert [reply["metadata"]["event_payload"] for _, reply in replies] == [
        {"partition": "2026-11-20", "part": n} for n in (1, 2)
    ]
    assert reply_ts(cortex) == [reply for reply, _ in replies]

    keep_long(tmp_path, "2026-11-20", [{**reply, "text": reply["text"] + ", again"} for reply in REPLIES])
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.updated == ["2026-11-20"] and len(slack_server.posts) == 3 and len(slack_server.updates) == 3
    assert [reply["text"] for _, reply in thread_of(slack_server)[1]] == [
        "continued (1 of 2), again",
        "continued (2 of 2), again",
    ]


def test_killed_after_slack_accepted_a_reply_the_rerun_posts_nothing_twice(tmp_path, slack_server):
    """The second reply is in Slack, its ts never recorded (the first one's was): the rerun updates
    the message and the first reply, finds the second in the thread by its metadata and updates it."""
    cortex = keep_long(tmp_path, "2026-11-20")
    victim: list[subprocess.Popen] = []

    def kill_on_the_second_reply(body):
        if body.get("metadata", {}).get("event_payload", {}).get("part") == 2:
            os.kill(victim[0].pid, signal.SIGKILL)
            victim[0].wait()

    slack_server.after_post = kill_on_the_second_reply
    victim.append(delivering_process(tmp_path, slack_server))
    assert victim[0].wait(timeout=120) == -signal.SIGKILL
    pending, ts, intent_recorded, _ = delivery_row(cortex, "2026-11-20")
    _, replies = thread_of(slack_server)
    assert pending and ts is not None and intent_recorded and reply_ts(cortex) == [replies[0][0]]

    slack_server.after_post = None
    report = deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert report.delivered == ["2026-11-20"], report
    message_ts, replies = thread_of(slack_server)
    assert message_ts == ts and len(slack_server.posts) == 3 and len(replies) == 2  # nothing posted twice
    assert len(slack_server.updates) == 3 and delivery_row(cortex, "2026-11-20")[0] is False
    assert reply_ts(cortex) == [reply for reply, _ in replies]


def test_a_shorter_version_deletes_the_replies_it_no_longer_needs(tmp_path, slack_server):
    cortex = keep_long(tmp_path, "2026-11-20")
    deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    _, [first, second] = thread_of(slack_server)
    keep_long(tmp_path, "2026-11-20", REPLIES[:1])
    deliver_pending(cortex, tmp_path / "outbox", poster(slack_server))
    assert slack_server.deleted == [second[0]] and thread_of(slack_server)[1] == [
        (first[0], slack_server.messages[first[0]])
    ]
    assert reply_ts(cortex) == [first[0]]
