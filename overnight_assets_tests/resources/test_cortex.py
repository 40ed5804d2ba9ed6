"""Cortex: schema migrated by code, and a file another process holds is waited for, not failed."""

import threading
import time

import pytest

from overnight_assets.resources import cortex as cortex_module
from overnight_assets.resources.cortex import MIGRATIONS, Cortex, CortexLockedError
from overnight_assets_tests.testkit.cortex import hold_cortex, release_cortex


def test_schema_is_created_once_and_versioned(tmp_path):
    cortex = Cortex(tmp_path / "cortex.duckdb")
    with cortex.connect() as db:
        applied = [row[0] for row in db.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]
        assert applied == sorted(MIGRATIONS)
        columns = {row[0] for row in db.execute("DESCRIBE memories").fetchall()}
    assert {"id", "kind", "source", "url", "title", "body", "content_hash", "created_at", "weight"} <= columns


def test_remember_never_duplicates_a_memory(tmp_path):
    cortex = Cortex(tmp_path / "cortex.duckdb")
    row = {"kind": "article", "source": "hn", "url": "https://example.org/a", "title": "A"}
    assert cortex.remember([row, row]) == 1
    assert cortex.remember([row]) == 0


@pytest.fixture
def held_cortex(tmp_path):
    path = tmp_path / "cortex.duckdb"
    Cortex(path).connect().__enter__().close()  # migrated before the other process takes it
    holder = hold_cortex(path, read_only=False)
    yield path, holder
    holder.kill()
    holder.wait()


def test_a_locked_file_is_waited_for(held_cortex):
    path, holder = held_cortex
    result = {}

    def write():
        with Cortex(path).connect() as db:
            result["rows"] = db.execute("SELECT count(*) FROM memories").fetchone()[0]

    writer = threading.Thread(target=write)
    writer.start()
    holder.stdin.write("\n")
    holder.stdin.flush()
    writer.join(timeout=60)
    assert result == {"rows": 0}


def test_a_lock_held_too_long_names_the_file(held_cortex):
    path, _ = held_cortex
    with (
        pytest.raises(CortexLockedError, match=f"Cortex at {path} stayed locked"),
        Cortex(path, lock_wait_s=0.2).connect(),
    ):
        pass


def test_a_file_from_an_older_release_is_migrated_forward(tmp_path, monkeypatch):
    path = tmp_path / "cortex.duckdb"
    with Cortex(path).connect() as db:
        db.execute("DROP TABLE commit_reviews")
        db.execute("DELETE FROM schema_migrations WHERE name = '0003_code_review'")
    monkeypatch.setattr(cortex_module, "_migrated", set())  # a new process
    with Cortex(path).connect() as db:
        assert db.execute("SELECT count(*) FROM commit_reviews").fetchone() == (0,)


def test_memories_kept_before_the_graph_are_live_from_when_they_were_kept(tmp_path, monkeypatch):
    path = tmp_path / "cortex.duckdb"
    monkeypatch.setattr(cortex_module, "MIGRATIONS", {k: v for k, v in MIGRATIONS.items() if k < "0009"})
    with Cortex(path).connect() as db:  # as a release before the graph kept it
        db.execute(
            "INSERT INTO memories (kind, source, url, title, content_hash) VALUES ('article', 'hn', 'u', 'A', 'h')"
        )
    monkeypatch.setattr(cortex_module, "MIGRATIONS", MIGRATIONS)
    monkeypatch.setattr(cortex_module, "_migrated", set())  # a new release, a new process
    with Cortex(path).connect() as db:
        live = db.execute("SELECT valid_from = created_at, valid_to FROM memories").fetchall()
        graph = [db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("edges", "signals")]
    assert live == [(True, None)] and graph == [0, 0]


# --- someone reads Cortex: a read-only connection held open by another process ---------------


