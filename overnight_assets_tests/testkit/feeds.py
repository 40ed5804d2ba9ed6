"""A loopback HTTP server for feeds, GitHub trending pages and the arXiv API, and documents in their formats.

Routes answer with raw bytes and any status or headers; a route may be a function of the request
(for conditional GET or a scripted 503), may stream without a Content-Length, or may hold its
answer back (a slow server) until the fixture closes it. The benchmarks use it too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None  # sent without Content-Length, until the client hangs up
    hold_s: float = 0.0  # answer only after this long (or when the server closes)
    raw: Iterable[bytes] | None = (
        None  # written as it comes, status line and headers included (a server trickling its headers)
    )


Route = Reply | Callable[[dict, dict], Reply]  # (request headers, query) -> Reply


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    at: float


class FeedServer:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append(Request(self.path, headers, time.monotonic()))
                route = server.routes.get(parts.path, Reply(404, b"not found"))
                reply = route(headers, parse_qs(parts.query)) if callable(route) else route
                if reply.hold_s:
                    server.closing.wait(reply.hold_s)  # the server being slow, not the test waiting
                if reply.raw is not None:
                    return self._write_raw(reply.raw)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if reply.stream is None:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                try:
                    if reply.stream is None:
                        self.wfile.write(reply.body)
                    else:
                        for chunk in reply.stream:
                            self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading, as it should at a size cap

            def _write_raw(self, pieces: Iterable[bytes]) -> None:
                self.close_connection = True
                try:
                    for piece in pieces:
                        self.wfile.write(piece)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up, as it should at its deadline

            def log_message(self, *args):
                pass

        self.httpd = _Listener(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if urlsplit(r.path).path == path]

    def close(self):
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class _Listener(ThreadingHTTPServer):
    request_queue_size = 128  # socketserver's 5 drops connections when 18 sources connect at once
    daemon_threads = True


def conditional(body: bytes, etag: str, content_type: str = "application/rss+xml") -> Route:
    """A feed that answers 304 to a matching If-None-Match, as real servers do."""

    def answer(headers: dict, query: dict) -> Reply:
        if headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(
            200, body, {"Content-Type": content_type, "ETag": etag, "Last-Modified": "Thu, 19 Nov 2026 10:00:00 GMT"}
        )

    return answer


def trickle(server: FeedServer, data: bytes, every_s: float = 0.05, forever: bytes = b"") -> Iterable[bytes]:
    """`data` a byte at a time, then `forever` one byte at a time for good: a server that never
    finishes, each byte well within any read timeout. Ends when the server closes."""
    for index in range(len(data)):
        yield data[index : index + 1]
        if server.closing.wait(every_s):  # the server being slow, not the test waiting
            return
    while forever and not server.closing.wait(every_s):
        yield forever


def scripted(*replies: Reply) -> Route:
    """Answer with each reply in turn, the last one from then on."""
    queue = list(replies)

    def answer(headers: dict, query: dict) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return answer


# --- documents in their real formats ------------------------------------------------------------


@dataclass
class Entry:
    title: str
    link: str
    summary: str = ""
    when: datetime | None = None


def at(day: str, hhmm: str = "10:00") -> datetime:
    """A UTC time: tests name the instant, the code decides which local night it falls in."""
    return datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")


def rss2(entries: list[Entry], title: str = "A feed") -> bytes:
    items = "".join(
        f"<item><title>{escape(e.title)}</title><link>{escape(e.link)}</link>"
        f"<description>{escape(e.summary)}</description>"
        + (f"<pubDate>{format_datetime(e.when)}</pubDate>" if e.when else "")
        + f"<guid isPermaLink='false'>{escape(e.link)}</guid></item>"
        for e in entries
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
        f"<link>http://example.org/</link><description>test</description>{items}</channel></rss>"
    ).encode()


def atom(entries: list[Entry], title: str = "An Atom feed") -> bytes:
    items = "".join(
        f'<entry><title>{escape(e.title)}</title><link rel="alternate" href="{escape(e.link)}"/><id>{escape(e.link)}</id>'
        + (f"<updated>{_iso(e.when)}</updated><published>{_iso(e.when)}</published>" if e.when else "")
        + f'<content type="html">{escape(e.summary)}</content></entry>'
        for e in entries
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{escape(title)}</title>'
        f"<id>urn:test:{escape(title)}</id><updated>2026-11-20T00:00:00Z</updated>{items}</feed>"
    ).encode()


def reddit(subreddit: str, entries: list[Entry]) -> bytes:
    """Reddit's /r/NAME/.rss: Atom, the post's HTML escaped in <content>, with Reddit's own boilerplate."""
    items = []
    for number, e in enumerate(entries):
        html_body = f'<div class="md"><p>{escape(e.summary)}</p></div> submitted by <a href="https://www.reddit.com/user/u{number}"> /u/u{number} </a> <span><a href="{escape(e.link)}">[link]</a></span>'
        items.append(
            f'<entry><author><name>/u/u{number}</name></author><category term="{subreddit}" label="r/{subreddit}"/>'
            f'<content type="html">{escape(html_body)}</content><id>t3_{number:06d}</id><link href="{escape(e.link)}"/>'
            f"<updated>{_iso(e.when)}</updated><published>{_iso(e.when)}</published><title>{escape(e.title)}</title></entry>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">'
        f'<category term="{subreddit}" label="r/{subreddit}"/><id>/r/{subreddit}/.rss</id><title>r/{subreddit}</title>'
        f"<updated>2026-11-20T00:00:00+00:00</updated>{''.join(items)}</feed>"
    ).encode()


