"""Package registries and GitHub's release feeds, as documents in their real formats, for the
FeedServer (testkit.feeds) to serve on 127.0.0.1: PyPI's JSON API, npm's registry document and
GitHub's releases Atom feed."""

from __future__ import annotations

import json
from datetime import datetime

from overnight_assets_tests.testkit.feeds import Entry, atom


def pypi_json(name: str, releases: dict[str, str], yanked: tuple[str, ...] = ()) -> bytes:
    """/pypi/<name>/json: `info.version` the newest, each version's files with their upload times."""
    files = {
        version: [{"filename": f"{name}-{version}.tar.gz", "upload_time_iso_8601": when, "yanked": version in yanked}]
        for version, when in releases.items()
    }
    return json.dumps({"info": {"name": name, "version": list(releases)[-1]}, "releases": files, "urls": []}).encode()


def npm_json(name: str, releases: dict[str, str]) -> bytes:
    """/<name>: npm's registry document, `time` per version beside `created` and `modified`."""
    times = {"created": "2020-01-01T00:00:00.000Z", "modified": "2026-11-20T00:00:00.000Z", **releases}
    versions = {version: {"name": name, "version": version} for version in releases}
    return json.dumps(
        {"name": name, "dist-tags": {"latest": list(releases)[-1]}, "versions": versions, "time": times}
    ).encode()


def releases_atom(repo: str, releases: list[tuple[str, datetime, str]]) -> bytes:
    """/<owner>/<repo>/releases.atom: (tag, when, notes as HTML) per release, newest first as GitHub lists them."""
    entries = [
        Entry(tag, f"https://github.com/{repo}/releases/tag/{tag}", notes, when) for tag, when, notes in releases
    ]
    return atom(entries, title=f"Release notes from {repo.split('/')[1]}")
