"""The morning message as Slack reads it: its own syntax, Slack's limits, every pick, nothing cut.

The demo's night (its 18 bundled feeds, its repository, its auth log) with `digest_size: 15` goes
to the loopback Slack; the validator in the test kit reads what Slack holds as Slack would.
"""

import json
import re
from datetime import date
from pathlib import Path

import yaml

from overnight_assets.briefing.refs import with_refs
from overnight_assets.briefing.slack_format import MAX_BLOCKS, SECTION_TEXT_LIMIT, TEXT_LIMIT, slack_message
from overnight_assets.config import BUNDLED_DEMO_CONFIG, load_config
from overnight_assets.definitions import build_defs
from overnight_assets.demo.inputs import prepare_demo_auth_log, prepare_demo_feeds, prepare_demo_repository
from overnight_assets.section import Line, Section, bold, code, italic, link
from overnight_assets.status import Status
from overnight_assets_tests.testkit.fake_slack import slack_links, slack_payload_problems

NIGHT = "2026-11-20"


def demo_config(tmp_path: Path, monkeypatch, llm_url: str, slack_url: str, digest_size: int = 15):
    """The bundled demo configuration with its inputs written for NIGHT, the loopback Slack, and
    `digest_size` picks."""
    monkeypatch.setenv("OVERNIGHT_HOME", str(tmp_path / "home"))
    data = yaml.safe_load(BUNDLED_DEMO_CONFIG.read_text())
    samples = BUNDLED_DEMO_CONFIG.parent / "samples"
    data["llm"]["host"] = llm_url
    data["slack"] = {"channel": "#overnight", "token_env": "OVERNIGHT_TEST_SLACK_TOKEN", "base_url": slack_url}
    data["reading"]["digest_size"] = digest_size
    data["triage"]["ports"]["proc_net"] = str(samples / "proc_net")
    data["triage"]["integrity"]["paths"] = [str(samples / "watched" / "**")]
    data["triage"]["disk"] = {"paths": [str(samples)], "amber_pct": 99.8, "red_pct": 99.9}
    path = tmp_path / "overnight.yaml"
    path.write_text(yaml.safe_dump(data))
    config = load_config(path)
    night = date.fromisoformat(NIGHT)
    prepare_demo_auth_log(night, Path(config.triage.auth_log.path))
    prepare_demo_feeds(night, config.paths.demo_inputs / "feeds")
    for repo in config.code_review.repos:
        prepare_demo_repository(night, config.timezone, Path(repo.path))
    return config


def stored(config, asset: str) -> dict:
    return json.loads((config.paths.assets / asset / f"{NIGHT}.json").read_text())


def item_urls(section: dict) -> set[str]:
    return {item[key] for item in section["items"] for key in ("url", "pdf_url") if item.get(key)}


def test_the_demo_night_reads_in_slacks_syntax_with_every_pick(
    tmp_path, monkeypatch, instance, unused_url, slack_server
):
    config = demo_config(tmp_path, monkeypatch, unused_url, slack_server.url)  # no Ollama, as in the demo
    result = build_defs(config).resolve_job_def("nightly").execute_in_process(partition_key=NIGHT, instance=instance)
    assert result.success

    briefing = stored(config, "morning_briefing")
    digest = stored(config, "article_digest")
    known = set().union(*(item_urls(section) for section in briefing["sections"]))
    assert len(slack_server.posts) >= 1 and slack_payload_problems(slack_server, known) == []
    picks = [item["url"] for item in digest["items"]]
    assert len(picks) > 8, "the demo's night should fill more than the old digest_size"
    assert set(picks) <= slack_links(slack_server), "a pick is missing from the message and its thread"
    assert len(slack_server.posts[0]["text"]) <= TEXT_LIMIT
    # the Markdown file keeps Markdown: the same picks, as Markdown links
    markdown = config.paths.briefing(NIGHT).read_text()
    assert all(f"]({url})" in markdown for url in picks)


# --- rendering: hostile text stays text, links only from validated URLs ------------------------


