"""No secret anywhere: every kind planted in every place of a real repository's history, one
nightly run on a real SQLite instance against loopback Ollama and Slack, and the new-commits
sensor's two looks; then every value is looked for in everything the program wrote or sent.

One repository, one run, then one check per (kind, place). Each check also asserts that the
place did reach the outputs, redacted, so it cannot pass because the text was never read (tags
are the exception: nothing reads them).
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from overnight_assets.code_review.review import REVIEW_SYSTEM
from overnight_assets.config import load_config
from overnight_assets.definitions import build_defs
from overnight_assets.redaction import KINDS, redact_secrets
from overnight_assets_tests.testkit import SAMPLES
from overnight_assets_tests.testkit.config import write_config
from overnight_assets_tests.testkit.fake_ollama import FakeOllama
from overnight_assets_tests.testkit.fake_slack import FakeSlack
from overnight_assets_tests.testkit.git_history import NIGHT, GitRepo, plant_everywhere
from overnight_assets_tests.testkit.instances import loopback_instance
from overnight_assets_tests.testkit.planted_secrets import PLANTS_OF_PLACES, everything_written, leaks, plant

FENCE_END = "<<<END DATA>>>"


class Night:
    """What one night of the program wrote and sent, by source, and where to look things up."""

    def __init__(self, sources: dict[str, bytes], shas: dict[str, str], home, chats: list[dict]):
        self.sources, self.shas, self.home, self.chats = sources, shas, home, chats

    def leaks(self, value: str) -> list[str]:
        return leaks(self.sources, value)

    def asset(self, name: str) -> dict:
        return json.loads((self.home / "assets" / name / f"{NIGHT}.json").read_text())

    def item(self, place: str) -> dict:
        return next(item for item in self.asset("code_reviews")["items"] if item["sha"] == self.shas[place])


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    root = tmp_path_factory.mktemp("night")
    repo = GitRepo(root / "repos" / "homelab")
    repo.commit("Initial commit", {"README.md": "# homelab\n"})
    shas = plant_everywhere(repo)
    host = root / "host"
    shutil.copytree(SAMPLES, host)
    ollama, slack = FakeOllama(), FakeSlack()
    with loopback_instance(root, ollama, slack) as (instance, dagster_home, ollama_url, slack_url):
        repos = [{"name": "homelab", "path": str(repo.path)}]
        config = load_config(
            write_config(root, host, ollama_url, slack_url, code_review__repos=repos, code_review__max_llm_reviews=100)
        )
        defs = build_defs(config)
        assert defs.resolve_job_def("nightly").execute_in_process(partition_key=NIGHT, instance=instance).success
        sensor_output = look_twice(defs, instance, repo)
        sources = everything_written(config.paths.home, dagster_home, instance)
        sources["ollama requests"] = json.dumps([ollama.chats, ollama.loads]).encode()
        sources["slack requests"] = json.dumps([slack.posts, slack.updates]).encode()
        sources["sensor cursor, requests and messages"] = sensor_output.encode()
        assert slack.posts and ollama.chats  # the night did reach both
        yield Night(sources, shas, config.paths.home, ollama.chats)


def look_twice(defs, instance, repo: GitRepo) -> str:
    """The sensor's first look (its cursor records every branch) and, after every leaking branch
    moved, its second (a run request tagged with the moved branches)."""
    sensor = defs.resolve_sensor_def("new_commits_sensor")
    seen = []
    cursor = None
    for round_ in (1, 2):
        if round_ == 2:
            now = datetime.now(ZoneInfo("Europe/Bucharest"))
            for branch in repo.git("for-each-ref", "--format=%(refname:short)", "refs/heads/").splitlines()[
                :-2
            ]:  # not main, side
                repo.checkout(branch)
                repo.commit("More work", {"more.txt": "more\n"}, at=now)
            repo.checkout("main")
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, repository_def=defs.get_repository_def()
        ) as context:
            result = sensor.evaluate_tick(context)
        cursor = result.cursor
        seen += [
            cursor or "",
            result.skip_message or "",
            *(json.dumps(request.tags) for request in result.run_requests),
        ]
    assert "leak-" in seen[-1]  # the second look requested a run for the moved branches
    return "\n".join(seen)


def reached(night: Night, kind: str, place: str) -> bool:
    """The place was read and its text came out redacted (or, for a message or an email, as a finding)."""
    shown, digest = f"[redacted {kind}]", night.asset("pr_digest")
    if place == "subject":
        return shown in night.item(place)["subject"]
    if place == "author name":
        return shown in night.item(place)["author"]
    if place in ("body", "author email"):
        where = "commit message" if place == "body" else "author"
        expected = f"secret in the {where} of {night.shas[place][:8]}: {kind} (value withheld)"
        return expected in [finding["message"] for finding in night.item(place)["findings"]]
    if place == "file path":
        return any(shown in finding["file"] for finding in night.item(place)["findings"])
    if place == "diff line":
        return any(
            night.shas[place][:12] in chat["messages"][1]["content"] and shown in chat["messages"][1]["content"]
            for chat in night.chats
        )
    if place == "branch name":
        waiting = [branch["name"] for repo in digest["items"] for branch in repo["waiting"]]
        return (
            any(shown in name for name in waiting)
            and f"secret in a branch name: {kind} (value withheld)" in digest["markdown"]
        )
    if place == "merge message":
        return f"secret in the commit message of {night.shas[place][:8]}: {kind} (value withheld)" in digest["markdown"]
    return place == "tag name"  # nothing reads tags: only their absence can be checked


@pytest.mark.parametrize(
    "kind, place", PLANTS_OF_PLACES, ids=[f"{kind} in {place}" for kind, place in PLANTS_OF_PLACES]
)
def test_a_planted_secret_appears_nowhere(night, kind, place):
    assert night.leaks(plant(kind, place).value) == []
    assert reached(night, kind, place)


def test_secrets_in_commits_make_both_sections_red_and_name_where(night):
    reviews, digest = night.asset("code_reviews"), night.asset("pr_digest")
    assert reviews["status"] == "RED" and digest["status"] == "RED"
    assert (
        f"secret in the commit message of {night.shas['subject'][:8]}: AWS access key id (value withheld)"
        in reviews["markdown"]
    )
    briefing = (night.home / "briefings" / f"{NIGHT}.md").read_text()
    assert "## Code reviews: RED" in briefing and "## What landed, what is waiting: RED" in briefing


def test_the_model_receives_each_commit_s_text_only_inside_the_data_fences(night):
    """Outside the fences the prompt holds only the program's own line; the subject is the
    commit-message fence, every file of the diff is in the diff fence."""
    reviewed = {
        item["sha"][:12]: item for item in night.asset("code_reviews")["items"] if item["review_source"] == "llm"
    }
    reviews = [
        chat["messages"][1]["content"]
        for chat in night.chats
        if chat["messages"][0]["content"].startswith(REVIEW_SYSTEM)
    ]
    assert len(reviews) == len(reviewed) > 10
    for prompt in reviews:
        outside, fences = split_fences(prompt)
        sha = outside.removeprefix("Repository homelab, commit ").removesuffix(".")
        assert outside == f"Repository homelab, commit {sha}." and sha in reviewed
        assert fences["commit message"] == reviewed[sha]["subject"] and fences["author"] == reviewed[sha]["author"]
        assert fences["diff"].startswith("diff --git ")
    diff = split_fences(next(prompt for prompt in reviews if night.shas["diff line"][:12] in prompt))[1][
        "diff"
    ].splitlines()
    assert all(f"+{redact_secrets(plant(kind, 'diff line').text).splitlines()[0]}" in diff for kind in KINDS)


def split_fences(prompt: str) -> tuple[str, dict[str, str]]:
    """The prompt's text outside the <<<DATA label>>> ... <<<END DATA>>> fences, and each fence's content."""
    outside, fences, rest = [], {}, prompt
    while "<<<DATA " in rest:
        before, _, rest = rest.partition("<<<DATA ")
        label, _, rest = rest.partition(">>>\n")
        content, found, rest = rest.partition(f"\n{FENCE_END}")
        assert found and label not in fences, f"fence {label!r} is not closed once"
        outside.append(before)
        fences[label] = content
    outside.append(rest)
    return "".join(outside).strip(), fences
