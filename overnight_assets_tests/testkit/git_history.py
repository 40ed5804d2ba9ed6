"""Real git repositories made by the tests, with commit times and authors chosen by the test."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from overnight_assets.partitions import Night, daily_partitions

WINDOW_START = datetime(2026, 11, 19, 22, 0, tzinfo=UTC)  # 2026-11-20 00:00 in Bucharest
WINDOW_END = WINDOW_START + timedelta(days=1)
NIGHT = "2026-11-20"
WINDOW = Night.of_partition(daily_partitions("Europe/Bucharest"), NIGHT)  # WINDOW_START to WINDOW_END
ALICE, BOB = ("Alice", "alice@example.org"), ("Bob", "bob@example.org")


class GitRepo:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, at: datetime | None = None, author=ALICE) -> str:
        stamp = (at or WINDOW_START - timedelta(days=3)).isoformat()
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1], "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_NAME": author[0], "GIT_COMMITTER_EMAIL": author[1], "GIT_COMMITTER_DATE": stamp,
            "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.path),
        }  # fmt: skip
        done = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True, check=True)
        return done.stdout.decode("utf-8", "replace").strip()

    def commit(self, message: str, files: dict[str, bytes | str | None] | None = None, at=None, author=ALICE) -> str:
        for name, content in (files or {}).items():
            target = self.path / name
            if content is None:
                self.git("rm", "-q", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode() if isinstance(content, str) else content)
            self.git("add", name)
        self.git("commit", "-q", "--allow-empty", "-m", message, at=at, author=author)
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, start: str = "main") -> None:
        self.git("checkout", "-q", "-b", name, start)

    def checkout(self, name: str) -> None:
        self.git("checkout", "-q", name)

    def merge(self, branch: str, at=None, author=ALICE) -> str:
        self.git("merge", "-q", "--no-ff", "-m", f"Merge branch '{branch}'", branch, at=at, author=author)
        return self.git("rev-parse", "HEAD")


def at(hours: float) -> datetime:
    """A moment inside the window, `hours` after its start."""
    return WINDOW_START + timedelta(hours=hours)


AWS_KEY = "AKIA" + "ABCDEFGHIJKLMNOP"
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


def plant_everywhere(repo: GitRepo) -> dict[str, str]:
    """Every secret kind in every place a repository holds text, all inside the window: one commit
    per place (its subject, its body, the author's name, the author's email, file paths, added
    lines) holding every kind, a branch and a tag per kind named with it, and a merge into main
    whose message holds every kind (of a branch whose author's name holds every kind too).
    Returns place -> sha of the commit holding it."""
    from overnight_assets.redaction import KINDS
    from overnight_assets_tests.testkit.planted_secrets import plant

    def all_of(place: str, separator: str) -> str:
        return separator.join(plant(kind, place).text for kind in KINDS)

    shas = {
        "subject": repo.commit(f"Leaks in the subject: {all_of('subject', ' ; ')}", at=at(1)),
        "body": repo.commit(f"Leaks in the body\n\n{all_of('body', chr(10))}\n", at=at(1.1)),
        "author name": repo.commit(
            "Leaks in the author's name", at=at(1.2), author=(all_of("author name", " ; "), "dev@example.org")
        ),
        "author email": repo.commit(
            "Leaks in the author's email", at=at(1.3), author=("Dev", all_of("author email", " ; "))
        ),
        "file path": repo.commit(
            "Leaks in file names",
            {f"leaks/{i:02d} {p.text}": "x\n" for i, kind in enumerate(KINDS) if (p := plant(kind, "file path"))},
            at=at(1.4),
        ),
        "diff line": repo.commit(
            "Leaks in added lines", {"config/leaks.env": all_of("diff line", "\n") + "\n"}, at=at(1.5)
        ),
    }
    for i, kind in enumerate(KINDS):
        if branch := plant(kind, "branch name"):
            repo.branch(f"leak-{i:02d}/{branch.text}")
            shas[f"branch name {i:02d}"] = repo.commit(
                f"Waiting work {i}", {f"wip/{i:02d}.txt": "wip\n"}, at=at(2 + i / 100)
            )
            repo.checkout("main")
        if tag := plant(kind, "tag name"):
            repo.git("tag", f"leak-{i:02d}/{tag.text}")
    repo.branch("side")  # merged: its author reaches the digest through the merge's commit list
    repo.commit("Side work", {"side.txt": "side\n"}, at=at(3), author=(all_of("author name", " ; "), "dev@example.org"))
    repo.checkout("main")
    repo.git("merge", "-q", "--no-ff", "-m", f"Merge side\n\n{all_of('merge message', chr(10))}\n", "side", at=at(4))
    shas["merge message"] = repo.git("rev-parse", "HEAD")
    return shas