def section(*lines: Line, title="Reading list", status=Status.GREEN, key="article_digest") -> Section:
    return Section(key, title, status, lines=lines)


def rendered(*sections: Section, summary="All quiet.") -> str:
    message = slack_message(NIGHT, Status.worst(s.status for s in sections), summary, list(sections))
    return "\n".join(block["text"]["text"] for block in [*message.blocks] if block["type"] == "section")


def test_links_and_bold_are_slacks_own_syntax_and_markdown_stays_in_the_file():
    digest = section(
        Line.item(
            link("Quantization [in] practice", "https://example.org/q?a=1&b=2"),
            " (Lobsters)",
            number=1,
            details=[Line.text(italic("Why: gguf."))],
        ),
        Line.text(bold("homelab"), ": 2 commits"),
    )
    text = rendered(digest)
    assert "1. <https://example.org/q?a=1&b=2|Quantization [in] practice> (Lobsters)" in text
    assert "*homelab*: 2 commits" in text and "_Why: gguf_." in text
    assert "**" not in text and "](" not in text
    assert digest.markdown.splitlines() == [
        "1. [Quantization (in) practice](https://example.org/q?a=1&b=2) (Lobsters)",
        "   _Why: gguf._",
        "**homelab**: 2 commits",
    ]


def test_a_hostile_title_cannot_ping_link_or_format():
    title = "*Free* <!channel> @here [click](https://evil.example) <https://evil.example|bank> _x_ `rm` ~y~ a_b"
    text = rendered(section(Line.item(link(title, "https://good.example/a"), number=1)))
    assert re.findall(r"<([^<>|]*)\|", text) == ["https://good.example/a"]  # the one link is the validated URL
    assert "&lt;https://evil.example|bank&gt;" in text and "<!channel>" not in text and "@here" not in text
    label = text.split("|", 1)[1].rsplit(">", 1)[0]
    assert label.startswith("∗Free∗ &lt;!channel&gt; @\u2060here") and label.endswith(
        "ˍxˍ ˋrmˋ ∼y∼ a_b"
    )  # snake_case stays
    assert not any(char in label.replace("a_b", "") for char in "*_~`"), label


def test_only_http_links_are_links_and_a_bar_or_bracket_in_a_url_is_made_safe():
    text = rendered(
        section(
            Line.item(link("script", "javascript:alert(1)")),
            Line.item(link("with credentials", "https://user:secret@example.org/")),
            Line.item(link("piped", "https://example.org/a|b>c<d e")),
        )
    )
    assert "<https://example.org/a%7Cb%3Ec%3Cd%20e|piped>" in text
    assert "javascript" not in text.split("script")[0] and "• script" in text
    assert "secret" not in text and "• with credentials" in text


def test_a_long_section_goes_over_several_blocks_at_line_boundaries_nothing_cut():
    lines = [
        Line.item(
            link(f"Pick {n} " + "words " * 40, f"https://example.org/{n}"),
            number=n,
            details=[Line.text("summary " * 60)],
        )
        for n in range(1, 41)
    ]
    message = slack_message(NIGHT, Status.GREEN, "Summary.", [section(*lines)])
    texts = [block["text"]["text"] for block in message.blocks if block["type"] == "section"]
    assert len(texts) > 3 and all(len(text) <= SECTION_TEXT_LIMIT for text in texts)
    whole_lines = {f"{n}. <https://example.org/{n}|Pick {n} {'words ' * 40}".rstrip() + ">" for n in range(1, 41)}
    whole_lines |= {"      " + ("summary " * 60).rstrip(), ":large_green_circle: *Reading list*: GREEN", "Summary."}
    assert {line for text in texts for line in text.splitlines()} == whole_lines  # every line whole, in some block


def test_a_line_longer_than_a_block_is_split_at_spaces_as_plain_text():
    huge = ("A & B <x> " * 700).strip()  # escaped, far over 3,000 characters
    message = slack_message(NIGHT, Status.AMBER, huge, [section(Line.text(huge))])
    texts = [block["text"]["text"] for block in message.blocks if block["type"] == "section"]
    assert all(len(text) <= SECTION_TEXT_LIMIT for text in texts)
    assert "".join(texts).count("&amp;") == 2 * 700  # every entity whole, none cut in two


