"""The LLM's second look at a non-GREEN triage: context and, at most, a higher status."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from overnight_assets.resources.llm import as_data, within_budget
from overnight_assets.triage.findings import Finding, Severity

FINDING_BYTES = 2_000  # one finding's line; its detail may quote log lines an attacker wrote
FINDINGS_BYTES = 32_000  # all of them

REVIEW_SYSTEM = (
    "You are the security triage reviewer of a homelab. The deterministic gate already flagged the "
    "findings below. Explain briefly what they likely mean and what to check first. Choose a status: "
    "GREEN, AMBER or RED; RED only for signs of compromise or exposure that needs action today."
)


class TriageReview(BaseModel):
    status: Literal["GREEN", "AMBER", "RED"]
    summary: str = Field(description="Two or three sentences of context for the owner")
    actions: list[str] = Field(default_factory=list, description="Concrete next checks, most urgent first")


def review_prompt(findings: list[Finding]) -> str:
    """Only AMBER and RED findings go to the model: INFO lines change night to night. RED ones come
    first and each finding has its own budget, so junk written into a log cannot crowd the signal
    out of what the model reads."""
    flagged = sorted(
        (f for f in findings if f.severity is not Severity.INFO), key=lambda f: f.severity is not Severity.RED
    )
    lines = "\n".join(
        within_budget(f"- [{f.severity.value}] {f.collector}: {f.title}. {f.detail}".rstrip(), FINDING_BYTES)
        for f in flagged
    )
    return "Findings from tonight's collectors:\n" + as_data("findings", within_budget(lines, FINDINGS_BYTES))
