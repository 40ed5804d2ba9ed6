"""Slack formatting: Block Kit plus plain text, with untrusted content escaped.

Text from feeds, commits, logs or the LLM must not ping anyone or smuggle a link: `&`, `<` and
`>` are escaped (so `<!channel>` and `<url|label>` are inert) and bare @channel/@here/@everyone
get a zero-width joiner.
"""

from __future__ import annotations

import re

from overnight_assets.briefing.section import Section
from overnight_assets.status import Status

_MENTION = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
SECTION_TEXT_LIMIT = 2900  # Slack rejects section text over 3000 characters
MAX_BLOCKS = 50


def escape(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub(lambda m: "@\u2060" + m.group(1), text)


def _clip(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 20] + "\n… (cut; full text in the briefing file)"


def blocks_for(partition_key: str, status: Status, summary: str, sections: list[Section]) -> list[dict]:
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Morning briefing {partition_key}: {status.value}"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(escape(summary))}},
    ]
    for section in sections:
        heading = f"{section.status.emoji} *{escape(section.title)}*: {section.status.value}"
        body = escape(section.markdown.strip()) or "_Nothing to report._"
        blocks += [{"type": "divider"}, {"type": "section", "text": {"type": "mrkdwn", "text": _clip(f"{heading}\n{body}")}}]
    return blocks[:MAX_BLOCKS]


def plain_text_for(partition_key: str, status: Status, summary: str, sections: list[Section]) -> str:
    lines = [f"Morning briefing {partition_key}: {status.value}", escape(summary)]
    lines += [f"{s.title}: {s.status.value}" for s in sections]
    return "\n".join(lines)
