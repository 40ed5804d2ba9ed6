"""Sections that did not arrive: each is named in the briefing, never silently left out.

When a section asset fails (or never ran because the step it needs failed), the briefing still
goes out, composed from the sections that did materialize, with one stand-in section per missing
one: what happened, the first line of the error and a link to the run in the Dagster UI.

A night without a security verdict is RED, with the line "Security triage FAILED": whoever can
crash the triage (a hostile log line, a broken model) must not buy the owner a quieter morning.
Any other missing section is AMBER: something needs a look, nothing suspicious is known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from overnight_assets.secret_urls import redact_text
from overnight_assets.section import Line, Section, bold, link
from overnight_assets.status import Status

SECURITY_SECTION = "security_triage"  # the triage asset's name; domains meet by key, not by import
MAX_ERROR_CHARS = 300
RUN_LINK_LABEL = "The run in the Dagster UI"
FailureState = Literal["FAILED", "NOT RUN"]  # its step raised | the run stopped before it
_QUALIFIED_CLASS = re.compile(r"^(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*(?:Error|Exception)): ")  # package.module.XError:


@dataclass(frozen=True)
class SectionFailure:
    key: str  # the section asset's name
    outcome: FailureState
    reason: str  # the error's first line, or why it never ran
    run_url: str  # the failed run in the Dagster UI


def first_line(text: str) -> str:
    """An error's first non-empty line, cut to a readable length, credentials in URLs redacted."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "no error message")
    line = redact_text(_QUALIFIED_CLASS.sub(r"\1: ", line))
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"


def run_url(ui_base_url: str, run_id: str) -> str:
    return f"{ui_base_url.rstrip('/')}/runs/{run_id}"


def stand_in(failure: SectionFailure, previous: dict[str, Any] | None) -> Section:
    """The section that takes a missing one's place, titled and ordered as it was yesterday if known."""
    known = {s["key"]: s for s in (previous or {}).get("sections", [])}.get(failure.key, {})
    title = known.get("title") or failure.key.replace("_", " ").capitalize()
    security = failure.key == SECURITY_SECTION
    headline = Line.text(bold(f"{title} {failure.outcome}"))
    if security:
        headline = Line.text(
            bold(f"{title} {failure.outcome}: no security verdict tonight."), " Check the host yourself."
        )
    return Section(
        key=failure.key,
        title=title,
        status=Status.RED if security else Status.AMBER,
        lines=(headline, Line.text(failure.reason), Line.text(link(RUN_LINK_LABEL, failure.run_url))),
        order=known.get("order", 0 if security else 50),
        llm="not run",
    )


def compose_with_failures(
    sections: dict[str, dict | None], failures: list[SectionFailure], previous: dict | None
) -> tuple[list[Section], list[Section]]:
    """(the sections that arrived, those plus a stand-in for each failure): a failed section's
    older value on disk is from an earlier run, so it is never shown as tonight's."""
    failed = {failure.key for failure in failures}
    arrived = [Section.from_dict(value) for key, value in sections.items() if value is not None and key not in failed]
    return arrived, arrived + [stand_in(failure, previous) for failure in failures]
