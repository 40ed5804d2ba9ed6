"""Credentials in URLs are never written: only the redacted form travels, the real one stays in memory.

A URL such as `http://user:password@ollama.lan:11434` is needed by the client that connects,
but anything handed to Dagster (resource config lands in the run's snapshot), metadata, logs
or errors must not carry the password. The config loader keeps the full URL here, in this
process only, and hands every other part of the program the redacted one; a client asks for
the real URL at the moment it connects. Every process that runs assets loads the config (the
code location does at import), so the real URL is known wherever a client is built.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

REDACTED = "***"
_WITH_CREDENTIALS: dict[str, str] = {}  # redacted URL -> the URL as configured
# scheme://userinfo@ anywhere in free text (error messages, log lines)
_USERINFO_IN_TEXT = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/@]+@")


def redact_url(url: str) -> str:
    """The URL with any user name and password replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{REDACTED}@{host}"))


def keep_credentials(url: str | None) -> str | None:
    """Remember a URL's credentials in this process; return the form safe to write anywhere."""
    if url is None:
        return None
    redacted = redact_url(url)
    if redacted != url:
        _WITH_CREDENTIALS[redacted] = url
    return redacted


def with_credentials(url: str | None) -> str | None:
    """The URL to connect with: the configured one behind a redacted URL, else the URL itself."""
    if url is None:
        return None
    return _WITH_CREDENTIALS.get(url, url)


def redact_text(text: str) -> str:
    """Free text (an error, a log line) with credentials of any URL in it replaced by ***."""
    return _USERINFO_IN_TEXT.sub(lambda match: f"{match.group(1)}{REDACTED}@", text)
