"""The graph API over Cortex: provenance, edges, have-we-seen, related, what mattered, signals, logged weights."""

import pytest

from overnight_assets.resources.cortex import Cortex, memory_hash
from overnight_assets.resources.memory_graph import (
    Edge,
    Provenance,
    Signal,
    WeightChange,
    anchors,
    change_weight,
    change_weight_in,
    link,
    mattered_lately,
    record_signals,
    related,
    remember,
    seen,
)

NIGHT = Provenance("article_digest", "2026-11-20", "run-1")


def article(n: int, **more) -> dict:
    url = f"https://news.example/{n}"
    return {
        "kind": "article",
        "source": "HN",
        "url": url,
        "title": f"Story {n}",
        "content_hash": memory_hash("article", url),
        **more,
    }


@pytest.fixture
def cortex(tmp_path):
    return Cortex(tmp_path / "cortex.duckdb")


def test_remember_keeps_provenance_and_the_canonical_url_and_gives_every_id(cortex):
    first = remember(cortex, [article(1, url="https://News.example/1/?utm_source=x#c")], NIGHT)
    again = remember(cortex, [article(1), article(2)], Provenance("arxiv_finds", "2026-11-21", "run-2"))
    assert first.new == 1 and again.new == 1
    assert (
        again.ids[memory_hash("article", "https://news.example/1")]
        == first.ids[memory_hash("article", "https://news.example/1")]
    )
    with cortex.connect() as db:
        rows = db.execute(
            "SELECT title, asset, partition_key, run_id, canonical_url, valid_from IS NOT NULL, valid_to FROM memories ORDER BY id"
        ).fetchall()
    # a memory already known keeps the provenance of the asset that kept it first
    assert rows == [
        ("Story 1", "article_digest", "2026-11-20", "run-1", "https://news.example/1", True, None),
        ("Story 2", "arxiv_finds", "2026-11-21", "run-2", "https://news.example/2", True, None),
    ]


def test_cortex_remember_still_counts_the_new_ones(cortex):
    assert cortex.remember([article(1), article(1), article(2)], "2026-11-20") == 2
    assert cortex.remember([article(2)], "2026-11-20") == 0


def test_seen_answers_by_canonical_url_or_content_hash_live_or_not(cortex):
    ids = remember(cortex, [article(1), article(2)], NIGHT).ids
    with cortex.connect() as db:  # superseded: no longer live, but it was seen
        db.execute(
            "UPDATE memories SET valid_to = now() WHERE id = ?", [ids[memory_hash("article", "https://news.example/2")]]
        )
    asked = [
        "https://news.example/1?utm_campaign=feed#comments",  # canonical form is known
        memory_hash("article", "https://news.example/2"),
        "https://news.example/3",
        "not a url",
    ]
    assert seen(cortex, asked) == {asked[0], asked[1]}
    assert seen(cortex, []) == set()


def test_link_keeps_a_learned_weight_and_related_lists_live_neighbours_heaviest_first(cortex):
    items = remember(cortex, [article(n) for n in (1, 2, 3)], NIGHT).ids
    one, two, three = (items[memory_hash("article", f"https://news.example/{n}")] for n in (1, 2, 3))
    topic = anchors(cortex, "topic", ["local LLM inference"], NIGHT)["local LLM inference"]
    assert (
        link(
            cortex,
            [
                Edge(one, topic, "same_topic"),
                Edge(two, topic, "same_topic", 0.5),
                Edge(three, topic, "same_topic", 2.0),
            ],
        )
        == 3
    )
    change_weight(cortex, "edge", f"{two}>{topic}:same_topic", 1.5, "test", changed_by="cerebellum")
    assert link(cortex, [Edge(two, topic, "same_topic", 0.1)]) == 0  # already there: its weight stays
    with cortex.connect() as db:
        db.execute("UPDATE memories SET valid_to = now() WHERE id = ?", [three])
    neighbours = related(cortex, topic)
    assert [(n.id, n.edge_weight) for n in neighbours] == [(two, 1.5), (one, 1.0)]
    assert related(cortex, one)[0].title == "local LLM inference"


def test_mattered_lately_puts_what_got_good_signals_first_and_leaves_anchors_out(cortex):
    known = remember(cortex, [article(1), article(2, weight=3.0), article(3)], NIGHT).ids
    ids = [known[memory_hash("article", f"https://news.example/{n}")] for n in (1, 2, 3)]
    anchors(cortex, "topic", ["homelab"], NIGHT)
    record_signals(cortex, [Signal("feedback", 1, "R3", "feedback:R3", memory_id=ids[2])])
    lately = mattered_lately(cortex, days=7, limit=10)
    assert [row["id"] for row in lately] == [ids[2], ids[1], ids[0]]
    assert lately[0]["good"] == 1 and {row["kind"] for row in lately} == {"article"}


def test_signals_are_recorded_once_by_their_dedupe_key(cortex):
    signal = Signal("reaction", 1, "2026-11-20 R1", "reaction:C1:1.0:+1:U1:R1", memory_id=7, partition_key="2026-11-20")
    assert record_signals(cortex, [signal, signal]) == 1
    assert record_signals(cortex, [signal]) == 0
    with cortex.connect() as db:
        assert db.execute("SELECT kind, polarity, memory_id, applied_at FROM signals").fetchall() == [
            ("reaction", 1, 7, None)
        ]


def test_every_weight_change_is_logged_with_its_reason_in_the_same_transaction(cortex):
    one = next(iter(remember(cortex, [article(1)], NIGHT).ids.values()))
    assert change_weight(cortex, "memory", str(one), 1.1, "feedback good on R1", changed_by="cerebellum", signal_id=4,
                         partition_key="2026-11-20") == 1.0  # fmt: skip
    assert change_weight(cortex, "source", "HN", 0.8, "3 bad signals this week", changed_by="basal_ganglia") is None
    with cortex.connect() as db:
        db.execute("BEGIN")
        change_weight_in(db, WeightChange("memory", str(one), 5.0, "rolled back"), "cerebellum", None)
        db.execute("ROLLBACK")  # neither the weight nor its log row stays
        weight = db.execute("SELECT weight, reinforced_at IS NOT NULL FROM memories WHERE id = ?", [one]).fetchone()
        log = db.execute(
            "SELECT target_kind, target, old_weight, new_weight, reason, signal_id FROM weight_log ORDER BY id"
        ).fetchall()
        source = db.execute("SELECT weight FROM source_weights WHERE source = 'HN'").fetchone()
    assert weight == (1.1, True) and source == (0.8,)
    assert log == [
        ("memory", str(one), 1.0, 1.1, "feedback good on R1", 4),
        ("source", "HN", None, 0.8, "3 bad signals this week", None),
    ]
    with pytest.raises(LookupError):
        change_weight(cortex, "edge", "1>2:same_topic", 1.0, "no such edge", changed_by="cerebellum")
    with pytest.raises(ValueError):
        change_weight(cortex, "memory", str(one), -1.0, "negative", changed_by="cerebellum")
