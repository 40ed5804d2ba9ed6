"""The code-review sections follow the shared status rule and announce what they list."""

from datetime import UTC, datetime

from overnight_assets.code_review.code_reviews import PreparedCommit, RepoOutcome, reviews_section
from overnight_assets.code_review.commit_checks import CodeFinding
from overnight_assets.code_review.diffs import Commit
from overnight_assets.code_review.pr_digest import Merge, RepoDigest, WaitingBranch, digest_section
from overnight_assets.status import Status

BREAKPOINT = CodeFinding("warning", "debug leftover", "scripts/alerts.py", 7, "debug leftover: breakpoint()")
CONFLICT = CodeFinding("error", "conflict marker", "app.py", 3, "merge-conflict marker left in")


def commit(sha: str, subject: str, *findings: CodeFinding) -> PreparedCommit:
    made = Commit(sha * 5, datetime(2026, 11, 20, 10, tzinfo=UTC), "Radu", "radu@example.org", [], subject)
    return PreparedCommit("homelab", made, "diff", [], list(findings), set(), review_source="fallback")


def night(*commits: PreparedCommit) -> tuple[list[PreparedCommit], list[RepoOutcome]]:
    return list(commits), [RepoOutcome("homelab", commits=len(commits), authors=["Radu"])]


def test_a_forgotten_breakpoint_makes_the_code_reviews_amber_and_its_item_a_problem():
    section = reviews_section(
        *night(commit("a12a04b4", "WIP: disk alert", BREAKPOINT), commit("30f2546b", "Backup")), "unavailable"
    )
    assert section.status is Status.AMBER
    flagged = section.items[0]
    assert (flagged["severity"], flagged["problem"]) == (
        "warning",
        "warning scripts/alerts.py:7 debug leftover: breakpoint()",
    )
    assert section.items[1]["severity"] == "none" and "problem" not in section.items[1]


def test_an_error_finding_is_red():
    assert reviews_section(*night(commit("c0ffee00", "Merge mess", CONFLICT)), "ok").status is Status.RED


def test_the_commits_announced_are_the_commits_listed_or_it_says_how_many_of_them():
    section = reviews_section(
        *night(commit("a12a04b4", "WIP", BREAKPOINT), commit("30f2546b", "Backup"), commit("dddddddd", "Docs")), "ok"
    )
    lines = section.markdown.splitlines()
    assert lines[0] == "**homelab**: 3 commits by Radu; 1 of 3 listed (those with findings)."
    assert [line for line in lines if line.startswith("- `")] == ["- `a12a04b4` WIP (Radu)"]
    clean = reviews_section(*night(commit("30f2546b", "Backup")), "ok")
    assert (clean.status, clean.markdown.splitlines()[0]) == (
        Status.GREEN,
        "**homelab**: 1 commit by Radu; none with findings.",
    )


def test_an_unreadable_repository_is_amber_and_named_first():
    prepared, outcomes = night(commit("30f2546b", "Backup"))
    outcomes.append(RepoOutcome("infra", outcome="failed", error="repository gone"))
    section = reviews_section(prepared, outcomes, "ok")
    assert section.status is Status.AMBER and section.markdown.startswith(
        "**infra**: could not be read: repository gone\n"
    )


def test_no_repositories_configured_is_said_and_never_green():
    reviews, digest = reviews_section([], [], "not needed"), digest_section([])
    assert reviews.status is Status.NOT_CONFIGURED and digest.status is Status.NOT_CONFIGURED
    assert reviews.markdown == digest.markdown == "No repositories configured (`code_review.repos`)."


def test_the_pr_digest_shows_review_highlights_under_the_status_they_earn():
    waiting = WaitingBranch(
        "disk-alerts",
        1,
        ["Radu"],
        ["a" * 40],
        [{"sha": "aaaaaaaa", "text": "warning scripts/alerts.py:7 debug leftover: breakpoint()"}],
        worst="amber",
    )
    landed = Merge("b" * 40, "Merge branch 'dashboards'", "Radu", "2026-11-20T10:00:00+00:00", 1, ["Radu"])
    digest = RepoDigest("homelab", "main", merges=[landed], waiting=[waiting])
    section = digest_section([digest])
    assert section.status is Status.AMBER  # a warning shown is never under GREEN
    assert (section.items[0]["severity"], section.items[0]["problem"]) == (
        "amber",
        "review findings in branch disk-alerts",
    )
    assert digest_section([RepoDigest("homelab", "main", merges=[landed])]).status is Status.GREEN


def test_an_unreadable_repository_in_the_pr_digest_is_amber_and_titled_by_its_error():
    section = digest_section([RepoDigest("infra", error="repository gone"), RepoDigest("homelab", "main")])
    assert section.status is Status.AMBER
    assert (section.items[0]["title"], section.items[0]["severity"]) == ("infra: repository gone", "amber")