def poll(predicate, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while not (result := predicate()):
        assert time.monotonic() < deadline, "timed out polling"
        time.sleep(0.05)
    return result


@pytest.fixture
def cortex_file(tmp_path):
    path = tmp_path / "cortex.duckdb"
    Cortex(path).remember([{"kind": "article", "source": "hn", "url": "https://example.org/a", "title": "A"}])
    return path


def test_a_reader_is_waited_out_and_named_while_the_writer_waits(cortex_file):
    # the old limit was 60 s, fatal: the night failed on a `duckdb -readonly cortex.duckdb` left open
    holder = hold_cortex(cortex_file)
    notices, result = [], {}
    cortex = Cortex(cortex_file, lock_wait_s=30, on_wait=notices.append)
    row = {"kind": "article", "source": "hn", "url": "https://example.org/b", "title": "B"}
    writer = threading.Thread(target=lambda: result.update(new=cortex.remember([row])))
    writer.start()
    try:
        poll(lambda: notices)  # the writer says it waits, and for whom, before the holder lets go
        assert not result
    finally:
        release_cortex(holder)
    writer.join(timeout=60)
    assert result == {"new": 1}
    assert f"Cortex at {cortex_file} is locked by PID {holder.pid} (" in notices[0]


def test_a_reader_holding_on_past_the_wait_fails_the_write_naming_it(cortex_file):
    holder = hold_cortex(cortex_file)
    try:
        with pytest.raises(CortexLockedError) as failure:
            Cortex(cortex_file, lock_wait_s=1).remember([{"kind": "a", "source": "s", "title": "T"}])
    finally:
        release_cortex(holder)
    message = str(failure.value)
    assert f"stayed locked by PID {holder.pid} (" in message and "for 1 s" in message
    assert "overnight cortex query" in message and "memory.lock_wait_s" in message


def test_the_configured_wait_reaches_cortex_and_the_wait_is_said_in_the_run_log(cortex_file, instance):
    import dagster as dg

    from overnight_assets.config import OvernightConfig
    from overnight_assets.resources.dagster_resources import CortexResource, build_resources

    configured = build_resources(OvernightConfig(memory={"lock_wait_s": 45}))["cortex"]
    assert configured.get().lock_wait_s == 45
    assert build_resources(OvernightConfig())["cortex"].get().lock_wait_s == 900

    @dg.asset
    def writes_cortex(cortex: CortexResource) -> None:
        cortex.get().remember([{"kind": "a", "source": "s", "title": "written while a reader waited"}])

    def run_log_notices():
        return [
            entry.user_message
            for run in instance.get_runs()
            for entry in instance.all_logs(run.run_id)
            if "is locked by" in (entry.user_message or "")
        ]

    holder = hold_cortex(cortex_file)
    outcome = {}
    resources = {"cortex": CortexResource(path=str(cortex_file), lock_wait_s=30)}

    def materialize():
        outcome["ok"] = dg.materialize([writes_cortex], resources=resources, instance=instance).success

    run = threading.Thread(target=materialize)
    run.start()
    try:
        notices = poll(run_log_notices)
    finally:
        release_cortex(holder)
    run.join(timeout=120)
    assert outcome == {"ok": True}
    assert f"PID {holder.pid}" in notices[0]


def test_query_reads_while_another_reader_holds_cortex_and_never_writes(cortex_file):
    holder = hold_cortex(cortex_file)
    try:
        columns, rows = Cortex(cortex_file).query("SELECT kind, title FROM memories")
    finally:
        release_cortex(holder)
    assert (columns, rows) == (["kind", "title"], [("article", "A")])
    import duckdb

    with pytest.raises(duckdb.Error, match="read-only"):
        Cortex(cortex_file).query("DELETE FROM memories")


def test_query_waits_out_the_chain_writing(cortex_file):
    writer = hold_cortex(cortex_file, read_only=False)
    result, notices = {}, []
    cortex = Cortex(cortex_file, on_wait=notices.append)
    reader = threading.Thread(target=lambda: result.update(rows=cortex.query("SELECT count(*) FROM memories")[1]))
    reader.start()
    try:
        poll(lambda: notices)
    finally:
        release_cortex(writer)
    reader.join(timeout=60)
    assert result == {"rows": [(1,)]}


def test_copy_is_a_whole_working_database_and_leaves_cortex_free(cortex_file, tmp_path):
    holder = hold_cortex(cortex_file)  # another reader does not stop a copy
    try:
        copied = Cortex(cortex_file).copy_to(tmp_path / "explore.duckdb")
    finally:
        release_cortex(holder)
    import duckdb

    with duckdb.connect(str(copied)) as explore:  # held open as long as one likes: Cortex is not touched
        assert explore.execute("SELECT title FROM memories").fetchall() == [("A",)]
        explore.execute("INSERT INTO memories (kind, source, title, content_hash) VALUES ('a', 's', 'B', 'h')")
        assert Cortex(cortex_file).remember([{"kind": "a", "source": "s", "title": "C"}]) == 1
    assert not [p.name for p in tmp_path.iterdir() if "partial" in p.name]


def test_copy_refuses_to_overwrite_and_says_when_there_is_no_cortex(cortex_file, tmp_path):
    (tmp_path / "taken.duckdb").write_text("mine")
    with pytest.raises(FileExistsError, match="already exists"):
        Cortex(cortex_file).copy_to(tmp_path / "taken.duckdb")
    assert (tmp_path / "taken.duckdb").read_text() == "mine"
    with pytest.raises(FileNotFoundError, match="no Cortex at"):
        Cortex(tmp_path / "absent.duckdb").query("SELECT 1")
    assert not (tmp_path / "absent.duckdb").exists()
