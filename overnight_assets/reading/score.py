"""Deterministic scoring and dedup: which items are new tonight and which are worth the LLM's time.

An item scores, for each interest, the interest's weight (the config's, or the one the weekly
basal_ganglia learned) times the keywords it mentions (a
keyword in the title counts twice), all times its source's weight. The ranking is total: ties
fall to the source weight, then the newer item, then the title, so the same input always gives
the same candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from overnight_assets.reading.items import Item

if TYPE_CHECKING:
    from overnight_assets.config import Interest

TITLE_FACTOR = 2.0


@dataclass(frozen=True)
class Scored:
    item: Item
    score: float
    matched: tuple[str, ...]  # "keyword, keyword (topic)", for the reader: why it ranked where it did
    source_weight: float
    topics: tuple[str, ...] = ()  # the interests it matched: its same_topic edges in Cortex

    def why(self) -> str:
        if self.matched:
            return "matches " + "; ".join(self.matched)
        return "no interest keyword matched"


def weighted(interests: list[Interest], weights: dict[str, float]) -> list[Interest]:
    """The interests with the weights Cortex learned (interest_weights) in place of the config's."""
    return [
        interest.model_copy(update={"weight": weights[interest.topic]}) if interest.topic in weights else interest
        for interest in interests
    ]


class Scorer:
    def __init__(self, interests: list[Interest], source_weights: dict[str, float]):
        self.source_weights = source_weights
        self.patterns = [(interest, interest.keyword_pattern()) for interest in interests if interest.keywords]

    def score(self, item: Item) -> Scored:
        total, matched, topics = 0.0, [], []
        for interest, pattern in self.patterns:
            in_title = {hit.lower() for hit in pattern.findall(item.title)}
            in_summary = {hit.lower() for hit in pattern.findall(item.summary)} - in_title
            if in_title or in_summary:
                total += interest.weight * (TITLE_FACTOR * len(in_title) + len(in_summary))
                matched.append(f"{', '.join(sorted(in_title | in_summary))} ({interest.topic})")
                topics.append(interest.topic)
        weight = self.source_weights.get(item.source, 1.0)
        return Scored(item, round(total * weight, 4), tuple(matched), weight, tuple(topics))


def rank_new(
    items: list[Item], scorer: Scorer, known_urls: set[str], known_titles: set[str]
) -> tuple[list[Scored], dict[str, int]]:
    """Score, rank, and keep each story once: the best-ranked copy across sources, none Cortex knows.

    Returns the ranked new items and how many were dropped as duplicates or already known.
    """
    ranked = sorted((scorer.score(item) for item in items), key=_rank_key)
    seen_urls, seen_titles = set(known_urls), set(known_titles)
    kept, dropped = [], {"duplicate": 0, "already_known": 0}
    for scored in ranked:
        url, key = scored.item.url, scored.item.title_key
        if url in known_urls or (key and key in known_titles):
            dropped["already_known"] += 1
        elif url in seen_urls or (key and key in seen_titles):
            dropped["duplicate"] += 1
        else:
            kept.append(scored)
        seen_urls.add(url)
        if key:
            seen_titles.add(key)
    return kept, dropped


def _rank_key(scored: Scored) -> tuple:
    published = scored.item.published.timestamp() if scored.item.published else 0.0
    return (-scored.score, -scored.source_weight, -published, scored.item.title, scored.item.url)
