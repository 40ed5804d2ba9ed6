"""Scoring and dedup: deterministic, interest-weighted, each story once."""

from datetime import UTC, datetime

from overnight_assets.config import Interest
from overnight_assets.reading.items import Item
from overnight_assets.reading.score import Scorer, rank_new

INTERESTS = [
    Interest(topic="local LLM", weight=1.0, keywords=["ollama", "gguf", "llama.cpp"]),
    Interest(topic="homelab", weight=0.5, keywords=["zfs"]),
]


def item(title, url, source="A", summary="", hour=10):
    return Item(source, url, title, summary, datetime(2026, 11, 20, hour, tzinfo=UTC))


def test_keywords_in_the_title_count_double_and_source_weight_multiplies():
    scorer = Scorer(INTERESTS, {"A": 1.0, "B": 2.0})
    in_title = scorer.score(item("Ollama on ZFS", "u1"))
    in_summary = scorer.score(item("Notes", "u2", summary="ollama and zfs"))
    weighted = scorer.score(item("Notes", "u3", source="B", summary="running LLAMA.CPP"))
    assert in_title.score == 2 * 1.0 + 2 * 0.5
    assert in_summary.score == 1.0 + 0.5
    assert weighted.score == 2.0 and weighted.matched == ("llama.cpp (local LLM)",)
    assert in_title.why() == "matches ollama (local LLM); zfs (homelab)"
    assert scorer.score(item("Nothing here", "u4")).score == 0


def test_keywords_match_whole_words_only():
    scorer = Scorer(INTERESTS, {})
    assert scorer.score(item("Ollamas and gguflike things", "u")).score == 0


def test_the_same_story_from_two_sources_is_kept_once_in_its_best_ranked_copy():
    items = [
        item("Ollama 1.0 released", "https://a.example/post", source="A"),
        item("Ollama 1.0 released!", "https://mirror.example/other", source="B"),  # same title, other URL
        item("Different", "https://a.example/post", source="B", summary="gguf gguf"),  # same URL, scores higher
        item("Unrelated", "https://c.example/x", source="A"),
    ]
    ranked, dropped = rank_new(items, Scorer(INTERESTS, {"A": 1.0, "B": 1.0}), set(), set())
    assert [(s.item.title, s.item.source) for s in ranked] == [("Ollama 1.0 released", "A"), ("Unrelated", "A")]
    assert dropped == {"duplicate": 2, "already_known": 0}


def test_what_cortex_already_knows_is_dropped_by_url_or_title():
    items = [
        item("Known by URL", "https://k.example/1"),
        item("A title Cortex remembers", "https://k.example/2"),
        item("Fresh", "https://k.example/3"),
    ]
    ranked, dropped = rank_new(items, Scorer(INTERESTS, {}), {"https://k.example/1"}, {"atitlecortexremembers"})
    assert [s.item.title for s in ranked] == ["Fresh"]
    assert dropped == {"duplicate": 0, "already_known": 2}


def test_ranking_is_total_and_stable_whatever_the_input_order():
    items = [item(f"Story {n}", f"https://s.example/{n}", hour=n % 5) for n in range(20)]
    scorer = Scorer(INTERESTS, {})
    first, _ = rank_new(items, scorer, set(), set())
    second, _ = rank_new(list(reversed(items)), scorer, set(), set())
    assert [s.item.url for s in first] == [s.item.url for s in second]
    assert first[0].item.published.hour == 4  # equal scores: the newer first
