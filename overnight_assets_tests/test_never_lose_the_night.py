"""Never lose the night: `overnight run` in real processes, a briefing file and ONE Slack post per night.

A failed section still gives the morning message (with the security verdict, or "Security
triage FAILED"); three nights running at once against a slow Slack post each night once; a run
killed after Slack accepted its post leaves a rerun nothing to post, only the message to update.
"""

import os
import signal
import subprocess
import time

from overnight_assets_tests.testkit.config import write_config
from overnight_assets_tests.testkit.nights import FAILED_LOGINS, dagster_env, finished, overnight_run, posts_per_night


def answer_once(condition, timeout_s: float = 120):
    """A FakeSlack.after_post hook: the first answer waits (polling) until the condition holds."""
    released = []

    def hold(body):
        deadline = time.monotonic() + timeout_s
        while not released and not condition() and time.monotonic() < deadline:
            time.sleep(0.05)
        released.append(True)

    return hold


def test_a_failed_triage_still_gives_a_red_briefing_and_one_post(tmp_path, host_files, unused_url, slack_server):
    """Ollama down with `on_unavailable: fail` and an attack in the auth log: security_triage fails,
    so Dagster skips the briefing in that run; `overnight run` sends it anyway and exits 1."""
    with open(host_files / "auth.log", "a") as log:
        log.write(FAILED_LOGINS)
    config = write_config(tmp_path, host_files, unused_url, slack_server.url, llm__on_unavailable="fail")
    code, output = finished(overnight_run("2026-11-20", config, dagster_env(tmp_path, slack_server)))
    assert code == 1, output[-3000:]
    assert "the briefing went out anyway" in output
    briefing = (tmp_path / "home" / "briefings" / "2026-11-20.md").read_text()
    assert briefing.startswith("# Morning briefing for 2026-11-20: RED")
    assert "**Security triage FAILED: no security verdict tonight.**" in briefing
    assert "[The run in the Dagster UI](http://127.0.0.1:3000/runs/" in briefing
    assert posts_per_night(slack_server) == {"2026-11-20": 1}
    assert "Security triage FAILED" in str(slack_server.posts[0]["blocks"])


def test_three_nights_at_once_with_a_slow_slack_post_each_night_once(tmp_path, host_files, ollama_server, slack_server):
    config = write_config(tmp_path, host_files, ollama_server.url, slack_server.url)
    env = dagster_env(tmp_path, slack_server)
    nights = ["2026-11-18", "2026-11-19", "2026-11-20"]
    outbox = tmp_path / "home" / "outbox"
    slack_server.delay_s = 0.5
    # Slack keeps the first post's answer until every run has kept its message, so each run's
    # delivery surely finds the others' nights pending while a post is in flight
    slack_server.after_post = answer_once(lambda: len(list(outbox.glob("*.json"))) == len(nights))
    runs = [overnight_run(night, config, env) for night in nights]
    for code, output in map(finished, runs):
        assert code == 0, output[-3000:]
    assert posts_per_night(slack_server) == {night: 1 for night in nights}
    assert sorted(p.name for p in (tmp_path / "home" / "briefings").iterdir()) == [f"{night}.md" for night in nights]


def test_a_run_killed_after_slack_accepted_leaves_its_rerun_only_an_update(
    tmp_path, host_files, ollama_server, slack_server
):
    config = write_config(tmp_path, host_files, ollama_server.url, slack_server.url)
    env = dagster_env(tmp_path, slack_server)
    victim: list[subprocess.Popen] = []
    # the run worker that posted dies before Slack's answer reaches it, and its command with it
    slack_server.after_post = lambda body: (os.killpg(victim[0].pid, signal.SIGKILL), victim[0].wait())
    victim.append(overnight_run("2026-11-20", config, env))
    assert finished(victim[0])[0] == -signal.SIGKILL
    assert len(slack_server.posts) == 1

    slack_server.after_post = None
    code, output = finished(overnight_run("2026-11-20", config, env))
    assert code == 0, output[-3000:]
    assert posts_per_night(slack_server) == {"2026-11-20": 1} and len(slack_server.updates) == 1
    assert slack_server.updates[0]["ts"] in slack_server.messages
