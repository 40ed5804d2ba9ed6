"""Cortex: schema migrated by code, and a file another process holds is waited for, not failed."""

import subprocess
import sys
import threading

import pytest

from overnight_assets.resources import cortex as cortex_module
from overnight_assets.resources.cortex import MIGRATIONS, Cortex, CortexLockedError

HOLD_LOCK = """
import sys, duckdb
db = duckdb.connect(sys.argv[1])
print("locked", flush=True)
sys.stdin.readline()
db.close()
"""


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
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
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


def test_a_lock_held_too_long_names_the_file(held_cortex, monkeypatch):
    path, _ = held_cortex
    monkeypatch.setattr(cortex_module, "LOCK_WAIT_S", 0.2)
    with pytest.raises(CortexLockedError, match=f"Cortex at {path} stayed locked"):
        with Cortex(path).connect():
            pass


def test_a_file_from_an_older_release_is_migrated_forward(tmp_path, monkeypatch):
    path = tmp_path / "cortex.duckdb"
    with Cortex(path).connect() as db:
        db.execute("DROP TABLE commit_reviews")
        db.execute("DELETE FROM schema_migrations WHERE name = '0003_code_review'")
    monkeypatch.setattr(cortex_module, "_migrated", set())  # a new process
    with Cortex(path).connect() as db:
        assert db.execute("SELECT count(*) FROM commit_reviews").fetchone() == (0,)
