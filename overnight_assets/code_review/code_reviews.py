"""One night of code review: select the window's commits, check them, review each sha once ever."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from overnight_assets.code_review.commit_checks import CodeFinding, commit_findings, located, python_blobs_needed
from overnight_assets.code_review.diffs import Commit, in_window, parse_log, reviewable_diff
from overnight_assets.code_review.review import REVIEW_SYSTEM, CommitReview, grounded, review_prompt
from overnight_assets.redaction import redact_secrets
from overnight_assets.resources.cortex import memory_hash
from overnight_assets.resources.memory_graph import Edge, Provenance, Remembered, anchor_row, link, remember
from overnight_assets.section import Line, LLMState, Section, bold, code, italic
from overnight_assets.status import Status, section_status, severity_status

if TYPE_CHECKING:
    from overnight_assets.code_review.git import GitRepository
    from overnight_assets.config import CodeReviewConfig
    from overnight_assets.config import Repo as RepoConfig
    from overnight_assets.partitions import Night
    from overnight_assets.resources.cortex import Cortex
    from overnight_assets.resources.llm import LLMSession

NO_REPOSITORIES = Line.text("No repositories configured (", code("code_review.repos"), ").")
# where a commit's review came from; pending only until review_all has seen it
ReviewSource = Literal["pending", "llm", "stored", "fallback", "over limit", "nothing to review"]
RepoState = Literal["ok", "failed"]
PATCH_OPTIONS = ("--no-merges", "-p", "--raw", "--no-abbrev", "-M", "--no-color", "--no-ext-diff", "--no-textconv")


@dataclass
class PreparedCommit:
    repo: str
    commit: Commit
    diff: str
    notes: list[str]
    findings: list[CodeFinding]
    files_shown: set[str]  # the files whose diff the reviewer reads
    review: dict | None = None
    review_source: ReviewSource = "pending"

    @property
    def worst(self) -> str:
        severities = {f.severity for f in self.findings} | {
            c["severity"] for c in (self.review or {}).get("comments", [])
        }
        return next((s for s in ("error", "warning", "info") if s in severities), "none")


@dataclass
class RepoOutcome:
    name: str
    outcome: RepoState = "ok"
    error: str | None = None
    commits: int = 0
    seconds: float = 0.0
    authors: list[str] = field(default_factory=list)


def prepare_repository(
    repo: GitRepository, start: datetime, end: datetime, settings: CodeReviewConfig, large_file_bytes: int
) -> list[PreparedCommit]:
    """The window's commits on every branch, each sha once, with diff and deterministic findings."""
    commits = in_window(parse_log(repo.log(start, end, *PATCH_OPTIONS)), start, end)
    sizes = repo.blob_sizes(sorted({f.new_blob for c in commits for f in c.files if f.new_blob}))
    sources = repo.blobs(
        [sha for c in commits for sha in python_blobs_needed(c) if sizes.get(sha, 0) <= large_file_bytes]
    )
    prepared = []
    for commit in commits:
        diff, notes, shown = reviewable_diff(commit, settings.max_diff_lines, settings.max_diff_bytes)
        findings = commit_findings(commit, sizes, sources, large_file_bytes)
        prepared.append(PreparedCommit(repo.name, commit, diff, notes, findings, shown))  # redacted as parsed
    return prepared


def review_all(prepared: list[PreparedCommit], cortex: Cortex, session: LLMSession, max_llm_reviews: int) -> None:
    """Stored reviews are reused; the rest are asked for, riskiest first, up to the limit."""
    stored = load_reviews(cortex, [p.commit.sha for p in prepared])
    pending = []
    for item in prepared:
        if item.commit.sha in stored:
            item.review, item.review_source = stored[item.commit.sha], "stored"
        elif not item.diff.strip():
            item.review_source = "nothing to review"  # an empty commit, or only binary/lock/vendored files
        else:
            pending.append(item)
    pending.sort(key=lambda p: ({"error": 0, "warning": 1}.get(p.worst, 2), -len(p.diff), p.commit.sha))
    for item in pending[max_llm_reviews:]:
        item.review_source = "over limit"
    for item in pending[:max_llm_reviews]:
        commit = item.commit
        prompt = review_prompt(
            item.repo, commit.sha, commit.author, commit.subject, item.diff, item.notes, item.findings
        )
        answer = session.ask("review", REVIEW_SYSTEM, prompt, CommitReview)
        if answer is None:
            item.review_source = "fallback"
            continue
        item.review, item.review_source = grounded(answer, item.files_shown).model_dump(), "llm"
        store_review(cortex, commit.sha, item.repo, item.review)


