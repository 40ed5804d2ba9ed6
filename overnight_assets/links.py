"""What makes a URL safe to follow and safe to show, for every domain that reads from outside.

A link from outside is untrusted: only an http(s) URL with a sound host and port is followed
(`link_parts`, UnusableLink otherwise), and a URL written to logs or metadata carries no
user:password and no secret-looking query value (`display_url`).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

_LINK_SCHEMES = ("http", "https")  # javascript:, data: and the like must not reach the briefing's links
_HOST = re.compile(r"[\w.-]+|[0-9a-f:.]+")  # a name (IDN too) or an IPv6 literal: no space or bracket
_USERINFO = re.compile(r"//[^/?#]*@")
_SECRET_PARAMS = re.compile(r"token|key|secret|password|passwd|auth|sig|session", re.IGNORECASE)


class UnusableLink(ValueError):
    """A link a reader could not follow safely: not http(s), no sound host, a bad port or IPv6 literal."""


def link_parts(url: str) -> tuple[SplitResult, int | None]:
    """url split, and its port; UnusableLink, saying why, for anything but a sound http(s) URL."""
    parts, port = _split(url.strip())
    if parts.scheme not in _LINK_SCHEMES:  # urlsplit lowercases it
        raise UnusableLink(f"not an http(s) link (scheme {parts.scheme or 'missing'!r})")
    if not _HOST.fullmatch(parts.hostname or ""):
        raise UnusableLink(f"no usable host in {parts.netloc!r}")
    return parts, port


def display_url(url: str) -> str:
    """A URL fit for logs and metadata: no user:password, and secret-looking query values hidden."""
    try:
        parts, port = _split(url)
    except UnusableLink:  # it cannot be taken apart: show it without what could hold a secret
        return _USERINFO.sub("//", url).split("?")[0]
    if not parts.scheme:
        return url  # a file path
    query = [(k, "***" if _SECRET_PARAMS.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, netloc(parts.hostname or "", port), parts.path, urlencode(query, safe="*"), ""))


def netloc(host: str, port: int | None) -> str:
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    return f"{host}:{port}" if port else host


def _split(url: str) -> tuple[SplitResult, int | None]:
    try:
        parts = urlsplit(url)
        return parts, parts.port  # the port is only checked when read
    except ValueError as error:  # a port that is no number or out of range, a broken IPv6 literal
        raise UnusableLink(str(error)) from None
