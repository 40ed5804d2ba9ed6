"""The LLM's part: judge the bounded list of top candidates and write one line about each.

One question per item, and the question holds only the item and the interests (no date, no
other items), so the content-addressed cache answers it again on a rerun, a backfill or a later
night that meets the same item: a story is judged once. Without the LLM the deterministic
ranking stands, with the feeds' own summaries, and the section says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, Field

from overnight_assets.reading.score import Scored
from overnight_assets.resources.llm import as_data, within_budget

if TYPE_CHECKING:
    from overnight_assets.config import Interest

CANDIDATES_PER_KEPT = 2  # the LLM sees at most this many items per item kept
SUMMARY_CHARS = 240
ITEM_BYTES = 8_000  # of an item's text for the judge: its start says what it is about; a feed may send megabytes

JUDGE_SYSTEM = (
    "You choose reading for one person. Their interests are listed. Judge how relevant the item "
    "is to those interests, from 0 (not at all) to 10 (exactly what they care about), say in a "
    "few words why, and summarise the item in one plain sentence. Use only what the item says."
)


class Judgement(BaseModel):
    relevance: int = Field(ge=0, le=10, description="0 = not relevant, 10 = exactly on their interests")
    summary: str = Field(description="One plain sentence saying what the item is about")
    why: str = Field(description="A few words on why it is or is not relevant")


class Asker(Protocol):
    def ask(self, role: str, system: str, prompt: str, schema: type[BaseModel]) -> BaseModel | None: ...


@dataclass(frozen=True)
class Pick:
    scored: Scored
    judgement: Judgement | None

    @property
    def summary(self) -> str:
        text = self.judgement.summary if self.judgement else self.scored.item.summary
        return _clip(text or "(no summary in the feed)")

    @property
    def why(self) -> str:
        if self.judgement is None:
            return self.scored.why()
        return f"relevance {self.judgement.relevance}/10: {_clip(self.judgement.why)}; {self.scored.why()}"

    def to_item(self) -> dict:
        item = self.scored.item
        return {
            "title": item.title,
            "url": item.url,
            "source": item.source,
            "score": self.scored.score,
            "relevance": self.judgement.relevance if self.judgement else None,
            "summary": self.summary,
            "why": self.why,
            "published": item.published.isoformat() if item.published else None,
            **item.extra,
        }


def candidate_limit(keep: int) -> int:
    return CANDIDATES_PER_KEPT * keep


def judge_prompt(scored: Scored, interests: list[Interest]) -> str:
    item = scored.item
    wanted = "\n".join(f"- {i.topic} (weight {i.weight:g}): {', '.join(i.keywords)}" for i in interests)
    text = within_budget(f"Title: {item.title}\nLink: {item.url}\n\n{item.summary}", ITEM_BYTES)
    return "Interests:\n" + (wanted or "- (none listed: judge general technical interest)") + "\n\n" + as_data("item", text)


def judge_and_pick(ranked: list[Scored], interests: list[Interest], keep: int, llm: Asker) -> list[Pick]:
    """Ask about the top candidates only; keep `keep` of them, best judged first.

    When any candidate went unjudged (LLM unavailable), the deterministic order stands for all,
    so the digest never mixes two rankings; judged items still carry their summary.
    """
    candidates = ranked[: candidate_limit(keep)]
    picks = [Pick(scored, llm.ask("summarize", JUDGE_SYSTEM, judge_prompt(scored, interests), Judgement)) for scored in candidates]
    if any(pick.judgement is None for pick in picks):
        return picks[:keep]
    relevant = [pick for pick in picks if pick.judgement.relevance > 0]
    return sorted(relevant, key=lambda pick: -pick.judgement.relevance)[:keep]  # stable: score order breaks ties


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 2].rsplit(" ", 1)[0] + " …"
