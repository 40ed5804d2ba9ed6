"""Issue 7's rule against whole processes: `overnight run` killed with SIGKILL in the middle of a
step, then run again; the same night run twice at once; a night against an Ollama whose answer never
ends and a Slack that trickles. Every night still ends with a briefing file, one Slack post (or the
message kept in the outbox, saying why), and the security verdict the host's log gives."""

import os
import signal
import subprocess
from datetime import date

import dagster as dg

from overnight_assets.code_review.review import REVIEW_SYSTEM
from overnight_assets.demo.inputs import prepare_demo_repository
from overnight_assets_tests.testkit.config import write_config
from overnight_assets_tests.testkit.loopback import RawReply
from overnight_assets_tests.testkit.nights import (
    NEW_SUDO_USER,
    NIGHT,
    dagster_env,
    finished,
    metadata,
    overnight_run,
    posts_per_night,
    run_nightly,
)


def busy_config(tmp_path, host_files, ollama_server, slack_server):
    """A night with a RED verdict (a sudo grant) and commits to review."""
    with open(host_files / "auth.log", "a") as log:
        log.write(NEW_SUDO_USER)
    repo = prepare_demo_repository(date.fromisoformat(NIGHT), "Europe/Bucharest", tmp_path / "repos" / "homelab")
    return write_config(
        tmp_path,
        host_files,
        ollama_server.url,
        slack_server.url,
        code_review__repos=[{"name": "homelab", "path": str(repo)}],
    )


def kill(victim: list[subprocess.Popen]) -> None:
    """SIGKILL the whole night - the command, its code server and the run worker inside the step."""
    os.killpg(victim[0].pid, signal.SIGKILL)
    victim[0].wait()


def the_night_went_out_once(tmp_path, slack_server) -> str:
    briefing = (tmp_path / "home" / "briefings" / f"{NIGHT}.md").read_text()
    assert briefing.startswith(f"# Morning briefing for {NIGHT}: RED")
    assert "user mallory added to group sudo" in briefing  # the verdict, and why
    assert posts_per_night(slack_server) == {NIGHT: 1}
    return briefing


def runs(env) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        return instance.get_runs()


def test_killed_in_the_middle_of_code_reviews_the_rerun_recovers_the_slot_and_posts_once(
    tmp_path, host_files, ollama_server, slack_server
):
    config = busy_config(tmp_path, host_files, ollama_server, slack_server)
    env = dagster_env(tmp_path, slack_server)
    victim: list[subprocess.Popen] = []
    ollama_server.on_chat = lambda body: (
        kill(victim) if body["messages"][0]["content"].startswith(REVIEW_SYSTEM) and victim else None
    )
    victim.append(overnight_run(NIGHT, config, env))
    assert finished(victim[0])[0] == -signal.SIGKILL
    assert slack_server.posts == [] and [run.status for run in runs(env)] == [dg.DagsterRunStatus.STARTED]

    ollama_server.on_chat = None
    code, output = finished(overnight_run(NIGHT, config, env))
    assert code == 0, output[-3000:]
    assert f"overnight: run {runs(env)[-1].run_id}" in output and "is gone" in output  # the dead run recovered first
    the_night_went_out_once(tmp_path, slack_server)


def test_killed_in_the_middle_of_morning_delivery_the_rerun_posts_once(
    tmp_path, host_files, ollama_server, slack_server
):
    """Killed with the partition claimed and the intent recorded, before Slack stored the post: the
    rerun takes the dead run's claim over, finds no post in the history, and posts."""
    config = busy_config(tmp_path, host_files, ollama_server, slack_server)
    env = dagster_env(tmp_path, slack_server)
    victim: list[subprocess.Popen] = []

    def killed_before_stored(body):
        kill(victim)
        raise ConnectionAbortedError("the client is gone")  # the post is never stored

    slack_server.before_post = killed_before_stored
    victim.append(overnight_run(NIGHT, config, env))
    assert finished(victim[0])[0] == -signal.SIGKILL and slack_server.posts == []

    slack_server.before_post = None
    code, output = finished(overnight_run(NIGHT, config, env))
    assert code == 0, output[-3000:]
    the_night_went_out_once(tmp_path, slack_server)
    assert slack_server.updates == []


def test_the_same_night_run_twice_at_once_posts_once(tmp_path, host_files, ollama_server, slack_server):
    config = busy_config(tmp_path, host_files, ollama_server, slack_server)
    env = dagster_env(tmp_path, slack_server)
    slack_server.delay_s = 0.5  # both deliveries meet while a post is in flight
    both = [overnight_run(NIGHT, config, env) for _ in range(2)]
    for code, output in map(finished, both):
        assert code == 0, output[-3000:]
    the_night_went_out_once(tmp_path, slack_server)
    assert [run.status for run in runs(env)] == [dg.DagsterRunStatus.SUCCESS] * 2


def test_an_endless_ollama_and_a_trickling_slack_cost_the_night_nothing_but_time(
    busy_night,
    instance,
    ollama_server,
    slack_server,
):
    ollama_server.hostile = "endless"
    slack_server.script = [(200, RawReply(b'{"ok": true}' + b" " * 1000, trickle_s=0.2), {})]
    config = busy_night(ollama_server.url, slack__base_url=slack_server.url, slack__timeout_s=1)
    assert run_nightly(config, instance).success
    assert metadata(instance, "security_triage")["status"] == "RED"
    assert "an answer larger than 8 MB" in metadata(instance, "security_triage")["llm_unavailable_reason"]
    briefing = config.paths.briefing(NIGHT).read_text()
    assert (
        briefing.startswith(f"# Morning briefing for {NIGHT}: RED") and "user mallory added to group sudo" in briefing
    )
    delivery = metadata(instance, "morning_delivery")
    assert (
        delivery["delivery"] == "kept in outbox"
        and "no complete answer to chat.postMessage within 1 s" in delivery["error"]
    )
    assert (config.paths.outbox / f"{NIGHT}.json").exists()
