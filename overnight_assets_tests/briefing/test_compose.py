"""The briefing composes any sections and says what changed since yesterday."""

from overnight_assets.briefing.compose import changes_since, fallback_summary, ordered, render_markdown
from overnight_assets.briefing.section import Section
from overnight_assets.status import Status


def section(key, status, titles, order=50):
    return Section(key, key.title(), status, items=[{"title": t} for t in titles], markdown="body", order=order)


def test_changes_name_status_moves_new_and_gone_items():
    yesterday = {"sections": [section("triage", Status.GREEN, ["a", "b"]).to_dict()]}
    today = [section("triage", Status.AMBER, ["b", "c", "d"]), section("reading", Status.GREEN, ["x"])]
    assert changes_since(yesterday, today) == [
        "Triage: GREEN → AMBER.",
        "Triage: 2 new item(s) since yesterday.",
        "Triage: 1 item(s) from yesterday are gone.",
        "Reading: new section today.",
    ]
    assert changes_since(yesterday, [section("triage", Status.GREEN, ["a", "b"])]) == ["Nothing changed since yesterday."]


def test_any_new_section_is_composed_in_order_without_briefing_changes():
    sections = ordered([section("zeta", Status.GREEN, [], order=90), section("triage", Status.RED, ["x"], order=0)])
    markdown = render_markdown("2026-11-20", sections, fallback_summary(sections), "fallback", ["c"])
    assert markdown.index("## Triage: RED") < markdown.index("## Zeta: GREEN")
    assert markdown.startswith("# Morning briefing for 2026-11-20: RED")
    assert fallback_summary(sections) == "Overall RED. Triage: RED (1 item); Zeta: GREEN (0 items)."


def test_the_ui_preview_is_cut_at_a_line_with_a_note():
    from pathlib import Path

    from overnight_assets.briefing.assets import PREVIEW_CHARS, preview

    lines = [f"{n}. a pick whose title runs on and on {'word ' * 10}" for n in range(200)]
    shown = preview("\n".join(lines), Path("/home/u/.overnight/briefings/2026-11-20.md"))
    kept, note = shown.rsplit("\n\n", 1)
    assert len(shown) <= PREVIEW_CHARS and kept.splitlines() == lines[: len(kept.splitlines())]
    assert note == "_… cut here for the preview: the whole briefing is in /home/u/.overnight/briefings/2026-11-20.md_"
    assert preview("short\nbriefing", Path("x.md")) == "short\nbriefing"
