"""Consolidation on a memory the test writes (plain SQL, schema 0009): what is kept, merged, compressed,
undone, and a consolidation SIGKILLed inside its transaction."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from overnight_assets.memory.consolidation import Settings, compressed_body, consolidate, undo_merge
from overnight_assets.resources.cortex import Cortex
from overnight_assets_tests.testkit import REPO
from overnight_assets_tests.testkit.memories import add_edge, add_memory, checksum, fill_memory

AS_OF = datetime(2026, 6, 1, 3, tzinfo=UTC)
OLD = 120  # days: past retention (90)
SETTINGS = Settings()


@pytest.fixture
def cortex(tmp_path) -> Cortex:
    return Cortex(tmp_path / "cortex.duckdb")


def live(cortex: Cortex) -> set[int]:
    with cortex.connect(read_only=True) as db:
        return {row[0] for row in db.execute("SELECT id FROM memories WHERE valid_to IS NULL").fetchall()}


def test_prunes_weak_old_memories_and_keeps_everything_referenced(cortex):
    with cortex.connect() as db:
        junk = add_memory(db, "Junk nobody needs", AS_OF, OLD, weight=0.01)
        weakly_linked = add_memory(db, "Linked only by a cold edge", AS_OF, OLD, weight=0.01)
        linked = add_memory(db, "Linked by a live memory", AS_OF, OLD, weight=0.01)
        briefed = add_memory(db, "In a recent briefing", AS_OF, OLD, weight=0.01)
        pending = add_memory(db, "In a briefing still waiting in the outbox", AS_OF, OLD, weight=0.01)
        signalled = add_memory(db, "Named by a signal not applied yet", AS_OF, OLD, weight=0.01)
        heavy = add_memory(db, "Old but weighty", AS_OF, OLD, weight=0.9)
        young = add_memory(db, "Weak but young", AS_OF, 10, weight=0.01)
        anchor = add_memory(db, "A live memory", AS_OF, 1)
        add_edge(db, anchor, linked, weight=0.5)
        add_edge(db, anchor, weakly_linked, weight=0.05)  # below memory.prune_below: no longer counts
        add_edge(db, junk, weakly_linked, weight=0.9)  # both ends pruned together
        db.execute(
            "INSERT INTO briefing_items (partition_key, ref, memory_id, title, source, message_ts) VALUES ('2026-05-20', 'R1', ?, 't', 's', '1.1')",
            [briefed],
        )
        db.execute(
            "INSERT INTO briefing_items (partition_key, ref, memory_id, title, source, message_ts) VALUES ('2025-12-01', 'R2', ?, 't', 's', NULL)",
            [pending],
        )
        db.execute(
            "INSERT INTO deliveries (partition_key, text, blocks, pending) VALUES ('2025-12-01', 'x', '[]', TRUE)"
        )
        db.execute(
            "INSERT INTO signals (kind, polarity, memory_id, subject, dedupe_key) VALUES ('reaction', 1, ?, 's', 'k')",
            [signalled],
        )
    outcome = consolidate(cortex, SETTINGS, AS_OF)
    assert outcome.pruned == 2
    assert live(cortex) == {linked, briefed, pending, signalled, heavy, young, anchor}
    with cortex.connect(read_only=True) as db:  # ended, not deleted: history stays explainable
        rows = db.execute(
            "SELECT id, valid_to, superseded_by FROM memories WHERE id IN (?, ?) ORDER BY id", [junk, weakly_linked]
        ).fetchall()
    assert rows == [(junk, AS_OF, None), (weakly_linked, AS_OF, None)]
    assert consolidate(cortex, SETTINGS, AS_OF).pruned == 0  # a rerun of the night changes nothing more


def test_merges_duplicates_into_a_survivor_that_lists_them_and_takes_their_edges(cortex):
    with cortex.connect() as db:
        survivor = add_memory(
            db,
            "Ollama adds support for structured outputs",
            AS_OF,
            3,
            weight=0.8,
            url="https://ollama.com/blog/structured-outputs",
        )
        same_url = add_memory(
            db, "Structured outputs", AS_OF, 2, weight=0.5, url="https://ollama.com/blog/structured-outputs"
        )
        same_story = add_memory(
            db,
            "Ollama now supports structured outputs",
            AS_OF,
            1,
            weight=0.5,
            url="https://news.ycombinator.com/item?id=42381234",
        )
        other = add_memory(db, "Incident report SR-2023-052: storage array failover", AS_OF, 2)
        next_one = add_memory(db, "Incident report SR-2023-053: storage array failover", AS_OF, 1)
        reader = add_memory(db, "A note that mentions it", AS_OF, 1)
        add_edge(db, reader, same_story, "mentioned_with", 0.7)
        add_edge(db, same_url, other, "same_topic", 0.6)
        add_edge(db, survivor, other, "same_topic", 0.9)  # the survivor's own edge wins a conflict
        add_edge(db, same_url, same_story, "same_topic", 0.4)  # inside the group: no loop on the survivor
    outcome = consolidate(cortex, SETTINGS, AS_OF)
    assert outcome.merged == 2
    assert live(cortex) == {survivor, other, next_one, reader}
    with cortex.connect(read_only=True) as db:
        merged_from = db.execute("SELECT merged_from FROM memories WHERE id = ?", [survivor]).fetchone()[0]
        superseded = db.execute(
            "SELECT id, superseded_by FROM memories WHERE superseded_by IS NOT NULL ORDER BY id"
        ).fetchall()
        edges = set(db.execute("SELECT src, dst, kind, weight FROM edges").fetchall())
    assert json.loads(merged_from) == [same_url, same_story]
    assert superseded == [(same_url, survivor), (same_story, survivor)]
    assert edges == {(reader, survivor, "mentioned_with", 0.7), (survivor, other, "same_topic", 0.9)}


def test_undo_restores_the_merged_memories_and_their_edges_exactly(cortex):
    with cortex.connect() as db:
        survivor = add_memory(db, "DuckDB 1.2 released with faster joins", AS_OF, 3, weight=0.9)
        twin = add_memory(db, "DuckDB 1.2 released, with faster joins", AS_OF, 1, weight=0.5)
        reader = add_memory(db, "A reader", AS_OF, 1)
        add_edge(db, reader, twin, "derived_from", 0.6)
        add_edge(db, twin, survivor, "same_topic", 0.3)
    before = checksum(cortex)
    assert consolidate(cortex, SETTINGS, AS_OF).merged == 1
    assert live(cortex) == {survivor, reader}
    assert undo_merge(cortex, survivor) == [twin]
    after = checksum(cortex)
    for table in ("memories", "edges"):
        assert after[table] == before[table], table
    assert after["moved_edges"][0] == 0


def test_an_undone_merge_stays_undone_on_the_next_nights(cortex):
    with cortex.connect() as db:
        survivor = add_memory(db, "DuckDB 1.2 released with faster joins", AS_OF, 3, weight=0.9)
        twin = add_memory(db, "DuckDB 1.2 released, with faster joins", AS_OF, 1, weight=0.5)
        third = add_memory(db, "DuckDB 1.2 released - with faster joins", AS_OF, 1, weight=0.4)
    assert consolidate(cortex, SETTINGS, AS_OF).merged == 2
    assert undo_merge(cortex, survivor, [twin]) == [twin]
    for night in (1, 2):
        assert consolidate(cortex, SETTINGS, AS_OF + timedelta(days=night)).merged == 0
    assert live(cortex) == {survivor, twin}  # the third stays merged: only the undone pair is kept apart
    with cortex.connect(read_only=True) as db:
        assert db.execute("SELECT superseded_by FROM memories WHERE id = ?", [third]).fetchone() == (survivor,)


def test_compresses_old_long_memories_into_a_short_one_that_supersedes_the_original(cortex):
    body = (
        "DuckDB 1.2 joins got faster. The release notes list many changes. "
        + "Filler words about the release. " * 60
        + "Throughput rose to 1.8 GB/s on TPC-H SF100, latency fell 35%."
    )
    with cortex.connect() as db:
        original = add_memory(db, "DuckDB 1.2 released", AS_OF, 45, body=body)
        recent = add_memory(db, "A long but recent one", AS_OF, 5, body=body)
        add_edge(db, recent, original, "derived_from", 0.8)
    outcome = consolidate(cortex, SETTINGS, AS_OF, run_id="run-9")
    assert outcome.compressed == 1
    with cortex.connect(read_only=True) as db:
        short_id, short, asset, run_id, merged_from = db.execute(
            "SELECT id, body, asset, run_id, merged_from FROM memories WHERE valid_to IS NULL AND id <> ?", [recent]
        ).fetchone()
        kept_body, superseded_by = db.execute(
            "SELECT body, superseded_by FROM memories WHERE id = ?", [original]
        ).fetchone()
        edges = db.execute("SELECT src, dst FROM edges").fetchall()
    assert short == compressed_body(body) and len(short) < 400
    assert short.startswith("DuckDB 1.2 joins got faster.") and "1.8" in short and "35%" in short
    assert (asset, run_id, json.loads(merged_from)) == ("consolidation", "run-9", [original])
    assert (kept_body, superseded_by) == (body, short_id)  # the full account stays, as history
    assert edges == [(recent, short_id)]
    assert undo_merge(cortex, short_id) == [original]
    assert live(cortex) == {original, recent}
    assert undo_merge(cortex, short_id) == []  # undone once: nothing more to restore
    later = consolidate(cortex, SETTINGS, AS_OF + timedelta(days=1))  # the owner's undo stands
    assert (later.compressed, live(cortex)) == (0, {original, recent})


def test_forgets_only_what_ended_past_the_horizon(cortex):
    with cortex.connect() as db:
        ended_long_ago = add_memory(db, "Pruned long ago", AS_OF, 400, weight=0.01)
        ended_lately = add_memory(db, "Pruned lately", AS_OF, 400, weight=0.01)
        db.execute("UPDATE memories SET valid_to = ? - INTERVAL 200 DAY WHERE id = ?", [AS_OF, ended_long_ago])
        db.execute("UPDATE memories SET valid_to = ? - INTERVAL 20 DAY WHERE id = ?", [AS_OF, ended_lately])
    assert consolidate(cortex, SETTINGS, AS_OF).forgotten == 1
    with cortex.connect(read_only=True) as db:
        assert db.execute("SELECT id FROM memories").fetchall() == [(ended_lately,)]


KILLED_CHILD = """
import sys
from datetime import datetime
from pathlib import Path
from overnight_assets.memory.consolidation import Settings, consolidate
from overnight_assets.resources.cortex import Cortex

cortex_path, marker, as_of = sys.argv[1], Path(sys.argv[2]), datetime.fromisoformat(sys.argv[3])

def inside(phase):
    if phase == "merged":  # pruned and merged, not committed: say so, then wait to be killed
        marker.write_text(phase)
        sys.stdin.read()

consolidate(Cortex(cortex_path), Settings(), as_of, on_phase=inside)
"""


def test_a_consolidation_killed_inside_its_transaction_leaves_the_memory_as_it_was(tmp_path, cortex):
    with cortex.connect() as db:
        fill_memory(db, 60_000, 180_000, AS_OF)
    before = checksum(cortex)
    marker = tmp_path / "inside-the-transaction"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD, str(cortex.path), str(marker), AS_OF.isoformat()],
        stdin=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline = time.monotonic() + 240
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # polling for the child's marker
    assert marker.read_text() == "merged", "the child never reached its transaction's middle"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    assert checksum(cortex) == before
    outcome = consolidate(cortex, SETTINGS, AS_OF)  # consistent: the same night consolidates as if never begun
    assert outcome.pruned > 0 and outcome.merged > 0 and outcome.compressed > 0
