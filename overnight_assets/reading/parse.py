"""From fetched bytes to Items: feeds through feedparser, GitHub trending pages through an HTML parser.

feedparser reads RSS 0.9x/1.0/2.0 and Atom (Reddit's .rss and Hacker News feeds are such) and
recovers what it can from broken XML or a wrong charset; what it had to forgive is kept as a
note, and a document it cannot read as a feed at all is a NotAFeedError with the reason. An entry
whose link is unusable (not http(s), a bad port...) is skipped and counted in the notes: an item
nobody can open is no reading. Every text taken from a document (titles, summaries, links, a
trending row's fields, the parser's complaints, which may quote the document) is redacted here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from overnight_assets.reading.items import (
    Item,
    clean_text,
    entries_skipped,
    from_struct_time,
    keep_usable,
    one_line,
    skipped_notes,
    title_from,
)
from overnight_assets.redaction import redact_secrets
from overnight_assets.resources.feeds import read_feed
from overnight_assets.urls import canonical_url

GITHUB = "https://github.com/"


class NotAFeedError(ValueError):
    """A document that is no feed; the message may quote it (a header, the parser's complaint): redacted."""

    def __init__(self, reason: str):
        super().__init__(redact_secrets(reason))


@dataclass
class Parsed:
    items: list[Item]
    notes: list[str] = field(default_factory=list)


def parse_source(kind: str, source: str, body: bytes, content_type: str, tz: ZoneInfo) -> Parsed:
    if kind == "github_trending":
        return parse_trending(source, body, tz)
    return parse_feed(source, body, content_type, tz)


def parse_feed(source: str, body: bytes, content_type: str, tz: ZoneInfo) -> Parsed:
    feed = read_feed(body, content_type)
    version = feed.get("version") or ""
    if not version and not feed.entries:
        raise NotAFeedError(_not_a_feed_reason(body, content_type, feed.get("bozo_exception")))
    items, skipped = keep_usable(lambda entry: _feed_item(source, entry, tz), feed.entries)
    problem = feed.get("bozo_exception")
    if feed.entries and not items and feed.get("bozo") and problem is not None and not _is_charset_problem(problem):
        raise NotAFeedError(
            f"malformed feed ({type(problem).__name__}: {_complaint(problem)}); no item could be recovered"
        )
    return Parsed(items, _feed_notes(feed, len(feed.entries), items, skipped))


def _complaint(problem: Exception) -> str:
    """The parser's complaint, which may quote the document: redacted before it is cut."""
    return redact_secrets(str(problem))[:120]


def _is_charset_problem(problem: Exception) -> bool:
    return "Encoding" in type(problem).__name__


def _feed_item(source: str, entry, tz: ZoneInfo) -> Item | None:
    link = entry.get("link")
    summary = clean_text(
        entry.get("summary") or next((c.get("value") for c in entry.get("content", []) if c.get("value")), "")
    )
    title = one_line(entry.get("title")) or title_from(summary)  # RSS 2.0 allows an item with only a description
    if not link or not title:
        return None  # an entry broken off mid-way, or one with nothing to link to or say
    published = entry.get("published_parsed") or entry.get("updated_parsed") or entry.get("created_parsed")
    return Item(source, canonical_url(link), title, summary, from_struct_time(published, tz))


def _feed_notes(feed, entries: int, items: list[Item], skipped: dict[str, int]) -> list[str]:
    notes = []
    problem = feed.get("bozo_exception")
    if feed.get("bozo") and problem is not None:
        if _is_charset_problem(problem):
            notes.append(redact_secrets(f"charset: {problem}"))
        else:
            notes.append(
                f"malformed feed ({type(problem).__name__}: {_complaint(problem)}); {len(items)} item(s) recovered"
            )
    if not entries:
        notes.append("no items: the feed was read and holds none")
    notes += entries_skipped(entries - len(items) - sum(skipped.values()), "without a title or link")
    notes += skipped_notes(skipped)
    if undated := sum(1 for item in items if item.published is None):
        notes.append(f"{undated} item(s) without a date: counted on the night they are first seen")
    return notes


def _not_a_feed_reason(body: bytes, content_type: str, problem) -> str:
    head = body[:512].lstrip().lower()
    if not body.strip():
        return "an empty document, not a feed"
    if "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html")):
        return f"an HTML page, not a feed (Content-Type {content_type or 'not given'})"
    detail = f": {type(problem).__name__}: {_complaint(problem)}" if problem is not None else ""
    return f"not an RSS or Atom feed{detail}"


def parse_trending(source: str, body: bytes, tz: ZoneInfo) -> Parsed:
    """github.com/trending: one `article.Box-row` per repository, its link in the `h2`."""
    from bs4 import BeautifulSoup  # at first use: the code location need not load it

    soup = BeautifulSoup(body, "html.parser")
    rows = soup.select("article.Box-row")
    if not rows:
        raise NotAFeedError("no repositories found: not a GitHub trending page (or its layout changed)")
    items, skipped = keep_usable(lambda row: _trending_item(source, row), rows)
    notes = [f"{len(items)} repositories (undated: counted on the night they are first seen)"]
    return Parsed(items, notes + skipped_notes(skipped))


def _trending_item(source: str, row) -> Item | None:
    link = row.select_one("h2 a[href]")
    if link is None:
        return None
    path = one_line(link["href"].strip("/"))
    extra = {"repository": path}
    if language := row.select_one("[itemprop=programmingLanguage]"):
        extra["language"] = one_line(language.get_text())
    if stars := row.find(string=lambda text: text and "stars" in text):
        extra["stars"] = one_line(stars)
    description = row.select_one("p")
    return Item(
        source,
        canonical_url(urljoin(GITHUB, path)),
        path.replace("/", " / "),
        clean_text(description.get_text() if description else ""),
        None,
        extra,
    )
