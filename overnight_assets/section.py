"""The section: what every worker hands the morning briefing.

A new worker returns a Section from its asset; the briefing composes whatever sections its
upstream assets produced, so adding a worker never changes the briefing code.

A section's content is `lines`, a structure no renderer owns: plain-text spans (some bold,
italic, code or a link), items (bulleted or numbered, with a severity and detail lines under
them). The Markdown file and the Slack message are both rendered from it, so they never
disagree; `markdown` is rendered from `lines` when the section is made. A value stored before
`lines` existed (yesterday's section, read back by the briefing) becomes one plain line per
line of its Markdown.

Span text is plain text, never markup: each renderer escapes it for its own syntax. A link's URL
is checked again by `link_target` at rendering: only http(s) is ever a link.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from overnight_assets.status import Status

# what a worker's LLM session did for its section (LLMSession.status), kept as the section's `llm`
LLMState = Literal["ok", "unavailable", "not needed"]
# a section's `llm`: its worker's LLMState, or "not run" for the stand-in of a section that never ran
SectionLLMState = Literal[LLMState, "not run"]

SECTION_TAG = "overnight/section"  # the asset tag that makes an asset's value a briefing section
NOTHING_TO_REPORT = "Nothing to report."
# what would end a Markdown link `[label](url)` or a Slack `<url|label>` early
_BREAKS_A_LINK = re.compile(r"[\s()<>|\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_HOST = re.compile(r"[\w.-]+|[0-9a-f:.]+")  # a name (IDN too) or an IPv6 literal's inside


_LINK_OR_HTML = re.compile(r"[\[\]<>]")


@dataclass(frozen=True)
class Span:
    text: str
    url: str | None = None  # the text links here: an http(s) URL the builder validated
    style: str = ""  # "" | bold | italic | code

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Span:
        return cls(str(data.get("text", "")), data.get("url"), data.get("style") or "")


@dataclass(frozen=True)
class Line:
    """One line of a section, or one item of a list with the lines under it."""

    spans: tuple[Span, ...] = ()
    kind: str = "text"  # text | item (a list entry: bulleted, or numbered when `number` is set)
    number: int | None = None
    severity: str | None = None  # red, amber, error, warning...: shown as a bold tag before the text
    details: tuple[Line, ...] = ()  # lines under an item, indented
    shows: int | None = None  # the index, in its section's items, of the item this line shows
    ref: str | None = None  # the ITEM ref the briefing printed for it (R3): `overnight feedback R3 good`

    @classmethod
    def text(cls, *parts: str | Span) -> Line:
        return cls(spans=_spans(parts))

    @classmethod
    def item(
        cls, *parts: str | Span, number: int | None = None, severity: str | None = None, details=(), shows=None
    ) -> Line:
        """A list entry; `shows`: the index of the section's item it presents (it gets a ref in the briefing)."""
        return cls(
            spans=_spans(parts), kind="item", number=number, severity=severity, details=tuple(details), shows=shows
        )

    @property
    def plain(self) -> str:
        """The line's words without any formatting: for prompts, plain-text fallbacks and tests."""
        tag = f"{self.severity.upper()} " if self.severity else ""
        return tag + "".join(span.text for span in self.spans)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Line:
        return cls(
            spans=tuple(Span.from_dict(span) for span in data.get("spans", ())),
            kind=data.get("kind") or "text",
            number=data.get("number"),
            severity=data.get("severity"),
            details=tuple(cls.from_dict(detail) for detail in data.get("details", ())),
            shows=data.get("shows"),
            ref=data.get("ref"),
        )


def bold(text: str) -> Span:
    return Span(text, style="bold")


def italic(text: str) -> Span:
    return Span(text, style="italic")


def code(text: str) -> Span:
    return Span(text, style="code")


def link(label: str, url: str | None) -> Span:
    return Span(label, url=url)


def _spans(parts: tuple[str | Span, ...]) -> tuple[Span, ...]:
    return tuple(part if isinstance(part, Span) else Span(str(part)) for part in parts if part != "")


