"""Quiet nights are allowed to be quiet: precision before filling `digest_size`."""

from datetime import UTC, datetime
from typing import get_args

from overnight_assets.config import Interest
from overnight_assets.reading.items import Item
from overnight_assets.reading.judge import RELEVANT_WITHOUT_KEYWORD, Judgement, judge_and_pick
from overnight_assets.reading.reading_list import Selection
from overnight_assets.reading.score import Scorer, rank_new
from overnight_assets.reading.sections import NO_INTERESTS, digest_section, sources_line
from overnight_assets.resources.http import FetchState
from overnight_assets.status import Status

INTERESTS = [Interest(topic="local LLM", weight=1.0, keywords=["ollama", "gguf"])]
TITLES = ["Ollama 0.9 released", "Celebrity gossip", "Football results", "A new inference server", "Weather tomorrow"]


class Model:
    """A judge answering the same relevance for every item; None: unavailable."""

    def __init__(self, relevance: int | None):
        self.relevance, self.asked = relevance, 0

    def ask(self, role, system, prompt, schema):
        self.asked += 1
        return (
            None
            if self.relevance is None
            else Judgement(relevance=self.relevance, summary="One line.", why="On topic.")
        )


def ranked(interests=INTERESTS):
    items = [
        Item("Feed", f"https://news.example/{n}", title, published=datetime(2026, 11, 20, 10 + n, tzinfo=UTC))
        for n, title in enumerate(TITLES)
    ]
    return rank_new(items, Scorer(interests, {}), set(), set())[0]


def titles(picks):
    return [pick.scored.item.title for pick in picks]


def test_without_the_llm_only_items_on_an_interest_are_listed_never_a_score_of_zero():
    assert titles(judge_and_pick(ranked(), INTERESTS, 4, Model(None))) == ["Ollama 0.9 released"]


def test_an_item_the_llm_calls_barely_relevant_is_listed_only_when_it_matches_an_interest():
    assert titles(judge_and_pick(ranked(), INTERESTS, 4, Model(1))) == ["Ollama 0.9 released"]
    assert titles(judge_and_pick(ranked(), INTERESTS, 4, Model(0))) == []  # the model may still drop a keyword hit


def test_an_item_the_llm_judged_clearly_relevant_is_listed_without_a_keyword():
    picks = judge_and_pick(ranked(), INTERESTS, 10, Model(RELEVANT_WITHOUT_KEYWORD))
    assert titles(picks) == TITLES[:1] + sorted(TITLES[1:], key=TITLES.index, reverse=True)  # score, then the newer
    assert picks[1].why == "On topic"  # in words: no score, no "no keyword matched" excuse


def test_with_no_interests_configured_everything_new_competes_as_before_and_the_section_says_so():
    picks = judge_and_pick(ranked([]), [], 3, Model(None))
    assert titles(picks) == ["Weather tomorrow", "A new inference server", "Football results"]  # newest first
    assert picks[0].why == "no interests configured: ranked by source weight and recency"
    selection = Selection(picks, {"Feed": 5}, 5, matched=0, by_interest=False)
    section = digest_section(selection, {"Feed": {"outcome": "ok"}}, "unavailable")
    assert section.markdown.splitlines()[:3] == [
        "1 source: 1 answered.",
        "3 worth reading out of 5 new items.",
        NO_INTERESTS,
    ]


def test_a_night_with_nothing_on_an_interest_says_nothing_worth_reading():
    selection = Selection(judge_and_pick(ranked(), INTERESTS, 4, Model(None))[:0], {"Feed": 5}, 5, matched=0)
    section = digest_section(selection, {"Feed": {"outcome": "ok"}}, "ok")
    assert (section.status, section.items) == (Status.GREEN, [])
    assert section.markdown == "1 source: 1 answered.\nNothing worth reading tonight (5 new items)."


def test_the_first_line_counts_every_state_a_source_can_end_in():
    outcomes = {state: {"outcome": state, "error": "why"} for state in get_args(FetchState)}
    assert (
        sources_line(outcomes, "source", "sources") == "3 sources: 1 answered, 1 not modified, 1 failed (failed: why)."
    )
