"""The project's HTTP fetch: sources fetched concurrently with a total deadline, a size cap, a
User-Agent, conditional GET and bounded redirects. Reading fetches its feeds here, the weekly
ecosystem watch its registries' JSON and release feeds.

Each URL is fetched in its own thread with one shared httpx client, so the fetch phase takes about
as long as the slowest source, not the sum of them. A URL without a scheme is a file path, read
with the same size cap, and only when it is a regular file (a FIFO or a device would hang the
fetch). Nothing here raises for a bad source: every outcome is a Fetched.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from overnight_assets.deadlines import SocketCutter, cut_after
from overnight_assets.local_files import open_regular_file
from overnight_assets.redaction import redact_secrets
from overnight_assets.secret_urls import with_credentials
from overnight_assets.urls import display_url, link_parts

if TYPE_CHECKING:
    import httpx

    from overnight_assets.config import FetchConfig

MAX_THREADS = 32
CHUNK_BYTES = 64 * 1024
FetchState = Literal["ok", "not_modified", "failed"]  # not_modified: a 304 to a conditional GET
FEEDS = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, */*;q=0.5"


@dataclass(frozen=True)
class Validators:
    """What the server said last time, for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class Fetched:
    url: str
    outcome: FetchState
    body: bytes = b""
    content_type: str = ""
    validators: Validators = Validators()
    error: str | None = None
    seconds: float = 0.0


class FetchError(RuntimeError):
    """A source that could not be read; the message says why in one line."""


def is_file(url: str) -> bool:
    return "://" not in url


def fetch_all(
    urls: list[str], known: dict[str, Validators], settings: FetchConfig, accept: str = FEEDS
) -> dict[str, Fetched]:
    """Fetch every distinct URL at once; a failure is an outcome, never an exception."""
    import httpx  # at first use: the code location need not load it

    distinct = list(dict.fromkeys(urls))
    if not distinct:
        return {}
    client = httpx.Client(
        timeout=httpx.Timeout(settings.timeout_s),
        follow_redirects=True,
        max_redirects=settings.max_redirects,
        headers={"User-Agent": settings.user_agent, "Accept": accept},
        limits=httpx.Limits(max_keepalive_connections=0),  # a connection per request: the deadline cuts its own
    )
    with client, ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(distinct))) as pool:
        futures = {url: pool.submit(fetch_one, client, url, known.get(url, Validators()), settings) for url in distinct}
        return {url: future.result() for url, future in futures.items()}


def fetch_one(client: httpx.Client, url: str, known: Validators, settings: FetchConfig) -> Fetched:
    started = time.perf_counter()
    try:
        if is_file(url):
            fetched = Fetched(url, "ok", body=_read_file(url, settings.max_bytes))
        else:
            fetched = _get(client, url, known, settings, started)
    except FetchError as error:  # a server's reason phrase or an error text may quote anything: redacted
        fetched = Fetched(url, "failed", error=redact_secrets(str(error)))
    return replace(fetched, seconds=round(time.perf_counter() - started, 3))


def _read_file(path: str, max_bytes: int) -> bytes:
    """A regular file only: a FIFO would block the open and a device never end, inside the gpu pool."""
    try:
        with open_regular_file(path) as handle:
            body = handle.read(max_bytes + 1)  # never more than the cap, whatever the file's size
    except OSError as error:
        raise FetchError(f"cannot read {path}: {error.strerror or error}") from None
    if len(body) > max_bytes:
        raise FetchError(f"{Path(path).name} is larger than the {_size(max_bytes)} cap")
    return body


def _get(client: httpx.Client, url: str, known: Validators, settings: FetchConfig, started: float) -> Fetched:
    """One GET within `timeout_s` from `started` in all: past it the connection is cut, whatever phase
    it is in (httpx's timeout is per read: a byte every few seconds, in the headers or the body, never
    trips it)."""
    with cut_after(started + settings.timeout_s - time.perf_counter()) as cutter:
        try:
            fetched = _get_traced(client, url, known, settings, cutter)
        except FetchError:
            if not cutter.cut_off:
                raise
        if cutter.cut_off:  # a body without a length ends when the connection does: a cut one is no body
            raise FetchError(f"no answer within {settings.timeout_s:g} s (cut off at the total deadline)") from None
        return fetched


def _get_traced(
    client: httpx.Client, url: str, known: Validators, settings: FetchConfig, cutter: SocketCutter
) -> Fetched:
    import httpx

    try:
        link_parts(url)  # a clearer reason than httpx's for a bad port or IPv6 literal
        with client.stream(
            "GET", with_credentials(url), headers=known.headers(), extensions={"trace": cutter.trace}
        ) as response:
            if response.status_code == 304 and known.headers():
                return Fetched(url, "not_modified", validators=known)
            if response.status_code >= 300:
                raise FetchError(f"HTTP {response.status_code} {response.reason_phrase}".strip())
            body = _read_capped(response, settings.max_bytes)
            return Fetched(
                url,
                "ok",
                body=body,
                content_type=response.headers.get("content-type", ""),
                validators=Validators(response.headers.get("etag"), response.headers.get("last-modified")),
            )
    except httpx.TooManyRedirects:
        raise FetchError(f"more than {settings.max_redirects} redirects (a redirect loop?)") from None
    except httpx.TimeoutException as error:
        raise FetchError(f"no answer within {settings.timeout_s:g} s ({type(error).__name__})") from None
    except httpx.HTTPError as error:
        raise FetchError(f"{type(error).__name__}: {_first_line(error)} ({display_url(url)})") from None
    except (httpx.InvalidURL, ValueError) as error:  # not HTTPErrors: a bad port, IPv6 literal or IDNA host
        raise FetchError(f"unusable URL {display_url(url)}: {_first_line(error)}") from None


def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{_size(int(declared))} is larger than the {_size(max_bytes)} cap")
    chunks, size = [], 0
    for chunk in response.iter_bytes(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"larger than the {_size(max_bytes)} cap (stopped reading)")
        chunks.append(chunk)
    return b"".join(chunks)


def _size(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB" if count >= 1_000_000 else f"{count / 1000:.0f} kB"


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
