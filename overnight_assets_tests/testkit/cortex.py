"""Another process holding Cortex open, as someone reading it with the `duckdb` shell does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_HOLD_CORTEX = """
import sys, duckdb
db = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read-only")
print("locked", flush=True)
sys.stdin.readline()
db.close()
"""


def hold_cortex(path: Path, read_only: bool = True):
    """A process holding the DuckDB file open (read-only: a `duckdb -readonly` shell) until `release_cortex`."""
    mode = "read-only" if read_only else "read-write"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_CORTEX, str(path), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def release_cortex(holder) -> None:
    holder.stdin.write("\n")
    holder.stdin.flush()
    holder.wait(timeout=30)
