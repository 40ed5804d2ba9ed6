"""ecosystem_watch: the releases of each watched project newer than the version in use.

Sources, each optional per project: PyPI's JSON API (`/pypi/<name>/json`: every version with its
upload times), npm's registry document (`/<name>`: `time` per version), and GitHub's releases Atom
feed (`/<owner>/<repo>/releases.atom`: each release's notes, whose headings or first lines become
its headlines). The version in use is the watch item's `version:` pin, else the installed
distribution's (importlib.metadata). A source that fails (an HTTP error, a hang past the total
deadline, a body that is not JSON or not a feed, the wrong shape) is recorded with why; the others
still count. Every text taken from outside (versions, headlines, errors) is redacted here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any

from overnight_assets.redaction import redact_secrets
from overnight_assets.resources.feeds import read_feed
from overnight_assets.resources.http import fetch_all
from overnight_assets.urls import display_url

if TYPE_CHECKING:
    from overnight_assets.config import WatchItem, WeeklyConfig
    from overnight_assets.resources.http import Fetched

ACCEPT = "application/json, application/atom+xml;q=0.9, */*;q=0.5"
MAX_NEWER = 10  # releases listed per project, newest first
MAX_HEADLINES = 3  # per release
HEADLINE_CHARS = 120
VERSION_CHARS = 40


class NotUsable(ValueError):
    """A body that answered 200 but says nothing usable (not JSON, the wrong shape, not a feed)."""


@dataclass
class Release:
    version: str
    published: str | None = None  # ISO 8601, UTC
    headlines: list[str] = field(default_factory=list)
    url: str | None = None


@dataclass
class Watched:
    """One project's week: the version in use, what is newer, and how each source answered."""

    name: str
    in_use: str | None
    in_use_from: str  # pin | installed | unknown
    latest: str | None = None
    newer: list[Release] = field(default_factory=list)
    sources: dict[str, dict] = field(default_factory=dict)  # pypi | npm | github -> {outcome, url, error?}
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in_use": self.in_use,
            "in_use_from": self.in_use_from,
            "latest": self.latest,
            "newer": [vars(release) for release in self.newer],
            "sources": self.sources,
            **({"note": self.note} if self.note else {}),
        }


def source_urls(item: WatchItem, weekly: WeeklyConfig) -> dict[str, str]:
    urls = {}
    if item.pypi:
        urls["pypi"] = f"{weekly.pypi_url.rstrip('/')}/pypi/{item.pypi}/json"
    if item.npm:
        urls["npm"] = f"{weekly.npm_url.rstrip('/')}/{item.npm}"
    if item.github:
        urls["github"] = f"{weekly.github_url.rstrip('/')}/{item.github}/releases.atom"
    return urls


def version_in_use(item: WatchItem) -> tuple[str | None, str]:
    if item.version:
        return item.version, "pin"
    try:
        return metadata.version(item.pypi or item.name), "installed"
    except metadata.PackageNotFoundError:
        return None, "unknown"


def watch(weekly: WeeklyConfig) -> list[Watched]:
    """Every watched project, its sources fetched at once; never raises for a source."""
    urls = {item.name: source_urls(item, weekly) for item in weekly.watch}
    fetched = fetch_all([url for item_urls in urls.values() for url in item_urls.values()], {}, weekly.fetch, ACCEPT)
    return [watch_one(item, {kind: fetched[url] for kind, url in urls[item.name].items()}) for item in weekly.watch]


def watch_one(item: WatchItem, fetched: dict[str, Fetched]) -> Watched:
    in_use, how = version_in_use(item)
    watched = Watched(item.name, in_use, how)
    releases: dict[str, Release] = {}
    for kind, answer in fetched.items():
        outcome = {"outcome": answer.outcome, "url": display_url(answer.url), "seconds": answer.seconds}
        if answer.outcome != "ok":
            watched.sources[kind] = {**outcome, "error": answer.error or "no answer"}
            continue
        try:
            found = PARSERS[kind](answer.body, answer.content_type)
        except NotUsable as error:
            watched.sources[kind] = {**outcome, "outcome": "failed", "error": redact_secrets(str(error))[:300]}
            continue
        watched.sources[kind] = {**outcome, "releases": len(found)}
        _merge(releases, found)
    _compare(watched, list(releases.values()))
    return watched


def _merge(releases: dict[str, Release], found: list[Release]) -> None:
    """One release per version across sources: the registry's date, the release feed's notes."""
    for release in found:
        known = releases.setdefault(_normal(release.version), release)
        if known is not release:
            known.published = known.published or release.published
            known.headlines = known.headlines or release.headlines
            known.url = known.url or release.url


