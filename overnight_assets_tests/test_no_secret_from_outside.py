"""No secret from outside anywhere: every kind planted in a feed item's title and summary, an arXiv
paper's title, abstract and author, a sudo command and a junk line of the auth log, and the model's
answers; one nightly run on a real SQLite instance against loopback feeds, Ollama and Slack; then
every value is looked for in everything the program wrote or sent.

Each check also asserts that the place did come out, redacted, so it cannot pass because the text
was never read (the auth log shows only three junk lines as samples: a test of its own covers every
kind there).
"""

from __future__ import annotations

import json
import shutil

import pytest

from overnight_assets.config import load_config
from overnight_assets.definitions import build_defs
from overnight_assets.redaction import KINDS, placeholder, redact_secrets
from overnight_assets.triage.auth_log import auth_log_findings
from overnight_assets.triage.docker import container_findings
from overnight_assets_tests.testkit import SAMPLES
from overnight_assets_tests.testkit.config import write_config
from overnight_assets_tests.testkit.fake_ollama import FakeOllama
from overnight_assets_tests.testkit.fake_slack import FakeSlack
from overnight_assets_tests.testkit.feeds import Entry, FeedServer, Paper, Reply, arxiv_feed, at, rss2
from overnight_assets_tests.testkit.instances import loopback_instance
from overnight_assets_tests.testkit.planted_secrets import OUTSIDE_PLACES, everything_written, leaks, plant
from overnight_assets_tests.testkit.reading_runs import INTERESTS

NIGHT = "2026-11-20"
SAMPLED_JUNK = 3  # the auth log shows this many unparsed lines
# every pair that comes out: the junk lines after the sampled ones are counted, never shown
PLANTS = [
    (kind, place)
    for place in OUTSIDE_PLACES
    for n, kind in enumerate(KINDS)
    if place != "auth log junk" or n < SAMPLED_JUNK
]


def sudo_line(number: int, command: str) -> str:
    return f"Nov 20 05:{number:02d}:00 homelab sudo:      ana : TTY=pts/0 ; PWD=/home/ana ; USER=root ; COMMAND={command}\n"


def grant(number: int, kind: str) -> str:
    """A sudo run that grants sudo to bob<number>, the secret in the comment before the grant."""
    return sudo_line(number, f"/usr/sbin/usermod -c {plant(kind, 'sudo command').text} -aG sudo bob{number}")


def junk(kind: str) -> str:
    return f"junk {plant(kind, 'auth log junk').text}\n"


def model_answer() -> str:
    return " ".join(plant(kind, "model answer").text for kind in KINDS)


def served_feeds() -> FeedServer:
    feeds = FeedServer()
    feeds.routes["/feed"] = Reply(200, rss2([
        Entry(f"Ollama note {n}: {plant(kind, 'feed title').text}", f"https://example.org/n{n}", plant(kind, "feed summary").text, at(NIGHT))
        for n, kind in enumerate(KINDS)
    ]))  # fmt: skip
    feeds.routes["/api/query"] = Reply(200, arxiv_feed([
        Paper(f"2611.{n:05d}", f"GGUF paper {n}: {plant(kind, 'paper title').text}", f"Ollama. {plant(kind, 'paper abstract').text}",
              at(NIGHT), authors=(plant(kind, "paper author").text, "Ada Lovelace"))
        for n, kind in enumerate(KINDS)
    ]))  # fmt: skip
    return feeds


class Night:
    def __init__(self, sources: dict[str, bytes], home, instance):
        self.sources, self.home = sources, home
        self.triage = json.loads((home / "assets" / "security_triage" / f"{NIGHT}.json").read_text())
        self.briefing = (home / "briefings" / f"{NIGHT}.md").read_text()

    def shown(self, text: str) -> bool:
        """The text came out redacted somewhere (as it is, or inside JSON)."""
        redacted = redact_secrets(text)
        forms = {redacted.encode(), json.dumps(redacted)[1:-1].encode()}
        return any(form in data for data in self.sources.values() for form in forms)


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    root = tmp_path_factory.mktemp("outside")
    host = root / "host"
    shutil.copytree(SAMPLES, host)
    with open(host / "auth.log", "a") as log:
        log.writelines(grant(number, kind) for number, kind in enumerate(KINDS))
        log.writelines(junk(kind) for kind in KINDS)
    feeds, ollama, slack = (
        served_feeds(),
        FakeOllama(answer_text=model_answer(), overrides={"relevance": 8}),
        FakeSlack(),
    )
    ollama.overrides["actions"] = [model_answer()]
    try:
        with loopback_instance(root, ollama, slack) as (instance, dagster_home, ollama_url, slack_url):
            config = load_config(write_config(
                root, host, ollama_url, slack_url,
                reading__sources=[{"name": "Feed", "url": feeds.url("/feed")}],
                reading__interests=INTERESTS,
                reading__digest_size=len(KINDS),
                reading__arxiv={"queries": ["abs:gguf"], "api_url": feeds.url("/api/query"), "delay_s": 0.01, "num_retries": 0, "keep": len(KINDS)},
            ))  # fmt: skip
            assert (
                build_defs(config)
                .resolve_job_def("nightly")
                .execute_in_process(partition_key=NIGHT, instance=instance)
                .success
            )
            sources = everything_written(config.paths.home, dagster_home, instance)
            sources["ollama requests"] = json.dumps([ollama.chats, ollama.loads]).encode()
            sources["slack requests"] = json.dumps([slack.posts, slack.updates]).encode()
            assert len(slack.posts) == 1 and ollama.chats
            yield Night(sources, config.paths.home, instance)
    finally:
        feeds.close()


