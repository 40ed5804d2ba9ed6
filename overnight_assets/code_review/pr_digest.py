"""The PR digest: per repository, what landed (merges in the window) and what is waiting
(branches ahead of the default branch), with the review highlights of their commits.

A homelab has no pull requests as such: a merge commit is a PR that landed, a branch ahead of the
default branch is one that is waiting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from overnight_assets.code_review.code_reviews import NO_REPOSITORIES, load_reviews, open_repository
from overnight_assets.code_review.commit_checks import located
from overnight_assets.code_review.diffs import in_window, parse_log
from overnight_assets.redaction import redact_secrets
from overnight_assets.section import Line, Section, bold, code
from overnight_assets.status import Status, section_status, worst_severity

if TYPE_CHECKING:
    from pathlib import Path

    from overnight_assets.code_review.git import GitRepository
    from overnight_assets.config import Repo as RepoConfig
    from overnight_assets.partitions import Night
    from overnight_assets.resources.cortex import Cortex

HIGHLIGHT_SEVERITIES = ("error", "warning")
MAX_HIGHLIGHTS = 5  # per merge or branch: the digest points at reviews, it does not repeat them


@dataclass
class Merge:
    sha: str
    subject: str
    author: str
    committed_at: str
    commits: int
    authors: list[str]
    shas: list[str] = field(default_factory=list)
    highlights: list[dict] = field(default_factory=list)  # {sha (short; None for "... and N more"), text}
    worst: str = "info"  # of the highlights, by the shared rule: red | amber | info


@dataclass
class WaitingBranch:
    name: str
    ahead: int
    authors: list[str]
    shas: list[str] = field(default_factory=list)
    highlights: list[dict] = field(default_factory=list)
    worst: str = "info"  # of the highlights, by the shared rule: red | amber | info


@dataclass
class RepoDigest:
    name: str
    default_branch: str | None = None
    merges: list[Merge] = field(default_factory=list)
    waiting: list[WaitingBranch] = field(default_factory=list)
    error: str | None = None
    note: str | None = None
    secrets: list[str] = field(
        default_factory=list
    )  # where a secret was found (merge messages, branch names), never its value

    def to_dict(self) -> dict:
        # the title is what the briefing compares with yesterday's; severity and problem are what it counts
        facts = {"title": f"{self.name}: {self.error or self.summary}", "severity": self.severity}
        return {**facts, **({"problem": problem} if (problem := self.problem) else {}), **asdict(self)}

    @property
    def summary(self) -> str:
        return f"{_count(len(self.merges), 'merge')} landed, {_count(len(self.waiting), 'branch')} waiting"

    @property
    def severity(self) -> str:
        """By the shared rule: a secret is an error, an unreadable repository AMBER, else the worst review highlight."""
        if self.secrets:
            return "error"
        if self.error:
            return "amber"
        return worst_severity(group.worst for group in (*self.merges, *self.waiting))

    @property
    def problem(self) -> str | None:
        if self.secrets:
            return self.secrets[0] + (f" and {len(self.secrets) - 1} more" if len(self.secrets) > 1 else "")
        flagged = [f"merge {m.sha[:8]}" for m in self.merges if m.worst != "info"]
        flagged += [f"branch {b.name}" for b in self.waiting if b.worst != "info"]
        return f"review findings in {', '.join(flagged)}" if flagged and not self.error else None


def digest_night(
    repos: list[RepoConfig], night: Night, review_items: list[dict], cortex: Cortex, cache_dir: Path
) -> list[RepoDigest]:
    """Every configured repository's digest; one that cannot be read says why, the others go on."""
    digests = []
    for repo in repos:
        try:
            # code_reviews fetched this repository moments ago, in the same run
            digests.append(
                digest_repository(open_repository(repo, cache_dir, fetch=False), repo.branch, night.start, night.end)
            )
        except Exception as error:  # one broken repository never stops the others
            digests.append(RepoDigest(repo.name, error=redact_secrets(str(error))[:300]))
    shas = [sha for digest in digests for group in (*digest.merges, *digest.waiting) for sha in group.shas]
    highlights = review_highlights(review_items, load_reviews(cortex, shas))
    for group in (group for digest in digests for group in (*digest.merges, *digest.waiting)):
        group.highlights = _highlights_of(group.shas, highlights)
        # each highlight is `located(severity, ...)`: its first word is the severity
        group.worst = worst_severity(line.split(" ", 1)[0] for sha in group.shas for line in highlights.get(sha, []))
    return digests


