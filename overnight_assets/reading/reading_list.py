"""One night's reading: read the sources, keep what is new, rank it, let the LLM judge the top few.

Cortex is opened briefly around each step and never held across the fetch or an LLM call.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NotRequired, TypedDict
from zoneinfo import ZoneInfo

from overnight_assets.reading import store
from overnight_assets.reading.items import Item
from overnight_assets.reading.judge import Asker, Pick, candidate_limit, has_interests, judge_and_pick
from overnight_assets.reading.parse import parse_source
from overnight_assets.reading.score import Scorer, rank_new, weighted
from overnight_assets.resources.http import Fetched, FetchState, fetch_all, is_file
from overnight_assets.urls import display_url

if TYPE_CHECKING:
    from overnight_assets.config import FetchConfig, ReadingConfig, Source
    from overnight_assets.partitions import Night
    from overnight_assets.resources.cortex import Cortex

_MAX_ERROR_CHARS = 300


class SourceOutcome(TypedDict):
    """One source's night, as the digest's `sources` metadata shows it."""

    kind: str
    url: str  # without credentials
    outcome: FetchState  # its fetch's, or failed when the body could not be parsed
    seconds: float
    error: NotRequired[str]
    parsed: NotRequired[int]  # items in the body
    notes: NotRequired[list[str]]  # what was skipped or guessed while parsing
    in_window: NotRequired[int]  # added once the window's items are read
    new: NotRequired[int]  # new and picked: added by Selection.record_in
    picked: NotRequired[int]


@dataclass
class SourcesRead:
    items: list[Item]  # in the partition's window, every answering source
    outcomes: dict[str, SourceOutcome]  # per source name
    fetch_seconds: float

    @property
    def answered(self) -> int:
        return sum(1 for o in self.outcomes.values() if o["outcome"] != "failed")


@dataclass
class Selection:
    picks: list[Pick]
    new_by_source: dict[str, int]  # items in the window that neither repeat another source nor Cortex
    candidates: int  # how many went to the LLM
    dropped: dict[str, int] = field(default_factory=dict)
    matched: int = 0  # new items that match an interest keyword
    by_interest: bool = True  # interest keywords are configured (without them everything new competes)

    @property
    def new(self) -> int:
        return sum(self.new_by_source.values())

    def record_in(self, outcomes: dict[str, SourceOutcome]) -> None:
        """Add each source's new and picked counts to its outcome."""
        picked = Counter(pick.scored.item.source for pick in self.picks)
        for name, outcome in outcomes.items():
            outcome["new"], outcome["picked"] = self.new_by_source.get(name, 0), picked[name]


def read_sources(sources: list[Source], settings: FetchConfig, cortex: Cortex, night: Night) -> SourcesRead:
    http_urls = [s.url for s in sources if not is_file(s.url)]
    known = store.load_validators(cortex, http_urls)
    started = time.perf_counter()
    fetched = fetch_all([s.url for s in sources], known, settings)
    fetch_seconds = time.perf_counter() - started
    outcomes, parsed = {}, {}
    for source in sources:
        outcomes[source.name], items = _parse_one(source, fetched[source.url], night.tz)
        if items is not None:
            parsed[source.url] = (fetched[source.url].validators, items)
    store.save_parsed(cortex, parsed, night.partition_key)
    answering = {s.url: s.name for s in sources if outcomes[s.name]["outcome"] != "failed"}
    items = store.items_in_window(cortex, answering, night)
    for name, outcome in outcomes.items():
        outcome["in_window"] = sum(1 for item in items if item.source == name)
    return SourcesRead(items, outcomes, round(fetch_seconds, 3))


def _parse_one(source: Source, fetched: Fetched, tz: ZoneInfo) -> tuple[SourceOutcome, list[Item] | None]:
    outcome: SourceOutcome = {
        "kind": source.kind,
        "url": display_url(source.url),
        "outcome": fetched.outcome,
        "seconds": fetched.seconds,
    }
    if fetched.outcome != "ok":
        return {**outcome, **({"error": fetched.error} if fetched.error else {})}, None
    try:
        parsed = parse_source(source.kind, source.name, fetched.body, fetched.content_type, tz)
    except Exception as error:  # noqa: BLE001 - one unreadable source must not sink the digest
        return {**outcome, "outcome": "failed", "error": f"{error}"[:_MAX_ERROR_CHARS]}, None
    return {**outcome, "parsed": len(parsed.items), **({"notes": parsed.notes} if parsed.notes else {})}, parsed.items


def select(
    items: list[Item],
    kind: str,
    keep: int,
    reading: ReadingConfig,
    cortex: Cortex,
    partition_key: str,
    llm: Asker,
    also_known: set[str] = frozenset(),
) -> Selection:
    """Dedup against each other and Cortex, rank, and have the LLM judge the top candidates; keep at
    most `keep` of those worth listing (judge.py: precision before filling the digest)."""
    weights = {source.name: source.weight for source in reading.sources} | store.source_weights(cortex)
    known_urls, known_titles = store.known_elsewhere(cortex, items, kind, partition_key)
    interests = weighted(reading.interests, store.interest_weights(cortex))
    ranked, dropped = rank_new(items, Scorer(interests, weights), known_urls | set(also_known), known_titles)
    picks = judge_and_pick(ranked, reading.interests, keep, llm)
    new_by_source = Counter(scored.item.source for scored in ranked)
    matched = sum(1 for scored in ranked if scored.matched)
    candidates = min(len(ranked), candidate_limit(keep))
    return Selection(picks, dict(new_by_source), candidates, dropped, matched, has_interests(reading.interests))
