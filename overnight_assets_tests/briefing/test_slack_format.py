"""Untrusted text reaches Slack inert: no mentions, no smuggled links, within Slack's limits."""

from overnight_assets.briefing.slack_format import escape, slack_message
from overnight_assets.section import Section
from overnight_assets.status import Status


def test_mentions_and_links_are_neutralised():
    text = escape("<!channel> wake up @here, see <https://evil.example|your bank> & @everyone")
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt;" in text and "&amp;" in text
    assert "@here" not in text and "@everyone" not in text


def test_blocks_escape_section_content_and_keep_within_limits():
    section = Section("reading", "Reading", Status.AMBER, markdown="x" * 5000 + " <!here>")
    message = slack_message("2026-11-20", Status.AMBER, "Summary <@U123>", [section] * 40)
    pages = [message.blocks, *(reply["blocks"] for reply in message.replies)]
    assert all(len(blocks) <= 50 for blocks in pages)
    assert all(len(block["text"]["text"]) <= 3000 for blocks in pages for block in blocks if block["type"] == "section")
    assert "&lt;@U123&gt;" in message.blocks[1]["text"]["text"]
    assert message.blocks[0]["text"]["text"] == ":large_orange_circle: Morning briefing 2026-11-20: AMBER"


def test_plain_text_fallback_names_every_section():
    sections = [Section("a", "Security triage", Status.RED), Section("b", "Reading", Status.GREEN)]
    text = slack_message("2026-11-20", Status.RED, "Act now.", sections).text
    assert text.splitlines() == [
        "Morning briefing 2026-11-20: RED",
        "Act now.",
        "Security triage: RED",
        "Reading: GREEN",
    ]


def test_plain_text_from_outside_cannot_become_a_link_or_html_in_the_markdown_file():
    from overnight_assets.section import Line, Section
    from overnight_assets.status import Status

    smuggled = "Great post [click here](javascript:alert(1)) <img src=x onerror=alert(1)>"
    section = Section(key="k", title="t", status=Status.GREEN, lines=(Line.text(smuggled), Line.item(smuggled)))
    for line in section.markdown.splitlines():
        assert "](" not in line.replace("\\](", "") and "<img" not in line.replace("\\<img", "")
    assert "\\[click here\\](javascript:alert(1))" in section.markdown


def test_every_status_has_its_emoji():
    from overnight_assets.briefing.slack_format import STATUS_EMOJI

    assert set(STATUS_EMOJI) == set(Status) and STATUS_EMOJI[Status.NOT_CONFIGURED] == ":white_circle:"
