"""code_reviews' preparation of a busy day: 500 commits in the window, LLM time excluded.

A repository written by one `git fast-import` (demo/history.py): 500 commits in the partition's window on three
branches, each changing a Python file (with an unused import now and then, and lines that name a
token or a password, as code does) and a text file, some holding a secret-shaped string, and a
message with a body, some holding a token. Every text is redacted as it is parsed. Measured: selecting the window's commits and preparing their
diffs and deterministic findings (`prepare_night`: one `git log -p` for the window, blobs through
one `cat-file` process), against the same parsing fed one `git log -1 -p` process per commit.

Target: at most 2 s for the 500 commits.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

COMMITS, REPEATS = 500, 3
START = datetime(2026, 11, 19, 22, 0, tzinfo=UTC)
END = START + timedelta(days=1)


def make_repository(folder: Path) -> Path:
    from overnight_assets.demo.history import History

    history = History()
    for n in range(COMMITS):
        body = (
            "".join(f"import mod_{n}_{i}\n" for i in range(2))
            + f"\n\ndef f_{n}(password: str):\n    token = mod_{n}_0.token(password)\n    return token\n" * 10
        )
        notes = f"note {n}\n" * 30 + ("AWS_ACCESS_KEY_ID=AKIA" + "ABCDEFGHIJKLMNOP\n" if n % 50 == 0 else "")
        files = {f"pkg/module_{n % 50}.py": body, f"notes/n_{n % 40}.txt": notes}
        when = START + timedelta(seconds=60 + n * 160)
        message = f"Change {n}\n\nWhy: module {n % 50} needed it.\n" + (
            "Deployed with token=ghp_" + "x" * 36 + "\n" if n % 50 == 25 else ""
        )
        history.commit(("main", "feature", "topic")[n % 3], f"Dev {n % 7}", when, message, files, start="main")
    return history.write(folder)


def per_commit_reference(path: Path) -> int:
    """The same parsing fed one git process per commit: what `prepare_night` avoids."""
    import git

    from overnight_assets.code_review.code_reviews import PATCH_OPTIONS
    from overnight_assets.code_review.diffs import LOG_FORMAT, in_window, parse_log
    from overnight_assets.code_review.git import GitRepository

    repo = GitRepository("bench", git.Repo(path))
    shas = repo.repo.git.rev_list("--branches", "--no-merges", f"--since=@{int(START.timestamp())}").split()
    commits = []
    for sha in shas:
        raw = repo.repo.git.log("-1", sha, f"--format={LOG_FORMAT}", *PATCH_OPTIONS, stdout_as_string=False)
        commits += in_window(parse_log(raw), START, END)
    return len(commits)


def main() -> None:
    from _report import figure, report

    from overnight_assets.code_review.code_reviews import prepare_night
    from overnight_assets.config import CodeReviewConfig, Repo
    from overnight_assets.partitions import Night, daily_partitions

    with tempfile.TemporaryDirectory() as folder:
        path = make_repository(Path(folder) / "busy")
        settings = CodeReviewConfig(repos=[Repo(name="busy", path=str(path))])
        night = Night.of_partition(daily_partitions("Europe/Bucharest"), "2026-11-20")  # START to END
        ours, findings = [], 0
        for _ in range(REPEATS):
            started = time.perf_counter()
            prepared, [outcome] = prepare_night(settings, night, Path(folder) / "cache")
            ours.append(time.perf_counter() - started)
            assert outcome.outcome == "ok" and len(prepared) == COMMITS, (outcome, len(prepared))
            findings = sum(len(p.findings) for p in prepared)
        started = time.perf_counter()
        counted = per_commit_reference(path)
        reference = time.perf_counter() - started
        assert counted == COMMITS
    print(f"  {COMMITS} commits, {findings} deterministic findings; runs: {', '.join(f'{s:.2f} s' for s in ours)}")
    median = statistics.median(ours)
    report(
        "code_review_prepare",
        [
            figure(f"prepare {COMMITS} commits (one git log), median", median, "s", "<= 2 s", median <= 2),
            figure("  same parsing, one git process per commit", reference, "s"),
            figure("deterministic findings", findings, "count"),
        ],
    )


if __name__ == "__main__":
    main()
