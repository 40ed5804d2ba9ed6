"""The reading list's two briefing sections: the article digest and the arXiv finds."""

from __future__ import annotations

from overnight_assets.briefing.section import Line, Section, code, italic, link
from overnight_assets.reading.judge import Pick
from overnight_assets.reading.night import Selection
from overnight_assets.status import Status

DIGEST_ORDER, FINDS_ORDER = 20, 30
_FALLBACK_NOTE = "llm: unavailable; ranked by keyword score, with the {what}' own summaries."
BLANK = Line()


def digest_section(selection: Selection, outcomes: dict[str, dict], llm_status: str) -> Section:
    failed = {name: o for name, o in outcomes.items() if o["outcome"] == "failed"}
    if not outcomes:
        lines = [Line.text("No sources configured (", code("reading.sources"), ").")]
        return _section("article_digest", "Reading list", Status.GREEN, [], lines, llm_status, DIGEST_ORDER)
    if len(failed) == len(outcomes):
        reasons = [Line.item(f"{name}: {o['error']}") for name, o in failed.items()]
        lines = [Line.text(f"Every source failed ({len(failed)} of {len(outcomes)}): no reading list tonight."), *reasons]
        return _section("article_digest", "Reading list", Status.AMBER, [], lines, llm_status, DIGEST_ORDER)
    lines = [
        Line.text(
            f"{len(selection.picks)} picked from {selection.new} new item(s); {selection.candidates} judged"
            f"{' by the LLM' if llm_status == 'ok' else ''}; {len(outcomes) - len(failed)} of {len(outcomes)} sources answered."
        )
    ]
    if failed:
        lines.append(Line.text("Failed: " + "; ".join(f"{name} ({o['error']})" for name, o in failed.items())))
    lines += [BLANK, *_pick_lines(selection.picks, paper=False)]
    if llm_status == "unavailable" and selection.picks:
        lines += [BLANK, Line.text(italic(_FALLBACK_NOTE.format(what="feeds")))]
    lines += [BLANK, Line.text("Sources: " + " · ".join(f"{name}: {_outcome_words(o)}" for name, o in outcomes.items()))]
    return _section("article_digest", "Reading list", Status.GREEN, selection.picks, lines, llm_status, DIGEST_ORDER)


def finds_section(selection: Selection, outcomes: dict[str, dict], llm_status: str) -> Section:
    if not outcomes:
        lines = [Line.text("No arXiv queries configured (", code("reading.arxiv.queries"), ").")]
        return _section("arxiv_finds", "arXiv finds", Status.GREEN, [], lines, llm_status, FINDS_ORDER)
    failed = {query: o for query, o in outcomes.items() if o["outcome"] == "failed"}
    status = Status.AMBER if len(failed) == len(outcomes) else Status.GREEN
    found = sum(o.get("in_window", 0) for o in outcomes.values())
    lines = [Line.text(f"{len(selection.picks)} picked from {found} paper(s) submitted in the window, {selection.new} not seen before.")]
    lines += [Line.text("Query failed: ", code(query), f": {o['error']}") for query, o in failed.items()]
    lines += [BLANK, *_pick_lines(selection.picks, paper=True)]
    if llm_status == "unavailable" and selection.picks:
        lines += [BLANK, Line.text(italic(_FALLBACK_NOTE.format(what="abstracts")))]
    return _section("arxiv_finds", "arXiv finds", status, selection.picks, lines, llm_status, FINDS_ORDER)


def _section(key: str, title: str, status: Status, picks: list[Pick], lines: list[Line], llm_status: str, order: int) -> Section:
    return Section(key=key, title=title, status=status, items=[p.to_item() for p in picks], lines=tuple(lines), order=order, llm=llm_status)


def _pick_lines(picks: list[Pick], paper: bool) -> list[Line]:
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
        lines.append(Line.item(link(item.title, item.url), f" ({item.source}, score {pick.scored.score:g})", number=number, details=details))
    return lines or [Line.text("Nothing new tonight.")]


def _outcome_words(outcome: dict) -> str:
    if outcome["outcome"] == "failed":
        return "failed"
    state = "not modified, " if outcome["outcome"] == "not_modified" else ""
    return f"{state}{outcome.get('new', 0)} new"
