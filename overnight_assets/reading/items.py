"""What every reading source yields: an Item, normalized so two sources agree on what is the same.

Canonical URLs drop tracking parameters, fragments and default ports (and name an arXiv paper by
its id, without version), summaries become clean text, and times are aware, in the timezone.
"""

from __future__ import annotations

import calendar
import html
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

SUMMARY_CHARS = 600  # enough for scoring and the LLM; a feed's full article body is not needed
_TRACKING_PARAMS = {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "ref", "ref_src", "_hsenc", "_hsmi"}
_SECRET_PARAMS = re.compile(r"token|key|secret|password|passwd|auth|sig|session", re.IGNORECASE)
_ARXIV = re.compile(r"^/(?:abs|pdf)/(?P<id>[a-z\-]+(?:\.[A-Z]{2})?/\d{7}|\d{4}\.\d{4,5})(?:v\d+)?(?:\.pdf)?/?$")
_SPACE = re.compile(r"\s+")
# what aggregators put around every item (hnrss, Reddit): no help to a reader or the scoring
_BOILERPLATE = re.compile(r"(?:Article|Comments) URL:\s*\S+|Points:\s*\d+|# Comments:\s*\d+|submitted by\s+/u/\S+|\[(?:link|comments)\]")
_TITLE_KEY = re.compile(r"[^0-9a-z]+")
TITLE_KEY_MIN = 12  # shorter keys ("Show HN", "Weekly") would merge unrelated items


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


def canonical_url(url: str) -> str:
    """The URL two sources would agree on: no tracking parameters, fragment or default port."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if host.endswith("arxiv.org") and (match := _ARXIV.match(parts.path)):
        return f"https://arxiv.org/abs/{match['id']}"
    port = parts.port if parts.port and (scheme, parts.port) not in (("http", 80), ("https", 443)) else None
    netloc = f"{host}:{port}" if port else host
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k))
    path = parts.path.rstrip("/") if len(parts.path) > 1 else parts.path
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def display_url(url: str) -> str:
    """A URL fit for logs and metadata: no user:password, and secret-looking query values hidden."""
    parts = urlsplit(url)
    if not parts.scheme:
        return url  # a file path
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = [(k, "***" if _SECRET_PARAMS.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*"), ""))


def _is_tracking(name: str) -> bool:
    return name.lower().startswith("utm_") or name.lower() in _TRACKING_PARAMS


def clean_text(markup: str | None, limit: int = SUMMARY_CHARS) -> str:
    """Plain text from an HTML (or plain) summary, whitespace collapsed, cut at a word boundary."""
    if not markup:
        return ""
    if "<" in markup:
        from bs4 import BeautifulSoup  # at first use: the code location need not load it

        markup = BeautifulSoup(markup, "html.parser").get_text(" ")
    text = _SPACE.sub(" ", _BOILERPLATE.sub(" ", html.unescape(markup))).strip()
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def one_line(text: str | None) -> str:
    return _SPACE.sub(" ", text or "").strip()


def title_key(title: str) -> str:
    """A title reduced to its letters and digits; empty when too short to identify an item."""
    key = _TITLE_KEY.sub("", title.lower())
    return key if len(key) >= TITLE_KEY_MIN else ""


def from_struct_time(value: time.struct_time | None, tz: ZoneInfo) -> datetime | None:
    """feedparser's *_parsed values are UTC struct_times."""
    if value is None:
        return None
    return datetime.fromtimestamp(calendar.timegm(value), tz=tz)
