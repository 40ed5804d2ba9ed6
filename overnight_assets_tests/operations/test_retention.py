"""Retention's rules: which runs may go, which ticks, and what leaves Cortex (a real DuckDB file,
written by the real reading store and LLM cache, then aged by moving its timestamps back)."""

from datetime import UTC, datetime, timedelta

import pytest

from overnight_assets.config import RetentionConfig
from overnight_assets.operations.retention import Cutoffs, Removed, prune_cortex, removable_runs, tick_purges
from overnight_assets.partitions import Night
from overnight_assets.reading.items import Item
from overnight_assets.reading.store import items_in_window, save_parsed
from overnight_assets.resources.cortex import Cortex
from overnight_assets.resources.dagster_resources import CortexResource, LLMResource
from overnight_assets.resources.http import Validators
from overnight_assets.triage.review import TriageReview

NOW = datetime.now(UTC)
CUTOFFS = Cutoffs.of(RetentionConfig(), NOW)  # caches 30 days, feed items 90 days
LIVE, QUIET = "https://feeds.example.org/live.xml", "https://feeds.example.org/quiet.xml"


def test_protected_runs_and_roots_of_kept_re_executions_stay():
    candidates = ["superseded", "latest", "root of a kept retry", "root of a deleted retry", "deleted retry"]
    roots = {"kept retry": "root of a kept retry", "deleted retry": "root of a deleted retry"}
    assert removable_runs(candidates, {"latest", "recent"}, roots) == [
        "deleted retry",
        "root of a deleted retry",
        "superseded",
    ]
    assert removable_runs(candidates, set(candidates), roots) == []


def test_ticks_go_per_status_as_the_daemon_purges_them():
    purges = tick_purges({"STARTED": -1, "SKIPPED": 7, "SUCCESS": 30, "FAILURE": 30}, NOW)
    assert purges == [(["SKIPPED"], NOW - timedelta(days=7)), (["FAILURE", "SUCCESS"], NOW - timedelta(days=30))]
    assert tick_purges({"SKIPPED": -1, "SUCCESS": 0}, NOW) == []  # Dagster's default for schedules: keep all


def test_the_cutoffs_follow_the_config():
    cutoffs = Cutoffs.of(RetentionConfig(runs_days=10, cache_days=3, feed_items_days=45), NOW)
    assert (NOW - cutoffs.runs, NOW - cutoffs.cache, NOW - cutoffs.feed_items) == (
        timedelta(days=10),
        timedelta(days=3),
        timedelta(days=45),
    )


def age(cortex: Cortex, days: int, table: str, columns: list[str], where: str = "TRUE") -> None:
    """Move rows back in time, as if written `days` ago."""
    moves = ", ".join(f"{column} = {column} - INTERVAL {days} DAY" for column in columns)
    with cortex.connect() as db:
        db.execute(f"UPDATE {table} SET {moves} WHERE {where}")


def item(url: str) -> Item:
    return Item("Example", url, f"Item {url[-1]}")  # undated: it belongs to the night that first read it


@pytest.fixture
def cortex(tmp_path) -> Cortex:
    return Cortex(tmp_path / "cortex.duckdb")


def test_cached_answers_go_when_unused_not_when_old(cortex, ollama_server):
    def ask(prompt: str):
        resource = LLMResource(
            host=ollama_server.url, models={"triage": "qwen3.5"}, cortex=CortexResource(path=str(cortex.path))
        )
        return resource.session().ask("triage", "system", prompt, TriageReview)

    ask("asked once, long ago")
    ask("asked long ago, and again this week")
    age(cortex, 40, "llm_cache", ["created_at", "used_at"])
    ask("asked long ago, and again this week")  # answered from the cache: used now
    ask("asked this week")
    assert len(ollama_server.chats) == 3

    assert prune_cortex(cortex, CUTOFFS)["llm_cache_deleted"] == 1
    ask("asked long ago, and again this week")
    ask("asked this week")
    assert len(ollama_server.chats) == 3  # both still answered from the cache
    ask("asked once, long ago")
    assert len(ollama_server.chats) == 4  # asked again: it was removed


def test_validators_go_when_stale_and_feed_items_once_they_left_their_feed(cortex):
    # 100 days ago both feeds were parsed; since then the quiet feed answered 304 every night
    save_parsed(cortex, {LIVE: (Validators('"1"', None), [item("https://a/1"), item("https://a/2")])}, "2026-08-01")
    save_parsed(cortex, {QUIET: (Validators('"q"', None), [item("https://q/1")])}, "2026-08-01")
    age(cortex, 100, "http_cache", ["checked_at"])
    age(cortex, 100, "feed_items", ["first_seen_at", "last_seen_at"])
    # this week the live feed no longer has item 1; it still has item 2, and a new one
    save_parsed(cortex, {LIVE: (Validators('"3"', None), [item("https://a/2"), item("https://a/3")])}, "2026-11-20")

    removed = prune_cortex(cortex, CUTOFFS)

    assert removed == {"llm_cache_deleted": 0, "http_cache_deleted": 1, "feed_items_deleted": 1}
    with cortex.connect() as db:
        assert db.execute("SELECT url FROM http_cache").fetchall() == [(LIVE,)]
        kept = db.execute("SELECT url, first_seen_partition FROM feed_items ORDER BY url").fetchall()
    # item 2 stays, first read on 08-01; the quiet feed's item stays however old: its feed still has it
    assert kept == [("https://a/2", "2026-08-01"), ("https://a/3", "2026-11-20"), ("https://q/1", "2026-08-01")]
    assert prune_cortex(cortex, CUTOFFS) == dict.fromkeys(removed, 0)  # a second pass removes nothing

    # its validators gone, the quiet feed is read in full tonight: its item is not taken for tonight's
    save_parsed(cortex, {QUIET: (Validators('"q"', None), [item("https://q/1")])}, "2026-11-23")
    tonight = Night("2026-11-23", datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC), "UTC")
    assert items_in_window(cortex, {QUIET: "Example"}, tonight) == []


def test_nothing_is_created_where_no_night_ran(tmp_path):
    cortex = Cortex(tmp_path / "home" / "cortex.duckdb")
    assert prune_cortex(cortex, CUTOFFS) == {"llm_cache_deleted": 0, "http_cache_deleted": 0, "feed_items_deleted": 0}
    assert not cortex.path.exists()


def test_the_report_counts_per_kind_and_says_what_was_skipped():
    removed = Removed()
    removed.add({"runs_deleted": 2, "old_runs_kept": 1})
    removed.add({"runs_deleted": 1})
    assert removed.summary() == "runs deleted: 3; old runs kept: 1"
    removed.skipped["cortex"] = "Cortex at /x stayed locked by PID 7 (duckdb) for 900 s"
    assert removed.summary().endswith("; cortex skipped: Cortex at /x stayed locked by PID 7 (duckdb) for 900 s")
    assert Removed().summary() == "nothing to remove"
