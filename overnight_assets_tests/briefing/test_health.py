"""What the briefing and delivery checks count as a good morning."""

import pytest

from overnight_assets.briefing.compose import render_markdown
from overnight_assets.briefing.delivery import NOT_CONFIGURED
from overnight_assets.briefing.health import briefing_verdict, delivery_verdict
from overnight_assets.section import Section
from overnight_assets.status import Status

NIGHT = "2026-11-20"
SECTIONS = [
    Section("security_triage", "Security triage", Status.GREEN, markdown="Nothing suspicious.", order=0),
    Section("article_digest", "Reading list", Status.GREEN, markdown="Two picks."),
]


def briefing(sections=SECTIONS, markdown=None):
    return {
        "sections": [section.to_dict() for section in sections],
        "markdown": render_markdown(NIGHT, sections, "All quiet.", "llm", []) if markdown is None else markdown,
    }


def test_a_briefing_naming_every_section_passes():
    verdict = briefing_verdict(briefing(), ["security_triage", "article_digest"])
    assert verdict.passed and verdict.description == "Names all 2 sections"


def test_a_briefing_missing_a_section_fails():
    verdict = briefing_verdict(briefing(SECTIONS[:1]), ["security_triage", "article_digest"])
    assert (verdict.passed, verdict.severity) == (False, "error")
    assert verdict.description == "Sections missing from the briefing: article_digest"


def test_a_section_the_markdown_does_not_name_fails():
    markdown = briefing()["markdown"].replace("## Reading list", "## Something else")
    verdict = briefing_verdict(briefing(markdown=markdown), ["security_triage", "article_digest"])
    assert not verdict.passed and verdict.description == "Sections the Markdown does not name: Reading list"


@pytest.mark.parametrize("markdown", ["", "  \n"])
def test_an_empty_briefing_fails(markdown):
    verdict = briefing_verdict(briefing(markdown=markdown), ["security_triage"])
    assert (verdict.passed, verdict.description) == (False, "The briefing is empty")


def recorded(delivery="delivered", delivered="none", **more):
    return {"delivery": delivery, "delivered": delivered, "updated_in_place": "none", "claimed_by_another_run": "none",
            "channel": "#overnight", "outbox": "/home/me/.overnight/outbox", **more}  # fmt: skip


def test_a_delivered_night_passes_and_says_how():
    assert delivery_verdict(NIGHT, recorded(delivered=f"2026-11-19, {NIGHT}"), in_outbox=False).description == (
        "Delivered to #overnight (posted)"
    )
    updated = recorded(delivered=NIGHT, updated_in_place=NIGHT)
    assert delivery_verdict(NIGHT, updated, in_outbox=False).description == "Delivered to #overnight (updated in place)"


def test_slack_not_configured_is_a_warning_naming_the_outbox():
    verdict = delivery_verdict(NIGHT, recorded(NOT_CONFIGURED), in_outbox=True)
    assert (verdict.passed, verdict.severity) == (False, "warn")
    assert "Slack is not configured" in verdict.description and "/home/me/.overnight/outbox" in verdict.description


def test_slack_refusing_is_an_error_with_its_reason():
    error = f"Slack refused or failed the message for {NIGHT}: HTTP 200, error 'channel_not_found'"
    verdict = delivery_verdict(NIGHT, recorded("kept in outbox", error=error), in_outbox=True)
    assert (verdict.passed, verdict.severity) == (False, "error")
    assert verdict.description.endswith("error 'channel_not_found'")


def test_a_message_neither_delivered_nor_kept_is_an_error():
    verdict = delivery_verdict(NIGHT, recorded(NOT_CONFIGURED), in_outbox=False)
    assert (verdict.passed, verdict.severity) == (False, "error") and "is lost" in verdict.description
    assert delivery_verdict(NIGHT, None, in_outbox=True).description == f"morning_delivery recorded nothing for {NIGHT}"


def test_another_runs_delivery_is_a_warning():
    verdict = delivery_verdict(NIGHT, recorded(claimed_by_another_run=NIGHT), in_outbox=True)
    assert (verdict.passed, verdict.severity) == (False, "warn")
