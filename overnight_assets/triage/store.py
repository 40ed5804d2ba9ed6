"""What triage remembers between nights, in Cortex: the integrity baseline and known login sources."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from overnight_assets.resources.cortex import Cortex


def load_baseline(cortex: Cortex) -> tuple[dict[str, str] | None, str | None]:
    """The baseline hashes and the night that recorded them (None when re-baselined by hand)."""
    with cortex.connect(read_only=True) as db:
        rows = db.execute("SELECT path, sha256, recorded_for FROM integrity_baseline").fetchall()
    if not rows:
        return None, None
    return {path: sha for path, sha, _ in rows}, rows[0][2]


def record_baseline(cortex: Cortex, hashes: dict[str, str], recorded_for: str | None = None) -> None:
    """Replace the baseline: used on the first night and by `overnight rebaseline`."""
    with cortex.connect() as db:
        db.execute("BEGIN")
        db.execute("DELETE FROM integrity_baseline")
        db.executemany(
            "INSERT INTO integrity_baseline (path, sha256, recorded_for) VALUES (?, ?, ?)",
            [(path, sha, recorded_for) for path, sha in sorted(hashes.items())],
        )
        db.execute("COMMIT")


def known_login_sources(cortex: Cortex, before: datetime) -> set[str]:
    """Addresses first seen before the window: a rerun of the same night sees the same history."""
    with cortex.connect(read_only=True) as db:
        rows = db.execute("SELECT address FROM login_sources WHERE first_seen < ?", [before]).fetchall()
    return {row[0] for row in rows}


def record_login_sources(cortex: Cortex, first_seen: dict[str, datetime]) -> None:
    if not first_seen:
        return
    with cortex.connect() as db:
        db.executemany(
            """INSERT INTO login_sources (address, first_seen) VALUES (?, ?)
               ON CONFLICT (address) DO UPDATE SET first_seen = least(login_sources.first_seen, excluded.first_seen)""",
            sorted(first_seen.items()),
        )
