"""Git repositories through gitpython, read without ever running their code.

A local path is opened as it is; a URL's branches are cloned once, bare, under `home` and fetched
each run. Hooks are pointed at /dev/null and no working tree is checked out, so nothing in the
repository executes. Every read is one git process for the whole window, not one per commit.

Text read here (branch names, authors, git's error messages) is redacted as it is read
(overnight_assets.redaction); a branch is known by its redacted name, and `ref` gives git the real
one, so the real name never leaves this class.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path

import git

from overnight_assets.code_review.diffs import FIELD, LOG_FORMAT
from overnight_assets.redaction import redact_secrets, scan_secrets
from overnight_assets.secret_urls import redact_text, redact_url, with_credentials

SAFE_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
BRANCHES_REFSPEC = "+refs/heads/*:refs/heads/*"
SAFE_OPTIONS = {
    "c": ["core.hooksPath=/dev/null", "core.fsmonitor=false", "protocol.ext.allow=never", "core.quotePath=false"]
}
# a clone or fetch slower than this for this long is given up: a trickling server must not hold
# code_reviews (a gpu-pool step) for good; git's timeouts, read when each clone or fetch starts
LOW_SPEED_BYTES_PER_S, LOW_SPEED_TIME_S = 1000, 60


def _network_options() -> list[str]:
    return [f"http.lowSpeedLimit={LOW_SPEED_BYTES_PER_S}", f"http.lowSpeedTime={LOW_SPEED_TIME_S}"]


class RepositoryError(RuntimeError):
    pass


class GitRepository:
    def __init__(self, name: str, repo: git.Repo, big_file_bytes: int | None = None):
        self.name = name
        self.repo = repo
        self._branches: dict[str, str] | None = None
        self._refs: dict[str, str] = {}  # shown (redacted) branch name -> its real ref
        self.name_secrets: list[tuple[str, str]] = []  # ("branch name", kind) of the secrets in branch names
        repo.git.update_environment(**SAFE_ENV)
        options = SAFE_OPTIONS["c"] + ([f"core.bigFileThreshold={big_file_bytes}"] if big_file_bytes else [])
        repo.git.set_persistent_git_options(c=options)  # a file over the threshold diffs as binary

    @classmethod
    def open(
        cls,
        name: str,
        path: str | None,
        url: str | None,
        cache_dir: Path,
        fetch: bool = True,
        big_file_bytes: int | None = None,
    ) -> GitRepository:
        """A local repository as it is, or the bare mirror of a URL (cloned once, then fetched)."""
        where = path or redact_url(url or "")
        try:
            if path:
                return cls(name, git.Repo(os.path.expanduser(path)), big_file_bytes)
            return cls(name, _mirror(url, mirror_path(cache_dir, name, url), fetch), big_file_bytes)
        except git.NoSuchPathError:
            raise RepositoryError(f"repository {name}: path {where} does not exist") from None
        except git.InvalidGitRepositoryError:
            raise RepositoryError(f"repository {name}: {where} is not a git repository") from None
        except git.GitCommandError as error:
            raise RepositoryError(f"repository {name}: git failed on {where}: {_stderr(error)}") from None

    def log(self, since: datetime, until: datetime, *options: str, revs: tuple[str, ...] = ("--branches",)) -> bytes:
        """`git log` over `revs` (every branch by default), one record per commit, as raw bytes
        (content may not be UTF-8)."""
        if not self.branches():
            return b""
        return self._git(
            "log",
            *revs,
            f"--format={LOG_FORMAT}",
            f"--since=@{int(since.timestamp()) - 1}",
            f"--until=@{int(until.timestamp()) + 1}",
            *options,
            stdout_as_string=False,
        )

    def branches(self) -> dict[str, str]:
        """Branch -> tip, read once: a GitRepository is opened for one look at the repository.
        Names are redacted; two names redacted alike are told apart by a number."""
        if self._branches is None:
            branches, refs, found = {}, {}, []
            for head in sorted(self.repo.heads, key=lambda head: head.path):
                shown, kinds = scan_secrets(head.name)
                shown = _unique(shown, refs)
                branches[shown], refs[shown] = head.commit.hexsha, head.path
                found += [("branch name", kind) for kind in kinds]
            self._branches, self._refs, self.name_secrets = branches, refs, found
        return self._branches

    def ref(self, branch: str) -> str:
        """The real ref of a branch known by its shown name, for git (full: a tag named like a
        branch would win over the branch otherwise)."""
        self.branches()
        return self._refs[branch]

    def _shown(self, real_name: str | None) -> str | None:
        return next((shown for shown, ref in self._refs.items() if ref == f"refs/heads/{real_name}"), None)

    def default_branch(self, configured: str | None) -> str | None:
        """The configured branch; else a mirror's HEAD (the remote's default) or a clone's
        origin/HEAD; else main, master or trunk; else whatever is checked out."""
        names = set(self.branches())
        if configured:
            return configured if configured in names else None
        guesses = [self._head() if self.repo.bare else self._origin_head(), "main", "master", "trunk", self._head()]
        return next((name for name in guesses if name in names), None)

    def _head(self) -> str | None:
        try:
            return self._shown(self.repo.head.reference.name)
        except TypeError:  # detached HEAD
            return None

    def _origin_head(self) -> str | None:
        try:
            return self._shown(
                self.repo.git.symbolic_ref("--short", "refs/remotes/origin/HEAD").removeprefix("origin/")
            )
        except git.GitCommandError:  # no origin, or it names no default
            return None

    def blob_sizes(self, shas: list[str]) -> dict[str, int]:
        """Sizes through gitpython's one persistent `git cat-file --batch-check` process."""
        return {sha: self.repo.odb.info(bytes.fromhex(sha)).size for sha in shas}

    def blobs(self, shas: list[str]) -> dict[str, bytes]:
        """Contents through gitpython's one persistent `git cat-file --batch` process."""
        return {sha: self.repo.odb.stream(bytes.fromhex(sha)).read() for sha in shas}

    def commits_between(self, base: str, tip: str) -> list[tuple[str, str]]:
        """(sha, author) of the commits on `tip` that `base` lacks (shas or full ref names)."""
        out = self._git("log", f"{base}..{tip}", "--format=%H%x1f%an")
        return [
            (sha, redact_secrets(author)) for sha, author in (line.split(FIELD, 1) for line in out.splitlines() if line)
        ]

    def commit_times(self, tips: list[str], known: list[str]) -> list[int]:
        """Commit times of the commits reachable from `tips` and not from `known` (shas the
        repository may no longer hold, after a force-push and gc, are ignored)."""
        out = self._git("log", "--ignore-missing", "--format=%ct", *tips, "--not", *known, "--")
        return [int(line) for line in out.split()]

    def commits_ahead(self, base_branch: str, branch: str) -> list[tuple[str, str]]:
        return self.commits_between(self.ref(base_branch), self.ref(branch))

    def _git(self, command: str, *args, **options):
        """A git command whose failure names no real ref: git's message is redacted, its command line
        (which holds the refs) is not passed on."""
        try:
            return getattr(self.repo.git, command)(*args, **options)
        except git.GitCommandError as error:
            raise RepositoryError(f"repository {self.name}: git {command} failed: {_stderr(error)}") from None