def load_reviews(cortex: Cortex, shas: list[str]) -> dict[str, dict]:
    if not shas:
        return {}
    with cortex.connect(read_only=True) as db:
        rows = db.execute("SELECT sha, review FROM commit_reviews WHERE sha IN (SELECT unnest(?))", [shas]).fetchall()
    return {sha: json.loads(review) for sha, review in rows}


def store_review(cortex: Cortex, sha: str, repo: str, review: dict) -> None:
    with cortex.connect() as db:
        db.execute(
            "INSERT INTO commit_reviews (sha, repo, review) VALUES (?, ?, ?) ON CONFLICT (sha) DO NOTHING",
            [sha, repo, json.dumps(review)],
        )


def prepare_night(
    settings: CodeReviewConfig, night: Night, cache_dir: Path
) -> tuple[list[PreparedCommit], list[RepoOutcome]]:
    """Every configured repository's window; one that cannot be read is an outcome, not a crash."""
    prepared, outcomes = [], []
    for repo in settings.repos:
        outcome = RepoOutcome(repo.name)
        started = time.perf_counter()
        try:
            large = settings.large_file_kb * 1024
            mine = prepare_repository(
                open_repository(repo, cache_dir, big_file_bytes=large), night.start, night.end, settings, large
            )
        except Exception as error:  # one broken repository never stops the others
            outcome.outcome, outcome.error, mine = "failed", _reason(error), []
        outcome.commits = len(mine)
        outcome.authors = sorted({p.commit.author for p in mine})
        outcome.seconds = round(time.perf_counter() - started, 3)
        prepared += mine
        outcomes.append(outcome)
    return prepared, outcomes


def open_repository(
    repo: RepoConfig, cache_dir: Path, fetch: bool = True, big_file_bytes: int | None = None
) -> GitRepository:
    from overnight_assets.code_review.git import GitRepository  # gitpython loads at first use

    return GitRepository.open(repo.name, repo.path, repo.url, cache_dir, fetch, big_file_bytes)


def _reason(error: Exception) -> str:
    text = str(error) if type(error).__name__ == "RepositoryError" else f"{type(error).__name__}: {error}"
    return redact_secrets(text)[:500]  # an error may quote a path or ref read from the repository


def item_for(item: PreparedCommit, memory_id: int | None = None) -> dict:
    commit = item.commit
    return {
        **({"memory_id": memory_id} if memory_id is not None else {}),
        "title": f"{item.repo} {commit.sha[:8]} {commit.subject}",
        "repo": item.repo,
        "sha": commit.sha,
        "author": commit.author,
        "committed_at": commit.committed_at.isoformat(),
        "subject": commit.subject,
        "findings": [f.to_dict() for f in item.findings],
        "notes": item.notes,
        "review": item.review,
        "review_source": item.review_source,
        "worst": item.worst,
        "severity": item.worst,  # the shared rule's word for what the briefing counts as a problem
        **({"problem": problem} if (problem := _worst_finding(item)) else {}),
    }


def _worst_finding(item: PreparedCommit) -> str | None:
    """The one line that says what is wrong with a commit, for the briefing's summary."""
    lines = [(f.severity, f.line_text()) for f in item.findings]
    lines += [
        (c["severity"], located(c["severity"], c["file"], c["line"], c["comment"]))
        for c in (item.review or {}).get("comments", [])
    ]
    return next((line for severity, line in lines if severity == item.worst and item.worst != "info"), None)