def link_target(url: str | None) -> str | None:
    """url fit for a Markdown link and a Slack <url|label>, or None: only an http(s) URL with a
    host and no user:password is a link; characters that would end the link early are
    percent-quoted (a valid URL keeps its meaning)."""
    if not url:
        return None
    url = _CONTROL.sub(lambda match: quote(match[0]), url.strip())  # urlsplit would drop some silently
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is no number raises here
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not _HOST.fullmatch(parts.hostname or "") or "@" in parts.netloc:
        return None
    after_host = url[len(parts.scheme) + 3 + len(parts.netloc) :]
    return f"{parts.scheme}://{parts.netloc}" + _BREAKS_A_LINK.sub(lambda match: quote(match[0]), after_host)


def markdown_of(lines: tuple[Line, ...] | list[Line]) -> str:
    return "\n".join(_markdown_line(line, "") for line in lines).strip()


def _markdown_line(line: Line, indent: str) -> str:
    marker = (f"{line.number}. " if line.number is not None else "- ") if line.kind == "item" else ""
    tag = f"**{line.severity.upper()}** " if line.severity else ""
    ref = f"`{line.ref}` " if line.ref else ""
    text = indent + marker + ref + tag + "".join(_markdown_span(span) for span in line.spans)
    under = indent + " " * len(marker)  # details line up with the item's text
    return "\n".join([text.rstrip(), *(_markdown_line(detail, under) for detail in line.details)])


def _markdown_span(span: Span) -> str:
    if span.url is not None:
        label = span.text.replace("[", "(").replace("]", ")")  # a bracket would end the label early
        target = link_target(span.url)
        return f"[{label}]({target})" if target else label
    if not span.text.strip() or not span.style:
        return _inert(span.text)
    core = span.text.strip()
    lead, trail = span.text[: len(span.text) - len(span.text.lstrip())], span.text[len(span.text.rstrip()) :]
    if span.style == "code":
        fence = "``" if "`" in core else "`"
        return f"{lead}{fence}{core}{fence}{trail}"
    marker = "**" if span.style == "bold" else "_"
    return f"{lead}{marker}{_inert(core)}{marker}{trail}"


def _inert(text: str) -> str:
    """Plain text that cannot become a link or HTML in Markdown: a feed's `[x](javascript:…)` or
    `<img …>` stays text in the briefing file and the UI's preview."""
    return _LINK_OR_HTML.sub(r"\\\g<0>", text)


def lines_from_markdown(markdown: str) -> tuple[Line, ...]:
    """A section stored before `lines` existed: its Markdown kept as plain lines."""
    return tuple(Line.text(text) for text in markdown.splitlines())


def within_lines(lines: list[str], limit: int, note: str) -> str:
    """The lines joined, as many whole ones as fit in `limit` characters, then `note` if any was left out."""
    if joined_size(lines) <= limit:
        return "\n".join(lines)
    kept: list[str] = []
    for line in lines:
        if joined_size([*kept, line, note]) > limit:
            break
        kept.append(line)
    return "\n".join([*kept, note])


def joined_size(lines: list[str]) -> int:
    """len("\n".join(lines)), without joining."""
    return sum(len(line) for line in lines) + max(len(lines) - 1, 0)


@dataclass(frozen=True)
class Section:
    key: str  # the producing asset's name; stable across nights, used to diff with yesterday
    title: str
    status: Status
    items: list[dict[str, Any]] = field(default_factory=list)
    markdown: str = ""  # rendered from `lines`; given alone (an older value), it becomes the lines
    order: int = 50  # lower comes first in the briefing
    llm: SectionLLMState = "not needed"
    lines: tuple[Line, ...] = ()
    ref_prefix: str = ""  # its listed items get ITEM refs in the briefing: R1, R2... (a capital letter)

    def __post_init__(self) -> None:
        if self.lines:
            object.__setattr__(self, "lines", tuple(self.lines))
            object.__setattr__(self, "markdown", markdown_of(self.lines))
        elif self.markdown:
            object.__setattr__(self, "lines", lines_from_markdown(self.markdown))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Section:
        lines = tuple(Line.from_dict(line) for line in data.get("lines") or ())
        return cls(**{**data, "status": Status(data["status"]), "lines": lines})
