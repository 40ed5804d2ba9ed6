"""The reading list's two briefing sections: the article digest and the arXiv finds.

Both follow the shared status rule (overnight_assets.status): no source (query) configured is NOT
CONFIGURED, a source that failed makes the section AMBER, and a pick is never a finding. The first
line says how the sources fared, so the status is explained where it is shown; scores stay in the
items (`score`, `relevance`) and the metadata, never in the text a person reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sized

from overnight_assets.reading.judge import Pick
from overnight_assets.reading.papers import QueryOutcome
from overnight_assets.reading.reading_list import Selection, SourceOutcome
from overnight_assets.resources.http import FetchState
from overnight_assets.section import Line, LLMState, Section, code, italic, link
from overnight_assets.status import Status, section_status

DIGEST_ORDER, FINDS_ORDER = 20, 30
_FALLBACK_NOTE = "llm: unavailable; ranked by interest keywords, with the {what}' own summaries."
BLANK = Line()
# how the first line tells each state (an arXiv query's states are a fetch's too)
SAID_OF_STATE: dict[FetchState, str] = {"ok": "answered", "not_modified": "not modified", "failed": "failed"}
NO_INTERESTS = "No interests configured (`reading.interests`): everything new is ranked by source weight and recency."


def digest_section(selection: Selection, outcomes: dict[str, SourceOutcome], llm_status: LLMState) -> Section:
    failed = {name: o for name, o in outcomes.items() if o["outcome"] == "failed"}
    status = _status(outcomes, failed)
    if not outcomes:
        lines = [Line.text("No sources configured (", code("reading.sources"), ").")]
        return _section("article_digest", "Reading list", status, [], lines, llm_status, DIGEST_ORDER)
    if len(failed) == len(outcomes):
        reasons = [Line.item(f"{name}: {o['error']}") for name, o in failed.items()]
        lines = [
            Line.text(f"Every source failed ({len(failed)} of {len(outcomes)}): no reading list tonight."),
            *reasons,
        ]
        return _section("article_digest", "Reading list", status, [], lines, llm_status, DIGEST_ORDER)
    lines = [
        Line.text(sources_line(outcomes, "source", "sources")),
        Line.text(picks_line(selection, f"{selection.new} new item{_s(selection.new)}")),
    ]
    lines += _interest_note(selection)
    lines += [BLANK, *_pick_lines(selection.picks, paper=False)]
    if llm_status == "unavailable" and selection.picks:
        lines += [BLANK, Line.text(italic(_FALLBACK_NOTE.format(what="feeds")))]
    return _section("article_digest", "Reading list", status, selection.picks, lines, llm_status, DIGEST_ORDER)


def finds_section(selection: Selection, outcomes: dict[str, QueryOutcome], llm_status: LLMState) -> Section:
    failed = {query: o for query, o in outcomes.items() if o["outcome"] == "failed"}
    status = _status(outcomes, failed)
    if not outcomes:
        lines = [Line.text("No arXiv queries configured (", code("reading.arxiv.queries"), ").")]
        return _section("arxiv_finds", "arXiv finds", status, [], lines, llm_status, FINDS_ORDER)
    found = sum(o.get("in_window", 0) for o in outcomes.values())
    lines = [Line.text(sources_line(outcomes, "query", "queries"))]
    out_of = f"{found} paper{_s(found)} submitted in the window, {selection.new} not seen before"
    lines.append(Line.text(picks_line(selection, out_of, nothing_new=f"Nothing new tonight ({out_of}).")))
    lines += _interest_note(selection)
    lines += [BLANK, *_pick_lines(selection.picks, paper=True)]
    if llm_status == "unavailable" and selection.picks:
        lines += [BLANK, Line.text(italic(_FALLBACK_NOTE.format(what="abstracts")))]
    return _section("arxiv_finds", "arXiv finds", status, selection.picks, lines, llm_status, FINDS_ORDER)


def _status(outcomes: Sized, failed: Sized) -> Status:
    return section_status(configured=bool(outcomes), sources=len(outcomes), failed=len(failed))


def sources_line(outcomes: Mapping[str, SourceOutcome | QueryOutcome], one: str, many: str) -> str:
    """'18 sources: 16 answered, 1 not modified, 1 failed (Slashdot: HTTP 404 Not Found).': only failures by name."""
    states = [o["outcome"] for o in outcomes.values()]
    counts = [f"{states.count(state)} {said}" for state, said in SAID_OF_STATE.items()]
    said = ", ".join(count for count in counts if not count.startswith("0 "))
    why = "; ".join(f"{name}: {o['error']}" for name, o in outcomes.items() if o["outcome"] == "failed")
    return f"{len(outcomes)} {one if len(outcomes) == 1 else many}: {said}" + (f" ({why})." if why else ".")


def picks_line(selection: Selection, out_of: str, nothing_new: str = "Nothing new tonight.") -> str:
    if not selection.new:
        return nothing_new
    if not selection.picks:
        return f"Nothing worth reading tonight ({out_of})."
    return f"{len(selection.picks)} worth reading out of {out_of}."


def _interest_note(selection: Selection) -> list[Line]:
    if selection.by_interest:
        return []
    return [
        Line.text(
            "No interests configured (",
            code("reading.interests"),
            "): everything new is ranked by source weight and recency.",
        )
    ]


REF_PREFIXES = {"article_digest": "R", "arxiv_finds": "P"}  # the briefing's ITEM refs: R3 (reading list), P2 (paper)


def _section(
    key: str, title: str, status: Status, picks: list[Pick], lines: list[Line], llm_status: LLMState, order: int
) -> Section:
    return Section(
        key=key,
        title=title,
        status=status,
        items=[p.to_item() for p in picks],
        lines=tuple(lines),
        order=order,
        llm=llm_status,
        ref_prefix=REF_PREFIXES[key],
    )


def _pick_lines(picks: list[Pick], paper: bool) -> list[Line]:
    """Title and source, then (papers) authors, then the summary, then why: each on its own line."""
    lines = []
    for number, pick in enumerate(picks, 1):
        item = pick.scored.item
        details = []
        if paper:
            authors = item.extra.get("authors", [])
            named = ", ".join(authors[:4]) + (" et al." if len(authors) > 4 else "")
            cats = " ".join(item.extra.get("categories", []))
            details.append(Line.text(f"{named} · {cats} · ", link("PDF", item.extra.get("pdf_url") or item.url)))
        details += [Line.text(pick.summary), Line.text(italic(f"Why: {pick.why}."))]
        lines.append(
            Line.item(link(item.title, item.url), f" ({item.source})", number=number, details=details, shows=number - 1)
        )
    return lines


def _s(count: int) -> str:
    return "" if count == 1 else "s"
