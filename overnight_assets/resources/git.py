"""Git repositories through gitpython, read without ever running their code.

A local path is opened as it is; a URL is cloned once as a bare mirror under `home` and fetched
each run. Hooks are pointed at /dev/null and no working tree is checked out, so nothing in the
repository executes. Every read is one git process for the whole window, not one per commit.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

import git

SAFE_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
SAFE_OPTIONS = {"c": ["core.hooksPath=/dev/null", "core.fsmonitor=false", "protocol.ext.allow=never", "core.quotePath=false"]}
RECORD, FIELD = "\x1e", "\x1f"
LOG_FORMAT = FIELD.join(["%H", "%ct", "%an", "%ae", "%P", "%s"])


class RepositoryError(RuntimeError):
    pass


class GitRepository:
    def __init__(self, name: str, repo: git.Repo):
        self.name = name
        self.repo = repo
        repo.git.update_environment(**SAFE_ENV)
        repo.git.set_persistent_git_options(**SAFE_OPTIONS)

    @classmethod
    def open(cls, name: str, path: str | None, url: str | None, cache_dir: Path) -> GitRepository:
        try:
            if path:
                return cls(name, git.Repo(os.path.expanduser(path)))
            return cls(name, _mirror(url, cache_dir / f"{_safe_name(name)}.git"))
        except git.NoSuchPathError:
            raise RepositoryError(f"repository {name}: path {path} does not exist") from None
        except git.InvalidGitRepositoryError:
            raise RepositoryError(f"repository {name}: {path} is not a git repository") from None
        except git.GitCommandError as error:
            raise RepositoryError(f"repository {name}: git failed: {_stderr(error)}") from None

    def log(self, since: datetime, until: datetime, *options: str) -> bytes:
        """`git log` over every branch, one record per commit, as raw bytes (content may not be UTF-8)."""
        if not self.branches():
            return b""
        return self.repo.git.log(
            "--branches",
            f"--format={RECORD}{LOG_FORMAT}",
            f"--since=@{int(since.timestamp()) - 1}",
            f"--until=@{int(until.timestamp()) + 1}",
            *options,
            stdout_as_string=False,
        )

    def branches(self) -> dict[str, str]:
        return {head.name: head.commit.hexsha for head in self.repo.heads}

    def default_branch(self, configured: str | None) -> str | None:
        names = set(self.branches())
        if configured:
            return configured if configured in names else None
        try:
            head = self.repo.head.reference.name
            if head in names:
                return head
        except TypeError:  # detached HEAD
            pass
        return next((name for name in ("main", "master", "trunk") if name in names), None)

    def blob_sizes(self, shas: list[str]) -> dict[str, int]:
        """Sizes through gitpython's one persistent `git cat-file --batch-check` process."""
        return {sha: self.repo.odb.info(bytes.fromhex(sha)).size for sha in shas}

    def blobs(self, shas: list[str]) -> dict[str, bytes]:
        """Contents through gitpython's one persistent `git cat-file --batch` process."""
        return {sha: self.repo.odb.stream(bytes.fromhex(sha)).read() for sha in shas}

    def commits_between(self, base: str, tip: str) -> list[tuple[str, str]]:
        """(sha, author) of the commits on `tip` that `base` lacks."""
        out = self.repo.git.log(f"{base}..{tip}", "--format=%H%x1f%an")
        return [tuple(line.split(FIELD, 1)) for line in out.splitlines() if line]


def _mirror(url: str, target: Path) -> git.Repo:
    env = {**os.environ, **SAFE_ENV}
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        options = [f"--config={option}" for option in SAFE_OPTIONS["c"]]
        # the --config options are ours (no hooks); gitpython still refuses ext:: and other unsafe URLs
        return git.Repo.clone_from(url, target, mirror=True, env=env, multi_options=options, allow_unsafe_options=True)
    repo = git.Repo(target)
    repo.git.update_environment(**SAFE_ENV)
    repo.git.set_persistent_git_options(**SAFE_OPTIONS)  # a fetch runs the reference-transaction hook
    repo.git.fetch("--prune", "origin")
    return repo


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _stderr(error: git.GitCommandError) -> str:
    text = (error.stderr or str(error)).strip().replace("stderr: ", "")
    return " ".join(text.split())[:300]
