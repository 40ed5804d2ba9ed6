"""The demo's inputs: the bundled samples, with the auth log's days moved to the demo's night.

The sample auth log covers two days; its last day becomes the partition the demo runs, so the
triage reads real lines in its window whatever the date.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

from overnight_assets.config import BUNDLED_DEMO_CONFIG

SAMPLE_AUTH_LOG = BUNDLED_DEMO_CONFIG.parent / "samples" / "auth.log"
_CLASSIC = re.compile(r"^([A-Z][a-z]{2}) ([ \d]\d) ")


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
