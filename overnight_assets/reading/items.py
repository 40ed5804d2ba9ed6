"""What every reading source yields: an Item, normalized so two sources agree on what is the same.

URLs are made canonical by the ground floor's overnight_assets.urls (Cortex agrees on them too),
summaries become clean text, and times are aware, in the timezone.
Any text a source wrote may hold a secret: every title, summary, link and short field passes
through `one_line`, `clean_text`, `canonical_url` or `safe_link`, which redact it where it enters.
"""

from __future__ import annotations

import calendar
import html
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from overnight_assets.redaction import redact_secrets
from overnight_assets.urls import UnusableLink

EARLIEST_DATED_YEAR, LATEST_DATED_YEAR = 1970, 9998  # outside: a placeholder date, not a publication time
SUMMARY_CHARS = 600
TITLE_WORDS = 12  # enough for scoring and the LLM; a feed's full article body is not needed
_SPACE = re.compile(r"\s+")
# what aggregators put around every item (hnrss, Reddit): no help to a reader or the scoring
_BOILERPLATE = re.compile(
    r"(?:Article|Comments) URL:\s*\S+|Points:\s*\d+|# Comments:\s*\d+|submitted by\s+/u/\S+|\[(?:link|comments)\]"
)
TITLE_KEY_DROPS = r"[^0-9a-z]+"  # what a title key leaves out of the lowercased title; store.py uses it in SQL too
_TITLE_KEY = re.compile(TITLE_KEY_DROPS)
TITLE_KEY_MIN = 12  # shorter keys ("Show HN", "Weekly") would merge unrelated items
Entry = TypeVar("Entry")


@dataclass(frozen=True)
class Item:
    source: str  # the configured source's name
    url: str  # canonical
    title: str
    summary: str = ""  # clean text, the feed's own
    published: datetime | None = None  # aware, in the configured timezone; None: the feed gave no date
    extra: dict = field(default_factory=dict, compare=False)  # per kind: authors, categories, pdf_url, stars

    @property
    def title_key(self) -> str:
        return title_key(self.title)


def keep_usable(
    make_item: Callable[[Entry], Item | None], entries: Iterable[Entry]
) -> tuple[list[Item], dict[str, int]]:
    """The items made from the entries (None: no item), and how many were skipped, by why.

    One bad entry must not sink its feed: an unusable link, and any other error an untrusted
    entry provokes, skips that entry and is counted in the source's outcome.
    """
    items: list[Item] = []
    skipped: dict[str, int] = {}
    for entry in entries:
        try:
            item = make_item(entry)
        except UnusableLink:
            why = "with an unusable link"
        except Exception as error:  # noqa: BLE001 - anything an untrusted entry provokes stays with that entry
            why = f"that could not be read ({type(error).__name__})"
        else:
            if item is not None:
                items.append(item)
            continue
        skipped[why] = skipped.get(why, 0) + 1
    return items, skipped


def entries_skipped(count: int, why: str) -> list[str]:
    """A note for the source's outcome, or none."""
    return [f"{count} entr{'y' if count == 1 else 'ies'} {why} skipped"] if count else []


def skipped_notes(skipped: dict[str, int]) -> list[str]:
    return [note for why, count in skipped.items() for note in entries_skipped(count, why)]


def clean_text(markup: str | None, limit: int = SUMMARY_CHARS) -> str:
    """Plain text from an HTML (or plain) summary, whitespace collapsed, secrets redacted (before the
    cut, which could leave half a secret no pattern knows), cut at a word boundary."""
    if not markup:
        return ""
    if "<" in markup:
        from bs4 import BeautifulSoup  # at first use: the code location need not load it

        markup = BeautifulSoup(markup, "html.parser").get_text(" ")
    text = redact_secrets(_SPACE.sub(" ", _BOILERPLATE.sub(" ", html.unescape(markup))).strip())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def one_line(text: str | None) -> str:
    """A source's short text (a title, an author) on one line, secrets redacted."""
    return redact_secrets(_SPACE.sub(" ", text or "").strip())


def title_from(text: str, words: int = TITLE_WORDS) -> str:
    """A title made of a text's first words, for entries that have none (RSS 2.0 allows that)."""
    first = text.split()
    return " ".join(first[:words]) + (" …" if len(first) > words else "")


def title_key(title: str) -> str:
    """A title reduced to its letters and digits; empty when too short to identify an item."""
    key = _TITLE_KEY.sub("", title.lower())
    return key if len(key) >= TITLE_KEY_MIN else ""


def from_struct_time(value: time.struct_time | None, tz: ZoneInfo) -> datetime | None:
    """feedparser's *_parsed values are UTC struct_times; None for no date or one that is no date at all.

    Site generators write `Mon, 01 Jan 0001` for undated pages, and year 1 or 9999 cannot be
    moved into every timezone: such a sentinel makes the entry undated (counted on the night it
    is first seen) instead of failing its feed.
    """
    if value is None or not EARLIEST_DATED_YEAR <= value.tm_year <= LATEST_DATED_YEAR:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=tz)
    except (OverflowError, OSError, ValueError):
        return None
