"""Untrusted text reaches Slack inert: no mentions, no smuggled links, within Slack's limits."""

from overnight_assets.briefing.section import Section
from overnight_assets.briefing.slack_format import blocks_for, escape, plain_text_for
from overnight_assets.status import Status


def test_mentions_and_links_are_neutralised():
    text = escape("<!channel> wake up @here, see <https://evil.example|your bank> & @everyone")
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt;" in text and "&amp;" in text
    assert "@here" not in text and "@everyone" not in text


def test_blocks_escape_section_content_and_keep_within_limits():
    section = Section("reading", "Reading", Status.AMBER, markdown="x" * 5000 + " <!here>")
    blocks = blocks_for("2026-11-20", Status.AMBER, "Summary <@U123>", [section] * 40)
    assert len(blocks) <= 50
    assert all(len(block["text"]["text"]) <= 3000 for block in blocks if block["type"] == "section")
    assert "&lt;@U123&gt;" in blocks[1]["text"]["text"]
    assert blocks[0]["text"]["text"] == "Morning briefing 2026-11-20: AMBER"


def test_plain_text_fallback_names_every_section():
    sections = [Section("a", "Security triage", Status.RED), Section("b", "Reading", Status.GREEN)]
    text = plain_text_for("2026-11-20", Status.RED, "Act now.", sections)
    assert text.splitlines() == ["Morning briefing 2026-11-20: RED", "Act now.", "Security triage: RED", "Reading: GREEN"]
