"""The demo's inputs: the bundled samples with their days moved to the demo's night, and a
small git repository whose commits fall in that night.

The sample auth log covers two days; its last day becomes the partition the demo runs, so the
triage reads real lines in its window whatever the date. The sample feeds describe the night of
SAMPLE_FEEDS_NIGHT; their dates move by whole days the same way, so the reading list finds its
items in the window (and the few dated the day before stay outside it, as they should).
"""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from overnight_assets.config import BUNDLED_DEMO_CONFIG

SAMPLES = BUNDLED_DEMO_CONFIG.parent / "samples"
SAMPLE_AUTH_LOG = SAMPLES / "auth.log"
SAMPLE_FEEDS = SAMPLES / "feeds"
SAMPLE_FEEDS_NIGHT = date(2026, 1, 14)
_CLASSIC = re.compile(r"^([A-Z][a-z]{2}) ([ \d]\d) ")
_RFC822 = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} (?:[+-]\d{4}|GMT|UTC)"
)
_ISO8601 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})")


def prepare_demo_feeds(night: date, target: Path) -> Path:
    """Copy the sample feeds to `target`, every date moved by (night - SAMPLE_FEEDS_NIGHT) days."""
    shift = night - SAMPLE_FEEDS_NIGHT
    target.mkdir(parents=True, exist_ok=True)
    for sample in sorted(SAMPLE_FEEDS.iterdir()):
        if sample.suffix != ".xml":
            shutil.copyfile(sample, target / sample.name)
            continue
        text = sample.read_bytes().decode("latin-1")  # byte-transparent: dates are ASCII, the rest is kept as is
        text = _RFC822.sub(lambda m: format_datetime(parsedate_to_datetime(m.group()) + shift), text)
        text = _ISO8601.sub(lambda m: _shift_iso(m.group(), shift), text)
        (target / sample.name).write_bytes(text.encode("latin-1"))
    return target


def _shift_iso(stamp: str, shift: timedelta) -> str:
    moved = (datetime.fromisoformat(stamp.replace("Z", "+00:00")) + shift).isoformat()
    return moved.replace("+00:00", "Z") if stamp.endswith("Z") else moved


def prepare_demo_auth_log(night: date, target: Path) -> Path:
    lines = SAMPLE_AUTH_LOG.read_text(encoding="utf-8").splitlines(keepends=True)
    days = [_day(line, night.year) for line in lines if _CLASSIC.match(line)]
    shift = night - max(days)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(_shifted(line, shift, night.year) for line in lines), encoding="utf-8")
    return target


def _day(line: str, year: int) -> date:
    month, day = _CLASSIC.match(line).groups()
    return datetime.strptime(f"{year} {month} {int(day)}", "%Y %b %d").date()


def _shifted(line: str, shift: timedelta, year: int) -> str:
    if not _CLASSIC.match(line):
        return line
    moved = _day(line, year) + shift
    return f"{moved.strftime('%b')} {moved.day:>2} " + line[7:]


def prepare_demo_repository(night: date, timezone: str, target: Path) -> Path:
    """A homelab repository whose commits fall in the demo's night: a merge, a branch waiting,
    an unused import and a forgotten breakpoint for the reviewer to find. Rebuilt each time from
    the same description, so the same night gives the same shas (and no second LLM review)."""
    from overnight_assets.demo.history import History

    def local(hour: int, minute: int = 0) -> datetime:
        return datetime(night.year, night.month, night.day, hour, minute, tzinfo=ZoneInfo(timezone))

    history = History()
    history.commit("main", "Ana Pop", local(0) - timedelta(days=2), "Initial homelab layout", DEMO_FILES)
    history.commit(
        "main", "Ana Pop", local(10, 15), "Add the nightly backup script", {"scripts/backup.py": BACKUP_SCRIPT}
    )
    history.commit(
        "dashboards",
        "Radu Ionescu",
        local(13),
        "Add a disk usage dashboard",
        {"grafana/disk.json": DASHBOARD},
        start="main",
    )
    history.commit("main", "Ana Pop", local(16, 30), "Merge branch 'dashboards'", {}, merge="dashboards")
    history.commit(
        "disk-alerts",
        "Radu Ionescu",
        local(21, 40),
        "WIP: alert when a disk fills up",
        {"scripts/alerts.py": ALERT_SCRIPT},
        start="main",
    )
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    return history.write(target)


DEMO_FILES = {
    "README.md": "# homelab\n\nCompose files and scripts for the home server.\n",
    "compose/jellyfin.yaml": "services:\n  jellyfin:\n    image: jellyfin/jellyfin:10.10\n    restart: unless-stopped\n",
}
BACKUP_SCRIPT = '''"""Copy the media database to the NAS every night."""
import shutil
import subprocess
from pathlib import Path

SOURCE = Path("/srv/jellyfin/data/library.db")


def backup(target: Path) -> None:
    subprocess.run(["rsync", "-a", str(SOURCE), str(target)], check=True)


if __name__ == "__main__":
    backup(Path("/mnt/nas/backups"))
'''
DASHBOARD = (
    '{"title": "Disk usage", "panels": [{"type": "gauge", "targets": [{"expr": "node_filesystem_avail_bytes"}]}]}\n'
)
ALERT_SCRIPT = '''"""Post to the alerts channel when a disk is over 90 % full."""
import shutil


def check(path: str = "/") -> bool:
    usage = shutil.disk_usage(path)
    breakpoint()
    return usage.used / usage.total > 0.9
'''
