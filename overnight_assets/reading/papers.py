"""arXiv: each configured query, for papers submitted in the partition's window, through the `arxiv` package.

The package paces its requests (`delay_s` between them; arXiv's terms ask for 3 s) and retries a
failing page `num_retries` times. `api_url` replaces the endpoint (a mirror, or the tests'
loopback server). A failing query is an outcome; the other queries go on. A paper's every text
(title, abstract, authors, links) is redacted as it is read, through items.py's helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta
from functools import partial
from typing import TYPE_CHECKING, Literal, NotRequired, TypedDict
from zoneinfo import ZoneInfo

from overnight_assets.deadlines import PastDeadline, call_within
from overnight_assets.reading.items import Item, clean_text, keep_usable, one_line, skipped_notes
from overnight_assets.redaction import redact_secrets
from overnight_assets.secret_urls import redact_text, with_credentials
from overnight_assets.urls import canonical_url, display_url, safe_link

if TYPE_CHECKING:
    import arxiv

    from overnight_assets.config import ArxivConfig
    from overnight_assets.partitions import Night

ARXIV_SOURCE = "arXiv"
PAGE_SIZE = 100
_MAX_ERROR_CHARS = 300
QueryState = Literal["ok", "failed"]


class QueryOutcome(TypedDict):
    """One query's night, as the finds' `queries` metadata shows it."""

    outcome: QueryState
    error: NotRequired[str]
    found: NotRequired[int]  # results arXiv returned
    in_window: NotRequired[int]  # of those, submitted in the window
    notes: NotRequired[list[str]]  # results skipped as unusable


@dataclass
class PapersFound:
    papers: list[Item]
    outcomes: dict[str, QueryOutcome]  # per query


def windowed_query(query: str, night: Night) -> str:
    """The query limited to submissions in the window; arXiv reads submittedDate in GMT, to the minute."""
    start = night.start.astimezone(UTC)
    last = (night.end - timedelta(minutes=1)).astimezone(UTC)
    return f"({query}) AND submittedDate:[{start:%Y%m%d%H%M} TO {last:%Y%m%d%H%M}]"


def find_papers(config: ArxivConfig, night: Night, timeout_s: float) -> PapersFound:
    import arxiv  # at first use: the code location need not load it

    papers: dict[str, Item] = {}
    outcomes: dict[str, QueryOutcome] = {}
    deadline_s = search_deadline_s(config, timeout_s)
    for query in config.queries:
        client = _client(config, timeout_s)  # a query given up at its deadline keeps its own client
        search = arxiv.Search(
            query=windowed_query(query, night),
            max_results=config.max_results,
            sort_by=arxiv.SortCriterion.SubmittedDate,
            sort_order=arxiv.SortOrder.Descending,
        )
        try:
            results = call_within(
                deadline_s, lambda client=client, search=search: list(client.results(search)), "arXiv query"
            )
        except Exception as error:  # noqa: BLE001 - one failing query must not sink the others
            outcomes[query] = {"outcome": "failed", "error": _describe(error, config)}
            continue
        listed, skipped = keep_usable(partial(_paper, query=query, tz=night.tz), results)
        # the window again: a mirror or an older API may not apply submittedDate
        found = [paper for paper in listed if night.start <= paper.published < night.end]
        outcomes[query] = {"outcome": "ok", "found": len(results), "in_window": len(found)}
        if notes := skipped_notes(skipped):
            outcomes[query]["notes"] = notes
        for paper in found:
            papers.setdefault(paper.url, paper)
    return PapersFound(list(papers.values()), outcomes)


def search_deadline_s(config: ArxivConfig, timeout_s: float) -> float:
    """A query's total deadline: every page, each try of it and the pause before it, a timeout each.
    requests' timeout is per read: a mirror sending a byte now and then never trips it."""
    pages = -(-config.max_results // PAGE_SIZE)
    return pages * (config.num_retries + 1) * (timeout_s + config.delay_s)


def _client(config: ArxivConfig, timeout_s: float) -> arxiv.Client:
    import arxiv
    import requests

    class TimeoutSession(requests.Session):
        # the package sets no timeout: a mirror that never answers must not hold the night
        def request(self, *args, **kwargs):
            kwargs.setdefault("timeout", timeout_s)
            return super().request(*args, **kwargs)

    client = arxiv.Client(
        page_size=min(PAGE_SIZE, config.max_results), delay_seconds=config.delay_s, num_retries=config.num_retries
    )
    client._session = TimeoutSession()  # the package's own attribute (2.x to 4.x) for its requests
    if config.api_url:
        client.query_url_format = with_credentials(config.api_url).split("?")[0] + "?{}"
    return client


def _paper(result: arxiv.Result, query: str, tz: ZoneInfo) -> Item:
    return Item(
        source=ARXIV_SOURCE,
        url=canonical_url(result.entry_id),
        title=one_line(result.title),
        summary=clean_text(result.summary),
        published=result.published.astimezone(tz),
        extra={
            "authors": [one_line(author.name) for author in result.authors],
            "categories": [one_line(category) for category in result.categories],
            "pdf_url": safe_link(result.pdf_url),  # None: the section links the abstract instead
            "query": query,
        },
    )


def _describe(error: Exception, config: ArxivConfig) -> str:
    import arxiv

    endpoint = display_url(config.api_url) if config.api_url else "arXiv's API"
    if isinstance(error, arxiv.HTTPError):
        return f"{endpoint} answered HTTP {error.status} on each of {config.num_retries + 1} tries"
    if isinstance(error, PastDeadline):
        return f"{endpoint} gave no complete answer within {error.seconds:g} s (the query's total deadline)"
    if isinstance(error, arxiv.UnexpectedEmptyPageError):
        return f"{endpoint} kept returning an empty page ({config.num_retries + 1} tries)"
    return f"{endpoint}: {type(error).__name__}: {redact_secrets(redact_text(str(error))).strip()[:_MAX_ERROR_CHARS]}"  # names the URL
