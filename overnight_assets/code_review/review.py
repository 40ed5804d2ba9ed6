"""The LLM's review of one commit: structured comments, grounded in the diff it was shown."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from overnight_assets.code_review.commit_checks import CodeFinding
from overnight_assets.redaction import redact_secrets
from overnight_assets.resources.llm import as_data

REVIEW_SYSTEM = (
    "You review one git commit from a homelab owner's own repository. Point out bugs, risky changes, "
    "security problems and leftovers, each tied to a file and line of the diff you were shown. Be brief; "
    "no praise, no style nits. An empty list of comments is a fine answer for a clean commit."
)


class ReviewComment(BaseModel):
    severity: Literal["info", "warning", "error"]
    file: str
    line: int | None = Field(None, description="Line in the new file, if the comment is about one line")
    comment: str


class CommitReview(BaseModel):
    summary: str = Field(description="One sentence: what the commit does and whether it looks safe")
    comments: list[ReviewComment] = Field(default_factory=list)


def review_prompt(
    repo: str, sha: str, author: str, subject: str, diff: str, notes: list[str], findings: list[CodeFinding]
) -> str:
    checks = "\n".join(f"- {f.check}: {f.line_text()}" for f in findings) or "none"
    return "\n".join(
        [
            f"Repository {repo}, commit {sha[:12]}.",
            as_data("author", author),
            as_data("commit message", subject),
            as_data("deterministic findings", checks),
            as_data("notes on the diff", "\n".join(notes) or "none"),
            as_data("diff", diff),
        ]
    )


def grounded(review: CommitReview, files_shown: set[str]) -> CommitReview:
    """Comments about files the model was not shown are dropped: it must not invent them. Any
    secret-shaped string it wrote is withheld, as in the deterministic findings."""
    kept = [
        comment.model_copy(update={"comment": redact_secrets(comment.comment)})
        for comment in review.comments
        if comment.file in files_shown
    ]
    return review.model_copy(update={"summary": redact_secrets(review.summary), "comments": kept})