def reviews_section(
    prepared: list[PreparedCommit],
    outcomes: list[RepoOutcome],
    llm_status: LLMState,
    memory_ids: dict[str, int] | None = None,
) -> Section:
    """The night's reviews; `memory_ids` (sha -> the review's memory) lets the briefing's refs name them."""
    lines, index = [], {id(p): number for number, p in enumerate(prepared)}
    for outcome in sorted(outcomes, key=lambda o: o.outcome != "failed"):  # what could not be read comes first
        if outcome.outcome == "failed":
            lines.append(Line.text(bold(outcome.name), f": could not be read: {outcome.error}"))
            continue
        mine = [p for p in prepared if p.repo == outcome.name]
        flagged = [item for item in mine if severity_status(item.worst).needs_action]
        lines.append(Line.text(bold(outcome.name), f": {repo_headline(len(mine), outcome.authors, len(flagged))}"))
        lines += [_commit_line(item, index[id(item)]) for item in flagged]
    if any(p.review_source == "fallback" for p in prepared):
        lines.append(
            Line.text(italic("llm: unavailable; deterministic findings only for the commits not reviewed before."))
        )
    if any(p.review_source == "over limit" for p in prepared):
        lines.append(
            Line.text(italic("Some commits were over tonight's LLM review limit: deterministic findings only."))
        )
    return Section(
        key="code_reviews",
        title="Code reviews",
        status=_status(prepared, outcomes),
        items=[item_for(p, (memory_ids or {}).get(p.commit.sha)) for p in prepared],
        lines=tuple(lines) or (NO_REPOSITORIES,),
        order=30,
        llm=llm_status,
        ref_prefix="C",
    )


def _commit_line(item: PreparedCommit, shows: int) -> Line:
    details = [_finding_line(f.severity, f.file, f.line, f.message) for f in item.findings if f.severity != "info"]
    if item.review:
        details.append(Line.item(f"review: {item.review['summary']}"))
        details += [
            _finding_line(c["severity"], c["file"], c["line"], c["comment"])
            for c in item.review["comments"]
            if c["severity"] != "info"
        ]
    subject = f" {item.commit.subject} ({item.commit.author})"
    return Line.item(code(item.commit.sha[:8]), subject, details=details, shows=shows)


def _finding_line(severity: str, file: str, line: int | None, text: str) -> Line:
    return Line.item(located("", file, line, text).lstrip(), severity=severity)  # the severity as the line's tag


def repo_headline(commits: int, authors: list[str], flagged: int) -> str:
    """'3 commits by A, B; 2 of 3 listed (those with findings).': the count announced is the count listed."""
    said = f"{commits} commit{'s' if commits != 1 else ''}" + (f" by {', '.join(authors)}" if authors else "")
    if not commits:
        return said
    return (
        f"{said}; {flagged} of {commits} listed (those with findings)." if flagged else f"{said}; none with findings."
    )


def _status(prepared: list[PreparedCommit], outcomes: list[RepoOutcome]) -> Status:
    """The shared rule: the worst finding or review comment of any commit; an unreadable repository is AMBER."""
    return section_status(
        (p.worst for p in prepared),
        configured=bool(outcomes),
        sources=len(outcomes),
        failed=sum(1 for o in outcomes if o.outcome == "failed"),
    )


def remember_reviews(cortex: Cortex, prepared: list[PreparedCommit], provenance: Provenance) -> Remembered:
    """Each review worth keeping as a memory, linked to its repository's (review -reviewed_in-> repository).
    A rerun refreshes the body: a daytime or fallback run remembered the findings, a later review adds
    its summary. `ids` maps each reviewed sha to its memory."""
    reviews = memories_for(prepared)
    repos = sorted({item.repo for item in prepared if item.review or item.findings})
    kept = remember(cortex, reviews + [anchor_row("repository", repo) for repo in repos], provenance, refresh_body=True)
    by_sha = {
        item.commit.sha: kept.ids[memory_hash("code_review", item.commit.sha)]
        for item in prepared
        if memory_hash("code_review", item.commit.sha) in kept.ids
    }
    link(
        cortex,
        [
            Edge(by_sha[item.commit.sha], kept.ids[memory_hash("repository", item.repo)], "reviewed_in")
            for item in prepared
            if item.commit.sha in by_sha
        ],
    )
    return Remembered(by_sha, kept.new)  # new memories, a repository's own the first night it is seen


def memories_for(prepared: list[PreparedCommit]) -> list[dict]:
    return [
        {
            "kind": "code_review",
            "source": item.repo,
            "url": None,
            "title": f"{item.repo}@{item.commit.sha[:12]}: {item.commit.subject}",
            "body": "\n".join(
                [*(f.line_text() for f in item.findings), (item.review or {}).get("summary", "")]
            ).strip(),
            "content_hash": memory_hash("code_review", item.commit.sha),
        }
        for item in prepared
        if item.review or item.findings
    ]
