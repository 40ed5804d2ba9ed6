"""The PR digest's reading of a repository: what landed on the default branch, what waits."""

from __future__ import annotations

import git
import pytest

from overnight_assets.code_review.git import GitRepository
from overnight_assets.code_review.pr_digest import digest_repository
from overnight_assets_tests.testkit.git_history import BOB, WINDOW_END, WINDOW_START, GitRepo, at


def digest(repo, branch=None):
    return digest_repository(GitRepository("homelab", git.Repo(repo.path)), branch, WINDOW_START, WINDOW_END)


@pytest.fixture
def branched(make_repo):
    """main with a merged feature, a topic branch that merged main into itself, a waiting branch."""
    repo = make_repo()
    repo.branch("feature")
    repo.commit("Feature", {"f.py": "f = 1\n"}, at=at(1), author=BOB)
    repo.checkout("main")
    repo.commit("On main", {"m.py": "m = 1\n"}, at=at(2))
    repo.shas = {"landed": repo.merge("feature", at=at(3))}
    repo.branch("topic", "feature")
    repo.commit("Topic", {"t.py": "t = 1\n"}, at=at(4), author=BOB)
    repo.merge("main", at=at(5), author=BOB)  # main merged into topic: nothing landed by it
    return repo


def test_only_merges_on_the_default_branch_landed_and_topic_waits(branched):
    result = digest(branched)
    assert [m.sha for m in result.merges] == [branched.shas["landed"]]
    assert [(b.name, b.ahead, b.authors) for b in result.waiting] == [("topic", 2, ["Bob"])]


def test_a_checked_out_feature_branch_is_not_taken_for_the_default(branched):
    branched.checkout("topic")
    result = digest(branched)
    assert result.default_branch == "main" and [b.name for b in result.waiting] == ["topic"]


def test_a_tag_named_like_a_branch_does_not_hide_the_branch(branched):
    branched.git("tag", "topic", "main")
    assert [(b.name, b.ahead) for b in digest(branched).waiting] == [("topic", 2)]


def test_a_repository_without_commits_is_a_note_not_an_error(tmp_path):
    empty = GitRepo(tmp_path / "empty")
    result = digest(empty)
    assert (result.note, result.error, result.merges, result.waiting) == ("no commits yet", None, [], [])


def test_a_configured_branch_that_does_not_exist_is_named(branched):
    assert digest(branched, "trunk").error == "no default branch found (configured: trunk)"


def test_branches_whose_names_redact_alike_stay_apart_and_a_secret_default_is_found(make_repo):
    """Branches are known by redacted names; git still gets the real ones, even for the default."""
    repo = make_repo()
    default = "token=" + "t0kDEFAULT9"
    repo.branch(default)
    for name, n in (("leak/AKIA" + "Q7RT2ZX9WP4MAAA1", 1), ("leak/AKIA" + "Q7RT2ZX9WP4MAAA2", 2)):
        repo.branch(name, default)
        for i in range(n):
            repo.commit(f"Work {n}.{i}", {f"w{n}{i}.txt": "w\n"}, at=at(n + i / 10))
    repo.checkout(default)
    repo.git("branch", "-D", "main")  # the checked-out branch is the only guess left for the default
    result = digest(repo)
    assert result.default_branch == "token=[redacted token]" and result.error is None
    assert [(b.name, b.ahead) for b in result.waiting] == [
        ("leak/[redacted AWS access key id]", 1),
        ("leak/[redacted AWS access key id] (2)", 2),
    ]
    assert sorted(result.secrets) == ["secret in a branch name: AWS access key id (value withheld)"] * 2 + [
        "secret in a branch name: token (value withheld)"
    ]