def _compare(watched: Watched, releases: list[Release]) -> None:
    from packaging.version import InvalidVersion, Version

    ordered = []
    for release in releases:
        try:
            ordered.append((Version(_normal(release.version)), release))
        except InvalidVersion:
            continue  # a tag that names no version ("nightly"): nothing to compare
    stable = sorted(((v, r) for v, r in ordered if not v.is_prerelease), key=lambda pair: pair[0], reverse=True)
    watched.latest = stable[0][1].version if stable else None
    if watched.in_use is None:
        watched.note = "version in use unknown: not installed here and no `version:` pin"
        return
    try:
        current = Version(_normal(watched.in_use))
    except InvalidVersion:
        watched.note = f"version in use {watched.in_use!r} is no version number: nothing compared"
        return
    watched.newer = [release for version, release in stable if version > current][:MAX_NEWER]


def _normal(version: str) -> str:
    return version.strip().removeprefix("v").removeprefix("V")


def parse_pypi(body: bytes, content_type: str = "") -> list[Release]:
    """PyPI's JSON API: `releases` maps each version to its files, each with `upload_time_iso_8601`;
    a version whose files are all yanked (or that has none) is no release to upgrade to."""
    document = _json(body)
    releases = document.get("releases")
    if not isinstance(document.get("info"), dict) or not isinstance(releases, dict):
        raise NotUsable("not PyPI's JSON: no `info` and `releases` objects")
    found = []
    for version, files in releases.items():
        if not isinstance(files, list):
            raise NotUsable(f"not PyPI's JSON: the files of {_short(version)} are no list")
        live = [f for f in files if isinstance(f, dict) and not f.get("yanked")]
        if live:
            times = sorted(str(f.get("upload_time_iso_8601") or f.get("upload_time") or "") for f in live)
            found.append(Release(_short(version), _iso(times[0])))
    return found


def parse_npm(body: bytes, content_type: str = "") -> list[Release]:
    """npm's registry document: `time` maps each version (and `created`, `modified`) to its date."""
    document = _json(body)
    times = document.get("time")
    if not isinstance(times, dict) or not isinstance(document.get("versions", {}), dict):
        raise NotUsable("not an npm registry document: no `time` object")
    versions = document.get("versions") or times
    return [
        Release(_short(version), _iso(str(when)))
        for version, when in times.items()
        if version not in ("created", "modified") and version in versions
    ]


def parse_github(body: bytes, content_type: str = "") -> list[Release]:
    """GitHub's releases Atom feed: an entry per release, its link ending in /releases/tag/<tag>."""
    feed = read_feed(body, content_type)
    if not feed.get("version") and not feed.entries:
        raise NotUsable("not an Atom feed of releases")
    found = []
    for entry in feed.entries:
        link = entry.get("link") or ""
        tag = link.rsplit("/releases/tag/", 1)[1] if "/releases/tag/" in link else entry.get("title") or ""
        if not tag.strip():
            continue
        content = next((c.get("value") for c in entry.get("content", []) if c.get("value")), entry.get("summary", ""))
        when = entry.get("updated_parsed") or entry.get("published_parsed")
        published = datetime(*when[:6], tzinfo=UTC).isoformat() if when else None
        found.append(Release(_short(tag), published, headlines(content), redact_secrets(link) or None))
    return found


PARSERS = {"pypi": parse_pypi, "npm": parse_npm, "github": parse_github}


def headlines(notes_html: str) -> list[str]:
    """A release's headlines: its notes' headings, or else their first lines; plain, redacted, short."""
    from bs4 import BeautifulSoup  # at first use: the code location need not load it

    soup = BeautifulSoup(notes_html or "", "html.parser")
    lines = [tag.get_text(" ") for tag in soup.find_all(["h1", "h2", "h3"])]
    if not lines:
        lines = [tag.get_text(" ") for tag in soup.find_all(["li", "p"])] or soup.get_text("\n").splitlines()
    cleaned = [_clip(" ".join(line.split())) for line in lines]
    return [line for line in cleaned if line][:MAX_HEADLINES]


def _json(body: bytes) -> dict:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        shown = redact_secrets(body[:2000].decode("utf-8", "replace"))[:60]  # redacted whole, then cut
        raise NotUsable(f"not JSON ({type(error).__name__}): {shown!r}") from None
    if not isinstance(document, dict):
        raise NotUsable(f"not a JSON object but {type(document).__name__}")
    return document


def _iso(text: str) -> str | None:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat()  # PyPI's upload_time: UTC


def _short(text: str) -> str:
    return redact_secrets(" ".join(str(text).split()))[:VERSION_CHARS]


def _clip(text: str) -> str:
    text = redact_secrets(text)
    return text if len(text) <= HEADLINE_CHARS else text[: HEADLINE_CHARS - 2].rsplit(" ", 1)[0] + " …"
