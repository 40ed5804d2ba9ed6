"""The Slack message, in Slack's own syntax, rendered from each section's lines; untrusted text inert.

Slack's mrkdwn is not Markdown: a link is `<url|label>`, bold `*x*`, italic `_x_`, and a list is
lines that begin with `•`. Every text from outside (feeds, commits, logs, the LLM) is plain text:
- `&`, `<`, `>` are escaped, so `<!channel>` or `<url|label>` inside a text stay inert, and a bare
  @channel/@here/@everyone gets a word joiner: no ping;
- Slack has no escape for its formatting characters, so in a text `*`, `~`, a backtick and an `_`
  that could open or close emphasis become look-alikes (∗ ∼ ˋ ˍ): a title cannot bold half the
  message; an `_` inside a word (snake_case) is left as it is;
- a link is made only from a span's URL that `link_target` accepts (http/https), never from text;
  every text object is `verbatim`, so Slack does not turn a URL inside a text into a link either.

Blocks are built with slack_sdk.models.blocks, whose validation knows Slack's limits (a section's
text 3,000 characters, a header's 150, 10 context elements). A section too long for one block
goes over several, split at line boundaries (an item with its detail lines kept together when
they fit); past 50 blocks the rest goes into replies in the message's thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from overnight_assets.section import NOTHING_TO_REPORT, Line, Section, Span, joined_size, link_target, within_lines
from overnight_assets.status import Status

STATUS_EMOJI = {
    Status.GREEN: ":large_green_circle:",
    Status.AMBER: ":large_orange_circle:",
    Status.RED: ":red_circle:",
    Status.NOT_CONFIGURED: ":white_circle:",
}
MAX_BLOCKS = 50  # Slack's limit per message
SECTION_TEXT_LIMIT = SectionBlock.text_max_length  # 3,000
HEADER_LIMIT = HeaderBlock.text_max_length  # 150
TEXT_LIMIT = 3_000  # the plain-text fallback (notifications): Slack advises at most 4,000
LABEL_CHARS = 300  # a link's label; a longer title is cut with an ellipsis
INDENT = "      "
CONTINUED = "Continued in the thread."
FEEDBACK_HINT = (
    "_The refs before the items name them: `overnight feedback {ref} good` (or `bad`) says what one was worth; "
    "a reaction on a message counts for every item it carries._"
)
_MENTION = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_LOOKALIKES = {"*": "\u2217", "~": "\u223c", "`": "\u02cb"}
_FORMATTING = re.compile(r"[*~`]")
_FREE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")  # not between two letters or digits
_EDGES = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)  # punctuation kept outside *bold* and _italic_


@dataclass(frozen=True)
class SlackMessage:
    text: str  # the plain-text fallback: notifications, and clients that cannot show blocks
    blocks: list[dict]
    replies: list[dict] = field(default_factory=list)  # {"text", "blocks"}: the rest, in the thread
    ref_pages: dict[str, int] = field(default_factory=dict)  # ITEM ref -> 0 (the message) or n (the n-th reply)


def escape(text: str) -> str:
    """Slack's three control characters escaped, and no @channel/@here/@everyone ping."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub(lambda m: "@\u2060" + m.group(1), text)


def plain(text: str) -> str:
    """A text from outside, shown exactly as words in mrkdwn: escaped, and unable to format."""
    text = _FORMATTING.sub(lambda m: _LOOKALIKES[m[0]], escape(text))
    return _FREE_UNDERSCORE.sub("\u02cd", text)


def slack_message(
    partition_key: str,
    status: Status,
    summary: str,
    sections: list[Section],
    changes: list[str] | None = None,
    summary_source: str = "llm",
) -> SlackMessage:
    blocks = [HeaderBlock(text=PlainTextObject(text=_header(partition_key, status), emoji=True))]
    blocks += _text_blocks([[plain(summary)]])
    if summary_source != "llm":
        blocks.append(_context("_Summary written without the LLM (deterministic fallback)._"))
    if changes:
        blocks += _text_blocks([["*Since yesterday*"], *([f"• {plain(change)}"] for change in changes)])
    for section in sections:
        heading = f"{STATUS_EMOJI[section.status]} *{plain(section.title)}*: {section.status.value}"
        groups = [_mrkdwn_lines(line, "") for line in section.lines] or [[f"_{NOTHING_TO_REPORT}_"]]
        blocks += [DividerBlock(), *_text_blocks([[heading], *groups])]
    refs = [line.ref for section in sections for line in section.lines if line.ref]
    if refs:  # a reader meets `R1` before anything says what it is for
        blocks.append(_context(FEEDBACK_HINT.format(ref=refs[0])))
    first, *rest = _pages(blocks)
    replies = [
        {"text": f"Morning briefing {partition_key}, continued ({number} of {len(rest)})", "blocks": page}
        for number, page in enumerate(rest, 1)
    ]
    pages = _refs_by_page(refs, [first, *(reply["blocks"] for reply in replies)])
    return SlackMessage(plain_text(partition_key, status, summary, sections), first, replies, pages)


def _refs_by_page(refs: list[str], pages: list[list[dict]]) -> dict[str, int]:
    """The page each ref is printed on: `R3` as a code span, which no text from outside can write
    (a backtick in it becomes a look-alike)."""
    texts = [" ".join(block["text"]["text"] for block in page if isinstance(block.get("text"), dict)) for page in pages]
    return {ref: next((n for n, text in enumerate(texts) if f"`{ref}` " in text), 0) for ref in refs}