def digest_repository(repo: GitRepository, configured_branch: str | None, start: datetime, end: datetime) -> RepoDigest:
    digest = RepoDigest(repo.name, repo.default_branch(configured_branch))
    if not repo.branches():
        digest.note = "no commits yet"
        return digest
    if digest.default_branch is None:
        digest.error = f"no default branch found (configured: {configured_branch or 'none'})"
        return digest
    # what landed: merges on the default branch itself, not main merged into a feature branch
    landed = repo.log(start, end, "--merges", "--first-parent", revs=(repo.ref(digest.default_branch),))
    for merge in in_window(parse_log(landed), start, end):
        # merges are not in code_reviews (--no-merges): a secret in their message is found here
        digest.secrets += [
            f"secret in the {where} of {merge.sha[:8]}: {kind} (value withheld)" for where, kind in merge.secrets
        ]
        brought = [
            (sha, author) for sha, author in repo.commits_between(merge.parents[0], merge.sha) if sha != merge.sha
        ]
        digest.merges.append(
            Merge(
                sha=merge.sha,
                subject=merge.subject,
                author=merge.author,
                committed_at=merge.committed_at.isoformat(),
                commits=len(brought),
                authors=sorted({author for _, author in brought}),
                shas=[sha for sha, _ in brought],
            )
        )
    for branch in sorted(set(repo.branches()) - {digest.default_branch}):
        ahead = repo.commits_ahead(digest.default_branch, branch)
        if ahead:
            authors = sorted({author for _, author in ahead})
            digest.waiting.append(WaitingBranch(branch, len(ahead), authors, [sha for sha, _ in ahead]))
    digest.secrets += [f"secret in a {where}: {kind} (value withheld)" for where, kind in repo.name_secrets]
    return digest


def review_highlights(review_items: list[dict], stored_reviews: dict[str, dict]) -> dict[str, list[str]]:
    """sha -> the findings and review comments of warning or error severity."""
    found: dict[str, list[str]] = {}
    for sha, review in stored_reviews.items():
        found[sha] = [
            located(c["severity"], c["file"], c["line"], c["comment"])
            for c in review.get("comments", [])
            if c["severity"] in HIGHLIGHT_SEVERITIES
        ]
    for item in review_items:  # tonight's items also carry the deterministic findings
        lines = [
            located(f["severity"], f["file"], f["line"], f["message"])
            for f in item["findings"]
            if f["severity"] in HIGHLIGHT_SEVERITIES
        ]
        found[item["sha"]] = lines + [line for line in found.get(item["sha"], []) if line not in lines]
    return {sha: lines for sha, lines in found.items() if lines}


def _highlights_of(shas: list[str], highlights: dict[str, list[str]]) -> list[dict]:
    lines = [{"sha": sha[:8], "text": line} for sha in shas for line in highlights.get(sha, [])]
    more = [{"sha": None, "text": f"... and {len(lines) - MAX_HIGHLIGHTS} more"}] if len(lines) > MAX_HIGHLIGHTS else []
    return lines[:MAX_HIGHLIGHTS] + more


def digest_section(digests: list[RepoDigest]) -> Section:
    lines = []
    for digest in digests:
        if digest.error or digest.note:
            lines.append(Line.text(bold(digest.name), f": {digest.error or digest.note}"))
            continue
        lines.append(Line.text(bold(digest.name), f": {digest.summary}"))
        lines += [Line.item(line, severity="error") for line in digest.secrets]
        for merge in digest.merges:
            who = f"{_count(merge.commits, 'commit')} by {', '.join(merge.authors) or merge.author}"
            lines.append(
                Line.item(
                    "landed ",
                    code(merge.sha[:8]),
                    f" {merge.subject}: {who}",
                    details=_highlight_lines(merge.highlights),
                )
            )
        for branch in digest.waiting:
            ahead = f"{_count(branch.ahead, 'commit')} ahead of {digest.default_branch}, by {', '.join(branch.authors)}"
            lines.append(
                Line.item("waiting ", code(branch.name), f": {ahead}", details=_highlight_lines(branch.highlights))
            )
    return Section(
        key="pr_digest",
        title="What landed, what is waiting",
        status=_status(digests),
        items=[d.to_dict() for d in digests],
        lines=tuple(lines) or (NO_REPOSITORIES,),
        order=35,
    )


def _status(digests: list[RepoDigest]) -> Status:
    """The shared rule: secrets RED, the review highlights shown by their severity, an unreadable repository AMBER."""
    return section_status(
        (d.severity for d in digests),
        configured=bool(digests),
        sources=len(digests),
        failed=sum(1 for d in digests if d.error),
    )


def _highlight_lines(highlights: list[dict]) -> list[Line]:
    return [Line.item(code(h["sha"]), f" {h['text']}") if h["sha"] else Line.item(h["text"]) for h in highlights]


def _count(number: int, noun: str) -> str:
    plural = "es" if noun.endswith("ch") else "s"
    return f"{number} {noun}{'' if number == 1 else plural}"
