"""The deterministic checks on real commits: large files, conflict markers, and every secret kind
in every text a commit carries (added lines, file names, the message, the author)."""

from __future__ import annotations

import git
import pytest

from overnight_assets.code_review.code_reviews import prepare_night
from overnight_assets.code_review.git import GitRepository
from overnight_assets.code_review.pr_digest import digest_repository
from overnight_assets.config import CodeReviewConfig, Repo
from overnight_assets.redaction import KINDS
from overnight_assets_tests.testkit.git_history import WINDOW, WINDOW_END, WINDOW_START, GitRepo, at, plant_everywhere
from overnight_assets_tests.testkit.planted_secrets import PLANTS_OF_PLACES, plant

COMMIT_PLACES = ("subject", "body", "author name", "author email", "file path", "diff line")


def findings_of(repo, tmp_path, **settings) -> dict:
    config = CodeReviewConfig(repos=[Repo(name="homelab", path=str(repo.path))], **settings)
    prepared, [outcome] = prepare_night(config, WINDOW, tmp_path / "cache")
    assert outcome.outcome == "ok", outcome.error
    return {item.commit.sha: item.findings for item in prepared}


@pytest.fixture(scope="module")
def leaky(tmp_path_factory):
    """One repository for every kind and place: made once for the module."""
    repo = GitRepo(tmp_path_factory.mktemp("leaky") / "homelab")
    repo.commit("Initial commit", {"README.md": "# homelab\n"})
    repo.shas = plant_everywhere(repo)
    return repo


@pytest.fixture(scope="module")
def leaky_findings(leaky, tmp_path_factory) -> dict:
    return findings_of(leaky, tmp_path_factory.mktemp("cache"))


def test_a_file_over_the_limit_is_a_warning_text_or_binary(make_repo, tmp_path):
    repo = make_repo()
    sha = repo.commit(
        "Big files", {"big.txt": "row\n" * 800, "big.bin": bytes(range(256)) * 12, "small.txt": "row\n" * 200}, at=at(1)
    )
    found = findings_of(repo, tmp_path, large_file_kb=2)[sha]
    assert sorted((f.check, f.severity, f.file, f.message) for f in found) == [
        ("large file", "warning", "big.bin", "file of 3 KiB committed"),
        ("large file", "warning", "big.txt", "file of 3 KiB committed"),
    ]


def test_conflict_markers_are_errors_on_their_lines_and_lookalikes_are_not(make_repo, tmp_path):
    repo = make_repo()
    text = "<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> feature\nTitle\n==========\n<<<<<<<< eight\n"
    sha = repo.commit("Merged by hand", {"notes.md": text}, at=at(1))
    found = findings_of(repo, tmp_path)[sha]
    assert [(f.check, f.severity, f.line) for f in found] == [("conflict marker", "error", n) for n in (1, 3, 5)]


@pytest.mark.parametrize("kind, place", [(kind, place) for kind, place in PLANTS_OF_PLACES if place in COMMIT_PLACES])
def test_every_secret_kind_in_every_text_of_a_commit_is_an_error_that_never_repeats_it(
    leaky, leaky_findings, kind, place
):
    planted = plant(kind, place)
    sha = leaky.shas[place]
    secrets = [f for f in leaky_findings[sha] if f.check == "secret"]
    assert all(f.severity == "error" for f in secrets)
    assert all(planted.value not in f.message and planted.value not in f.file for f in secrets)
    if place in ("subject", "body"):
        expected = f"secret in the commit message of {sha[:8]}: {kind} (value withheld)"
        assert expected in [f.message for f in secrets]
    elif place.startswith("author"):
        assert f"secret in the author of {sha[:8]}: {kind} (value withheld)" in [f.message for f in secrets]
    elif place == "file path":
        index = KINDS.index(kind)
        [finding] = [f for f in secrets if f"leaks/{index:02d} " in f.file]  # git quotes a name holding '"'
        assert finding.message == f"{kind} in the file name (value withheld)" and f"[redacted {kind}]" in finding.file
    else:
        line = 1 + sum(plant(k, "diff line").text.count("\n") + 1 for k in KINDS[: KINDS.index(kind)])
        assert (line, f"{kind} committed (value withheld)") in [
            (f.line, f.message) for f in secrets if f.file == "config/leaks.env"
        ]


def test_a_secret_anywhere_in_a_commit_is_one_finding_per_kind_and_place(leaky_findings, leaky):
    """The subject's kinds and the body's are one message; nothing is counted twice."""
    subject = [f.message for f in leaky_findings[leaky.shas["subject"]]]
    assert len(subject) == len(set(subject)) == len(KINDS)
    diff = [f for f in leaky_findings[leaky.shas["diff line"]] if f.file == "config/leaks.env"]
    assert len(diff) == len(KINDS)  # a key block is one finding, at its BEGIN line


def test_the_pr_digest_finds_secrets_in_merge_messages_and_branch_names(leaky):
    digest = digest_repository(GitRepository("homelab", git.Repo(leaky.path)), None, WINDOW_START, WINDOW_END)
    merge = leaky.shas["merge message"][:8]
    assert [f"secret in the commit message of {merge}: {kind} (value withheld)" for kind in KINDS] == [
        line for line in digest.secrets if "commit message" in line
    ]
    branch_kinds = [kind for kind in KINDS if plant(kind, "branch name")]
    assert sorted(f"secret in a branch name: {kind} (value withheld)" for kind in branch_kinds) == sorted(
        line for line in digest.secrets if "branch name" in line
    )
    waiting = {branch.name for branch in digest.waiting}
    assert len(waiting) == len(branch_kinds) and all("[redacted " in name for name in waiting)
    assert not any(plant(kind, "branch name").value in name for kind in branch_kinds for name in waiting)
