"""The morning briefing: composed from whatever sections its upstream assets produced."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from overnight_assets.briefing.section import Section
from overnight_assets.status import Status

SUMMARY_SYSTEM = (
    "You write the opening paragraph of a homelab owner's morning briefing: at most four calm, "
    "factual sentences. Lead with anything suspicious; mention nothing that is not in the data."
)


SECTION_BYTES = 8_000  # of each section's text in the summary's prompt


class Summary(BaseModel):
    paragraph: str = Field(description="The opening paragraph, plain text, at most four sentences")


def overall_status(sections: list[Section]) -> Status:
    return Status.worst(section.status for section in sections)


def changes_since(previous: dict[str, Any] | None, sections: list[Section]) -> list[str]:
    """What differs from yesterday's briefing: status moves, new and resolved items per section."""
    if previous is None:
        return ["No briefing for the previous day: nothing to compare with yet."]
    before = {s["key"]: s for s in previous.get("sections", [])}
    changes = []
    for section in sections:
        old = before.get(section.key)
        if old is None:
            changes.append(f"{section.title}: new section today.")
            continue
        if old["status"] != section.status.value:
            changes.append(f"{section.title}: {old['status']} → {section.status.value}.")
        old_titles = {item.get("title") for item in old.get("items", [])}
        new_titles = {item.get("title") for item in section.items}
        if added := len(new_titles - old_titles):
            changes.append(f"{section.title}: {added} new item(s) since yesterday.")
        if resolved := len(old_titles - new_titles):
            changes.append(f"{section.title}: {resolved} item(s) from yesterday are gone.")
    return changes or ["Nothing changed since yesterday."]


def fallback_summary(sections: list[Section]) -> str:
    """The deterministic summary used when the LLM is unavailable (and said to be)."""
    status = overall_status(sections)
    parts = [f"{s.title}: {s.status.value} ({len(s.items)} item{'s' if len(s.items) != 1 else ''})" for s in sections]
    return f"Overall {status.value}. " + "; ".join(parts) + "."


def summary_prompt(partition_key: str, sections: list[Section], changes: list[str]) -> str:
    """Each section within its own byte budget: a long code review list never crowds out the
    security verdict the summary must lead with."""
    from overnight_assets.resources.llm import as_data, within_budget

    body = "\n\n".join(within_budget(f"## {s.title} [{s.status.value}]\n{s.markdown}", SECTION_BYTES) for s in sections)
    return f"Night of {partition_key}.\n" + as_data("sections", body) + "\n" + as_data("changes", within_budget("\n".join(changes), SECTION_BYTES))


def render_markdown(partition_key: str, sections: list[Section], summary: str, summary_source: str, changes: list[str]) -> str:
    status = overall_status(sections)
    lines = [f"# Morning briefing for {partition_key}: {status.value}", "", summary]
    if summary_source != "llm":
        lines += ["", "_Summary written without the LLM (deterministic fallback)._"]
    lines += ["", "## Since yesterday", *[f"- {change}" for change in changes]]
    for section in sections:
        lines += ["", f"## {section.title}: {section.status.value}", "", section.markdown.strip() or "_Nothing to report._"]
    return "\n".join(lines) + "\n"


def ordered(sections: list[Section]) -> list[Section]:
    return sorted(sections, key=lambda s: (s.order, s.key))