def test_past_fifty_blocks_the_rest_goes_into_the_thread():
    sections = [
        section(
            *[Line.item(link(f"Item {k}-{n} " + "x " * 400, f"https://example.org/{k}/{n}")) for n in range(4)],
            key=f"s{k}",
            title=f"Section {k}",
        )
        for k in range(30)
    ]
    message = slack_message(NIGHT, Status.GREEN, "Summary.", sections)
    assert len(message.blocks) <= MAX_BLOCKS and message.replies
    assert all(len(reply["blocks"]) <= MAX_BLOCKS for reply in message.replies)
    assert message.blocks[-1]["type"] == "context" and "thread" in message.blocks[-1]["elements"][0]["text"]
    everything = json.dumps([message.blocks, *(reply["blocks"] for reply in message.replies)])
    assert all(f"https://example.org/{k}/{n}|" in everything for k in range(30) for n in range(4))
    assert "Section 0" in json.dumps(message.blocks)  # the first sections (security comes first) stay in the message


def test_the_plain_text_fallback_stays_within_slacks_limits():
    sections = [section(Line.text("x"), key=f"s{k}", title=f"Section {k} " + "t" * 80) for k in range(60)]
    text = slack_message(NIGHT, Status.GREEN, "s " * 2000, sections).text
    assert len(text) <= TEXT_LIMIT and text.startswith(f"Morning briefing {NIGHT}: GREEN")
    assert text.endswith("… (the rest is in the message)")


def test_markdown_and_slack_are_rendered_from_the_same_lines():
    lines = (
        Line.item("auth_log: 12 failed SSH logins", severity="amber"),
        Line.item(
            code("abc12345"),
            " Add feature (Ana)",
            details=[Line.item("app.py:3 breakpoint() left in", severity="warning")],
        ),
    )
    triage = section(*lines, title="Security triage", status=Status.AMBER, key="security_triage")
    assert triage.markdown.splitlines() == [
        "- **AMBER** auth_log: 12 failed SSH logins",
        "- `abc12345` Add feature (Ana)",
        "  - **WARNING** app.py:3 breakpoint() left in",
    ]
    text = rendered(triage)
    assert (
        "• *AMBER* auth_log: 12 failed SSH logins\n• `abc12345` Add feature (Ana)\n      ◦ *WARNING* app.py:3 breakpoint() left in"
        in text
    )


def test_a_section_stored_before_lines_existed_still_loads():
    older = {
        "key": "security_triage",
        "title": "Security triage",
        "status": "GREEN",
        "items": [],
        "markdown": "- *AMBER* x\nsecond",
        "order": 0,
        "llm": "ok",
    }
    loaded = Section.from_dict(older)
    assert [line.plain for line in loaded.lines] == ["- *AMBER* x", "second"] and loaded.markdown == older["markdown"]
    again = Section.from_dict(json.loads(json.dumps(loaded.to_dict())))
    assert again == loaded


def test_a_message_with_refs_says_what_they_are_for_and_one_without_says_nothing():
    digest = Section(
        "article_digest", "Reading list", Status.GREEN, items=[{"title": "GGUF"}], ref_prefix="R",
        lines=(Line.item(link("GGUF at 2 bits", "https://example.org/gguf"), number=1, shows=0),),
    )  # fmt: skip
    numbered, _ = with_refs([digest])
    message = slack_message(NIGHT, Status.GREEN, "All quiet.", numbered)
    assert "1. `R1` <https://example.org/gguf|GGUF at 2 bits>" in rendered(*numbered)
    hint = message.blocks[-1]
    assert hint["type"] == "context" and "`overnight feedback R1 good`" in hint["elements"][0]["text"]
    assert message.ref_pages == {"R1": 0}
    plain_digest = section(Line.item("No refs here"))
    assert all(block["type"] != "context" for block in slack_message(NIGHT, Status.GREEN, "ok", [plain_digest]).blocks)
