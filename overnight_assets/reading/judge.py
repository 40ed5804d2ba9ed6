"""The LLM's part: judge the bounded list of top candidates and write one line about each.

One question per item, and the question holds only the item and the interests (no date, no
other items), so the content-addressed cache answers it again on a rerun, a backfill or a later
night that meets the same item: a story is judged once. Without the LLM the deterministic
ranking stands, with the feeds' own summaries, and the section says so.

Precision before filling `digest_size`: an item is listed only when it matches an interest (a
keyword of `reading.interests`) and the LLM, if it judged it, did not call it irrelevant (0), or,
matching no keyword, when the LLM judged it clearly relevant (RELEVANT_WITHOUT_KEYWORD). A quiet
night lists fewer items, or none. With no interest keywords configured at all the owner asked for
nothing in particular: everything new competes, ranked by source weight and recency (and the
LLM's judgement of general interest, where it answered).
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
RELEVANT_WITHOUT_KEYWORD = 6  # of 10: the LLM's relevance that lists an item no interest keyword matched
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
        """In words, never a score (the scores stay in the item's `score` and `relevance`)."""
        said = [_clip(self.judgement.why).rstrip(".")] if self.judgement else []
        if self.scored.matched or not said:
            said.append(
                self.scored.why()
                if self.scored.matched
                else "no interests configured: ranked by source weight and recency"
            )
        return "; ".join(said)

    def worth_listing(self, by_interest: bool) -> bool:
        """The quiet-night rule in the module's docstring; `by_interest`: interest keywords are configured."""
        relevance = self.judgement.relevance if self.judgement else None
        if relevance == 0:
            return False
        if self.scored.matched or not by_interest:
            return True
        return relevance is not None and relevance >= RELEVANT_WITHOUT_KEYWORD

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
            "topics": list(self.scored.topics),
            **item.extra,
        }


def candidate_limit(keep: int) -> int:
    return CANDIDATES_PER_KEPT * keep


def judge_prompt(scored: Scored, interests: list[Interest]) -> str:
    item = scored.item
    wanted = "\n".join(f"- {i.topic} (weight {i.weight:g}): {', '.join(i.keywords)}" for i in interests)
    text = within_budget(f"Title: {item.title}\nLink: {item.url}\n\n{item.summary}", ITEM_BYTES)
    return (
        "Interests:\n"
        + (wanted or "- (none listed: judge general technical interest)")
        + "\n\n"
        + as_data("item", text)
    )


def judge_and_pick(ranked: list[Scored], interests: list[Interest], keep: int, llm: Asker) -> list[Pick]:
    """Ask about the top candidates only; keep at most `keep` of those worth listing, best judged first.

    When any candidate went unjudged (LLM unavailable), the deterministic order stands for all,
    so the digest never mixes two rankings; judged items still carry their summary. Either way
    only the items worth listing are kept: an unjudged one needs an interest keyword.
    """
    candidates = ranked[: candidate_limit(keep)]
    picks = [
        Pick(scored, llm.ask("summarize", JUDGE_SYSTEM, judge_prompt(scored, interests), Judgement))
        for scored in candidates
    ]
    relevant = [pick for pick in picks if pick.worth_listing(has_interests(interests))]
    if any(pick.judgement is None for pick in picks):
        return relevant[:keep]
    return sorted(relevant, key=lambda pick: -pick.judgement.relevance)[:keep]  # stable: score order breaks ties


def has_interests(interests: list[Interest]) -> bool:
    """Whether the owner named anything to look for: an interest without keywords matches nothing."""
    return any(interest.keywords for interest in interests)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 2].rsplit(" ", 1)[0] + " …"