@pytest.mark.parametrize("kind, place", PLANTS, ids=[f"{kind} in {place}" for kind, place in PLANTS])
def test_a_secret_read_from_outside_appears_nowhere(night, kind, place):
    planted = plant(kind, place)
    assert leaks(night.sources, planted.value) == []
    if place == "model answer":
        assert placeholder(kind) in night.briefing  # the summary paragraph is the model's answer
    else:
        assert night.shown(planted.text), f"{place} never came out: the test proves nothing for it"


def test_the_secrets_around_the_grants_leave_the_verdict_red_with_every_grant_named(night):
    assert night.triage["status"] == "RED"
    titles = {finding["title"] for finding in night.triage["items"] if finding["severity"] == "red"}
    assert {f"user bob{number} added to group sudo" for number in range(len(KINDS))} <= titles
    assert night.briefing.startswith(f"# Morning briefing for {NIGHT}: RED")


# --- each collector on its own, where the night cannot reach -----------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_junk_line_s_sample_is_redacted_before_it_is_cut(kind):
    """A sample is cut at 120 characters: a secret redacted after the cut would leave its start."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    planted = plant(kind, "auth log junk")
    log = (f"x{'=' * 90} " + planted.text + "\n").encode()  # the secret straddles the cut
    zone = ZoneInfo("Europe/Bucharest")
    result = auth_log_findings(log, datetime(2026, 11, 20, tzinfo=zone), datetime(2026, 11, 21, tzinfo=zone), 10, set())
    [unparsed] = [finding for finding in result.findings if "could not be parsed" in finding.title]
    assert planted.value[:6] not in unparsed.detail and planted.value not in unparsed.detail


def test_a_sudo_command_s_secret_is_redacted_and_a_key_marker_does_not_hide_the_grant_after_it():
    """Findings show the command redacted; the judgement reads it as logged: a lone BEGIN marker
    (which redaction runs to the end of the line) must not swallow the `-aG sudo eve` after it."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Bucharest")
    log = sudo_line(1, "/usr/sbin/usermod -c -----BEGIN RSA PRIVATE KEY----- -aG sudo eve") + sudo_line(
        2, "/usr/bin/mysql --password=hunter2pw9 -e x"
    )
    result = auth_log_findings(
        log.encode(), datetime(2026, 11, 20, tzinfo=zone), datetime(2026, 11, 21, tzinfo=zone), 10, set()
    )
    [eve] = [finding for finding in result.findings if finding.title == "user eve added to group sudo"]
    assert eve.severity.value == "red" and "[redacted private key block]" in eve.detail and "-aG sudo" not in eve.detail
    assert "hunter2pw9" not in json.dumps([finding.to_dict() for finding in result.findings])


@pytest.mark.parametrize("kind", KINDS)
def test_a_container_s_name_error_and_health_output_are_redacted(kind):
    planted = plant(kind, "feed summary").text.replace("\n", " ")
    container = {
        "Name": f"/web-{planted}",
        "State": {"Status": "exited", "ExitCode": 1, "Error": f"env: {planted}",
                  "Health": {"Status": "unhealthy", "Log": [{"Output": "x" * 280 + " " + planted}]}},
        "Config": {"Healthcheck": {"Test": ["CMD", "true"]}},
    }  # fmt: skip
    findings = json.dumps([finding.to_dict() for finding in container_findings([container])])
    value = plant(kind, "feed summary").value
    assert value[:6] not in findings
    assert placeholder(kind) in findings
