"""What counts as a good morning: a briefing that names every section, and a message that was
delivered or waits in the outbox for a stated reason."""

from __future__ import annotations

from typing import Any

from overnight_assets.briefing.delivery import NOT_CONFIGURED
from overnight_assets.verdict import Verdict, names


def briefing_verdict(briefing: dict[str, Any], section_keys: list[str]) -> Verdict:
    """ERROR when the Markdown is empty, when a section asset has no section in the briefing (not
    even a failed one's stand-in), or when a section's title is not a heading of the Markdown."""
    markdown = briefing.get("markdown") or ""
    if not markdown.strip():
        return Verdict.error("The briefing is empty")
    sections = {section.get("key"): section for section in briefing.get("sections") or []}
    missing = [key for key in section_keys if key not in sections]
    if missing:
        return Verdict.error(f"Sections missing from the briefing: {', '.join(missing)}", missing=missing)
    headings = {line.removeprefix("## ").rpartition(":")[0] for line in markdown.splitlines() if line.startswith("## ")}
    unnamed = [sections[key].get("title") or key for key in section_keys if sections[key].get("title") not in headings]
    if unnamed:
        return Verdict.error(f"Sections the Markdown does not name: {', '.join(unnamed)}", unnamed=unnamed)
    return Verdict.ok(f"Names all {len(section_keys)} sections", sections=len(section_keys), characters=len(markdown))


def delivery_verdict(partition_key: str, recorded: dict[str, Any] | None, in_outbox: bool) -> Verdict:
    """Passes when the night's message was delivered (posted or updated). Otherwise the message
    must wait in the outbox: WARN when Slack is simply not configured or another run holds the
    delivery, ERROR with Slack's reason when it refused, ERROR when the message is nowhere."""
    if recorded is None:
        return Verdict.error(f"morning_delivery recorded nothing for {partition_key}")
    if partition_key in names(recorded.get("delivered")):
        how = "updated in place" if partition_key in names(recorded.get("updated_in_place")) else "posted"
        return Verdict.ok(f"Delivered to {recorded.get('channel')} ({how})")
    if partition_key in names(recorded.get("claimed_by_another_run")):
        return Verdict.warn("Another run holds this night's delivery; its own check says how it ended")
    if not in_outbox:
        return Verdict.error(f"Neither delivered nor in the outbox: the message for {partition_key} is lost")
    if recorded.get("delivery") == NOT_CONFIGURED:
        return Verdict.warn(f"Not sent: Slack is not configured; the message waits in {recorded.get('outbox')}")
    reason = recorded.get("error") or "no reason recorded"
    return Verdict.error(f"Not delivered, kept in the outbox for the next try: {reason}")