def plain_text(partition_key: str, status: Status, summary: str, sections: list[Section]) -> str:
    """The notification text: the verdict, the summary and each section's status, within TEXT_LIMIT."""
    lines = [f"Morning briefing {partition_key}: {status.value}", plain(summary)]
    lines += [f"{plain(s.title)}: {s.status.value}" for s in sections]
    return within_lines(lines, TEXT_LIMIT, "… (the rest is in the message)")


def _header(partition_key: str, status: Status) -> str:
    return f"{STATUS_EMOJI[status]} Morning briefing {partition_key}: {status.value}"[:HEADER_LIMIT]


def _context(mrkdwn: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=mrkdwn, verbatim=True)])


# --- lines to mrkdwn ----------------------------------------------------------------------------


def _mrkdwn_lines(line: Line, indent: str, depth: int = 0) -> list[str]:
    """A line and its details as mrkdwn text lines; a list item gets • (◦ below an item) or its number."""
    marker = ""
    if line.kind == "item":
        marker = f"{line.number}. " if line.number is not None else ("• " if depth == 0 else "◦ ")
    tag = f"*{plain(line.severity.upper())}* " if line.severity else ""
    ref = f"`{line.ref}` " if line.ref else ""
    text = indent + marker + ref + tag + "".join(_mrkdwn_span(span) for span in line.spans)
    if len(text) > SECTION_TEXT_LIMIT:  # too long for any block: its words alone, split at spaces later
        text = indent + marker + ref + plain(line.plain)
    return [
        text.rstrip(),
        *(text for detail in line.details for text in _mrkdwn_lines(detail, indent + INDENT, depth + 1)),
    ]


def _mrkdwn_span(span: Span) -> str:
    if span.url is not None:
        return mrkdwn_link(span.text, span.url)
    if span.style == "code" and span.text.strip():
        return f"`{escape(span.text).replace('`', _LOOKALIKES['`'])}`"
    marker = {"bold": "*", "italic": "_"}.get(span.style)
    lead, core, trail = _EDGES.match(span.text).groups()
    if marker is None or not core:
        return plain(span.text)
    return f"{plain(lead)}{marker}{plain(core)}{marker}{plain(trail)}"


def mrkdwn_link(label: str, url: str) -> str:
    label = label.strip()
    label = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rsplit(" ", 1)[0] + "…"
    target = link_target(url)
    if target is None:
        return plain(label)
    return f"<{target}|{plain(label) or plain(target)}>"


# --- blocks within Slack's limits ---------------------------------------------------------------


def _text_blocks(groups: list[list[str]]) -> list[SectionBlock]:
    """Section blocks holding the groups' lines in order, each within SECTION_TEXT_LIMIT: a group
    (an item and its details) stays in one block when it fits; a line too long for any block
    (plain text by then) is split at spaces."""
    chunks: list[list[str]] = [[]]

    def overflows(lines: list[str]) -> bool:
        return bool(chunks[-1]) and joined_size([*chunks[-1], *lines]) > SECTION_TEXT_LIMIT

    for group in groups:
        if overflows(group) and joined_size(group) <= SECTION_TEXT_LIMIT:  # the group whole in the next block
            chunks.append([])
        for piece in (piece for line in group for piece in _fitting(line)):
            if overflows([piece]):
                chunks.append([])
            chunks[-1].append(piece)
    texts = ["\n".join(chunk).strip("\n") for chunk in chunks]
    return [SectionBlock(text=MarkdownTextObject(text=text, verbatim=True)) for text in texts if text.strip()]


def _fitting(line: str) -> list[str]:
    """The line as it is when it fits a block; else (plain text) in pieces that do, cut at spaces
    and never inside an escaped entity."""
    if len(line) <= SECTION_TEXT_LIMIT:
        return [line]
    pieces, rest = [], line
    while len(rest) > SECTION_TEXT_LIMIT:
        cut = rest.rfind(" ", SECTION_TEXT_LIMIT // 2, SECTION_TEXT_LIMIT)
        if cut < 0:
            cut = SECTION_TEXT_LIMIT
            entity = rest.rfind("&", cut - 6, cut)  # &amp; &lt; &gt; are at most 5 characters
            cut = entity if entity > 0 and ";" not in rest[entity:cut] else cut
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip(" ")
    return [*pieces, rest]


def _pages(blocks: list[Block]) -> list[list[dict]]:
    """The blocks as pages of at most MAX_BLOCKS: the message, then replies in its thread. A page
    that goes on ends at a section boundary when one is in reach, and says the rest follows."""
    pages: list[list[dict]] = []
    while len(blocks) > MAX_BLOCKS:
        cut = MAX_BLOCKS - 1
        boundary = max((i for i in range(2, cut + 1) if isinstance(blocks[i], DividerBlock)), default=cut)
        cut = boundary if boundary > MAX_BLOCKS // 2 else cut
        pages.append([block.to_dict() for block in blocks[:cut]] + [_context(f"_{CONTINUED}_").to_dict()])
        blocks = blocks[cut + 1 :] if isinstance(blocks[cut], DividerBlock) else blocks[cut:]
    pages.append([block.to_dict() for block in blocks])
    return pages