def hn(entries: list[Entry]) -> bytes:
    """hnrss.org's RSS 2.0: the summary is the link and points, as HTML."""
    return rss2(
        [
            Entry(e.title, e.link, f'<p>Article URL: <a href="{e.link}">{e.link}</a></p><p>Points: 42</p>', e.when)
            for e in entries
        ],
        title="Hacker News: Front Page",
    )


def trending(repos: list[tuple[str, str]]) -> bytes:
    """github.com/trending as served: an article.Box-row per repository."""
    rows = "".join(
        f'<article class="Box-row"><h2 class="h3 lh-condensed"><a href="/{name}" class="Link">'
        f'<span class="text-normal">{name.split("/")[0]} /</span> {name.split("/")[1]}</a></h2>'
        f'<p class="col-9 color-fg-muted my-1 pr-4">{escape(description)}</p>'
        f'<div class="f6 color-fg-muted mt-2"><span itemprop="programmingLanguage">Python</span>'
        f'<span class="d-inline-block float-sm-right">12 stars today</span></div></article>'
        for name, description in repos
    )
    return f'<!DOCTYPE html><html><head><title>Trending</title></head><body><div class="Box">{rows}</div></body></html>'.encode()


@dataclass
class Paper:
    arxiv_id: str
    title: str
    abstract: str
    submitted: datetime
    authors: tuple[str, ...] = ("Ada Lovelace", "Alan Turing")
    categories: tuple[str, ...] = ("cs.LG", "cs.AI")
    abs_url: str = ""  # by default arXiv's own for arxiv_id; a test may give a broken one
    pdf_url: str = ""

    def __post_init__(self):
        self.abs_url = self.abs_url or f"http://arxiv.org/abs/{self.arxiv_id}v1"
        self.pdf_url = self.pdf_url or f"http://arxiv.org/pdf/{self.arxiv_id}v1"


def arxiv_feed(papers: list[Paper], total: int | None = None) -> bytes:
    """The arXiv API's Atom response, with its opensearch paging fields."""
    entries = "".join(
        f"<entry><id>{escape(p.abs_url)}</id><updated>{_iso(p.submitted)}</updated>"
        f"<published>{_iso(p.submitted)}</published><title>{escape(p.title)}</title><summary>{escape(p.abstract)}</summary>"
        + "".join(f"<author><name>{escape(a)}</name></author>" for a in p.authors)
        + f'<link href="{escape(p.abs_url)}" rel="alternate" type="text/html"/>'
        f'<link title="pdf" href="{escape(p.pdf_url)}" rel="related" type="application/pdf"/>'
        f'<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="{p.categories[0]}" scheme="http://arxiv.org/schemas/atom"/>'
        + "".join(f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in p.categories)
        + "</entry>"
        for p in papers
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        '<link href="http://arxiv.org/api/query" rel="self" type="application/atom+xml"/><title type="html">ArXiv Query</title>'
        "<id>http://arxiv.org/api/test</id><updated>2026-11-21T00:00:00-05:00</updated>"
        f'<opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{len(papers) if total is None else total}</opensearch:totalResults>'
        '<opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>'
        f'<opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{len(papers)}</opensearch:itemsPerPage>'
        f"{entries}</feed>"
    ).encode()


def _iso(when: datetime | None) -> str:
    return (when or datetime(2026, 11, 20, tzinfo=UTC)).isoformat().replace("+00:00", "Z")