def _unique(name: str, taken: dict[str, str]) -> str:
    number, unique = 2, name
    while unique in taken:
        unique, number = f"{name} ({number})", number + 1
    return unique


def mirror_path(cache_dir: Path, name: str, url: str) -> Path:
    """One folder per (name, URL): two repositories never share one, a changed URL gets its own."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:10]
    return cache_dir / f"{re.sub(r'[^A-Za-z0-9._-]', '_', name)}-{digest}.git"


def _mirror(url: str, target: Path, fetch: bool) -> git.Repo:
    """`url` is the config's redacted URL: the mirror's own config keeps only that, and git gets the
    URL with its credentials on the command line of each clone or fetch (secret_urls)."""
    if not target.exists():
        return _clone_bare(url, target)
    repo = git.Repo(target)
    if fetch:
        repo.git.update_environment(**SAFE_ENV)
        repo.git.set_persistent_git_options(
            c=SAFE_OPTIONS["c"] + _network_options()
        )  # a fetch runs the reference-transaction hook
        repo.git.config("remote.origin.url", url)  # also clears a password an older version stored there
        repo.git.fetch("--prune", with_credentials(url), BRANCHES_REFSPEC)
    return repo


def _clone_bare(url: str, target: Path) -> git.Repo:
    """Branches only (not a GitHub mirror's refs/pull/*), cloned beside the target and renamed into
    place, so a clone cut short never leaves a half-made repository behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    options = [f"--config={option}" for option in SAFE_OPTIONS["c"] + _network_options()]
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".cloning-") as staging:
        # the --config options are ours (no hooks); gitpython still refuses ext:: and other unsafe URLs
        repo = git.Repo.clone_from(
            with_credentials(url),
            Path(staging) / "repo.git",
            bare=True,
            env={**os.environ, **SAFE_ENV},
            multi_options=options,
            allow_unsafe_options=True,
        )
        repo.git.config("remote.origin.url", url)  # clone wrote the URL with its password
        # a bare clone sets no refspec: later fetches update the branches, and only them
        repo.git.config("remote.origin.fetch", BRANCHES_REFSPEC)
        (Path(staging) / "repo.git").rename(target)
    return git.Repo(target)


def _stderr(error: git.GitCommandError) -> str:
    text = (error.stderr or str(error)).strip().replace("stderr: ", "")
    return redact_secrets(redact_text(" ".join(text.split())))[
        :300
    ]  # the command line (a clone URL's password) and refs and paths
