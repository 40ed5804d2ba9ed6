"""Reading a large auth log for one night: the streaming, window-only reader against reading it whole.

A synthetic classic-syslog auth log of about 200 MB: 78 days of a busy host's ordinary lines, then
the night (a brute force that ends in an accepted login, a sudo grant, junk lines an attacker
wrote with `logger`) at its end, the usual place of the night that just ended. Each reader runs in
a fresh process, once timed and once under tracemalloc for its peak memory: `auth_log_findings`
on the opened file (with the bytes it read), and the old reader's first step alone (the whole
file read and decoded, `Path.read_bytes().decode()`), which is what made a 1 GB log cost 2.3 GB.
Bytes read: this night's junk finding names the first junk line by number, which counts the
newlines before it (a chunk at a time), so this night reads the file once; the quiet night
before it, with nothing to number, shows what finding the window costs.

Targets: the night's verdict RED with the junk finding, at most 64 MB of extra memory, at most 2 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

NIGHT = datetime(2026, 11, 20, tzinfo=UTC)
DAYS_BEFORE = 78
LINE_EVERY_S = 3  # ~28,800 lines a day, ~95 bytes each: ~2.8 MB a day
TARGET_MB, TARGET_S = 64, 2.0

MEASURE = """
import json, sys, time, tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path
from overnight_assets.triage.auth_log import auth_log_findings, open_auth_log

mode, path = sys.argv[1], sys.argv[2]
night = datetime(2026, 11, 20, tzinfo=timezone.utc)

class Counting:
    def __init__(self, handle):
        self.handle, self.read_bytes = handle, 0
    def read(self, size=-1):
        data = self.handle.read(size)
        self.read_bytes += len(data)
        return data
    def seek(self, *args):
        return self.handle.seek(*args)

def new(start=night):
    with open_auth_log(path) as handle:
        log = Counting(handle)
        result = auth_log_findings(log, start, start + timedelta(days=1), 10, {"192.168.1.23"}, name=path)
    return log.read_bytes, sorted(f"{f.severity.value}: {f.title}" for f in result.findings)

def old():
    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    return Path(path).stat().st_size, [f"{len(text)} characters"]

run = new if mode == "new" else old
started = time.perf_counter()
read_bytes, summary = run()
seconds = time.perf_counter() - started
tracemalloc.start()  # a second run, measured: tracemalloc slows allocation down
run()
peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
quiet_bytes = new(night - timedelta(days=1))[0] if mode == "new" else read_bytes
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "read_bytes": read_bytes, "quiet_bytes": quiet_bytes,
                  "summary": summary}))
"""


def write_log(path: Path) -> int:
    first = NIGHT - timedelta(days=DAYS_BEFORE)
    with path.open("w", encoding="utf-8", errors="surrogateescape") as log:  # junk as raw bytes
        for day in range(DAYS_BEFORE):
            log.write(_quiet_day(first + timedelta(days=day)))
        log.write(_night())
    return path.stat().st_size


def _quiet_day(day: datetime, seconds: int = 86_400) -> str:
    lines = []
    for second in range(0, seconds, LINE_EVERY_S):
        stamp = day + timedelta(seconds=second)
        lines.append(
            f"{stamp:%b %e %H:%M:%S} homelab CRON[{second % 30000}]: pam_unix(cron:session): "
            "session closed for user root\n"
        )
    return "".join(lines)


def _night() -> str:
    attacker = "203.0.113.9"
    lines = [
        f"Nov 20 02:{i // 60:02d}:{i % 60:02d} homelab sshd[{900 + i}]: Failed password for root from {attacker} "
        f"port {40000 + i} ssh2\n"
        for i in range(200)
    ]
    lines.append(f"Nov 20 03:00:00 homelab sshd[2000]: Accepted password for root from {attacker} port 50000 ssh2\n")
    lines.append("Nov 20 03:01:00 homelab usermod[301]: add 'mallory' to group 'sudo'\n")
    junk = "Nov 20 03:02:00 homelab mallory: " + "\udcff\udcfe" * 50 + "\n"  # written as bytes 0xff 0xfe
    return _quiet_day(NIGHT, seconds=2 * 3600) + "".join(lines) + junk * 300


def measure(mode: str, path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", MEASURE, mode, str(path)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    from _report import figure, report

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "auth.log"
        started = time.perf_counter()
        size = write_log(path)
        print(f"  {size / 1e6:.0f} MB synthetic auth log written in {time.perf_counter() - started:.0f} s")
        new, old = measure("new", path), measure("old", path)
    for line in new["summary"]:
        print(f"  {line}")
    red = any(line.startswith("red: ") for line in new["summary"])
    junk = any("not valid UTF-8" in line for line in new["summary"])
    report(
        "auth_log_read",
        [
            figure("night's verdict RED, with the junk finding", int(red and junk), "yes", "1", red and junk),
            figure(
                f"read the night of a {size / 1e6:.0f} MB log: peak memory",
                round(new["peak_mb"], 1),
                "MB",
                f"<= {TARGET_MB} MB",
                new["peak_mb"] <= TARGET_MB,
            ),
            figure("  same: time", new["seconds"], "s", f"<= {TARGET_S:g} s", new["seconds"] <= TARGET_S),
            figure("  bytes read (all: numbering the junk line)", round(new["read_bytes"] / 1e6, 1), "MB"),
            figure("  the quiet night before: bytes read", round(new["quiet_bytes"] / 1e6, 1), "MB"),
            figure("  old way (whole file decoded): peak memory", round(old["peak_mb"], 1), "MB"),
            figure("  old way (whole file decoded): time", old["seconds"], "s"),
        ],
    )


if __name__ == "__main__":
    main()
