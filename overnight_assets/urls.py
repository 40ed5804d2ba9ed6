"""URLs as the project agrees on them: canonical (what two sources, and Cortex, call the same page),
safe for a link, and fit for logs. The ground floor: reading normalizes every item's link with it,
and Cortex fills each memory's `canonical_url` with it (resources/memory_graph.py).

Canonical URLs drop tracking parameters, fragments and default ports (and name an arXiv paper by
its id, without version). A link from outside is untrusted: only an http(s) URL with a sound host
and port is kept, and the characters that would end a Markdown link are percent-quoted; anything
else is an UnusableLink. Secrets in a URL (`?token=…`, user:password) are redacted where it enters.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit, urlunsplit

from overnight_assets.redaction import redact_secrets

_TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "yclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "ref",
    "ref_src",
    "_hsenc",
    "_hsmi",
}
_USERINFO = re.compile(r"//[^/?#]*@")
_SECRET_PARAMS = re.compile(r"token|key|secret|password|passwd|auth|sig|session", re.IGNORECASE)
_ARXIV = re.compile(r"^/(?:abs|pdf)/(?P<id>[a-z\-]+(?:\.[A-Z]{2})?/\d{7}|\d{4}\.\d{4,5})(?:v\d+)?(?:\.pdf)?/?$")

_LINK_SCHEMES = ("http", "https")  # javascript:, data: and the like must not reach the briefing's links
_HOST = re.compile(r"[\w.-]+|[0-9a-f:.]+")  # a name (IDN too) or an IPv6 literal: no space or bracket
_BREAKS_MARKDOWN_LINK = re.compile(r"[\s()<>\x00-\x1f\x7f]")


class UnusableLink(ValueError):
    """A link a reader could not follow safely: not http(s), no sound host, a bad port or IPv6 literal."""


def canonical_url(url: str) -> str:
    """The URL two sources would agree on: no tracking parameters, fragment or default port, secrets
    in it redacted (`?token=…`); UnusableLink if unsafe."""
    parts, port = link_parts(redact_secrets(url))
    scheme, host = parts.scheme.lower(), parts.hostname
    if host.endswith("arxiv.org") and (match := _ARXIV.match(parts.path)):
        return f"https://arxiv.org/abs/{match['id']}"
    port = port if port and (scheme, port) not in (("http", 80), ("https", 443)) else None
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k))
    path = parts.path.rstrip("/") if len(parts.path) > 1 else parts.path
    return _quoted_for_markdown(urlunsplit((scheme, _netloc(host, port), path, urlencode(query), "")))


def safe_link(url: str | None) -> str | None:
    """url as given (secrets in it redacted), fit for a Markdown link; None when it is missing or unusable."""
    if not url:
        return None
    url = redact_secrets(url)
    try:
        link_parts(url)
    except UnusableLink:
        return None
    return _quoted_for_markdown(url.strip())


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
    return urlunsplit((parts.scheme, _netloc(parts.hostname or "", port), parts.path, urlencode(query, safe="*"), ""))


def _split(url: str) -> tuple[SplitResult, int | None]:
    try:
        parts = urlsplit(url)
        return parts, parts.port  # the port is only checked when read
    except ValueError as error:  # a port that is no number or out of range, a broken IPv6 literal
        raise UnusableLink(str(error)) from None


def _netloc(host: str, port: int | None) -> str:
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    return f"{host}:{port}" if port else host


def _quoted_for_markdown(url: str) -> str:
    # a space, parenthesis or angle bracket would end `[title](url)` early and let the rest be markup
    return _BREAKS_MARKDOWN_LINK.sub(lambda match: quote(match[0]), url)


def _is_tracking(name: str) -> bool:
    return name.lower().startswith("utm_") or name.lower() in _TRACKING_PARAMS


def canonical_or_none(url: str | None) -> str | None:
    """canonical_url, or None for a missing or unusable link (a file path, a mailto:)."""
    if not url:
        return None
    try:
        return canonical_url(url)
    except UnusableLink:
        return None
