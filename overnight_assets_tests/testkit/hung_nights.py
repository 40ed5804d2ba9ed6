"""Nights run by real `overnight run` processes on one SQLite DAGSTER_HOME, and how to wait for them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

HUNG_NIGHT = "2026-11-19"


@dataclass
class Nights:
    home: Path
    env: dict
    instance: dg.DagsterInstance
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, night: str) -> subprocess.Popen:
        """`overnight run --date night` in its own process, its output in a file beside DAGSTER_HOME."""
        with open(self.home.parent / f"{night}.log", "w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "overnight_assets.cli", "run", "--date", night],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[night] = process
        return process

    def output(self, night: str) -> str:
        return (self.home.parent / f"{night}.log").read_text()

    def gpu(self):
        return self.instance.event_log_storage.get_concurrency_info("gpu")

    def slot_holders(self) -> set[str]:
        return {slot.run_id for slot in self.gpu().claimed_slots}

    def waiting_or_holding(self) -> set[str]:
        return {step.run_id for step in self.gpu().pending_steps}


def wait_for(condition, what: str, process: subprocess.Popen | None = None, timeout: float = 180):
    """Poll until `condition()` is true; fail if `process` ends first or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert process is None or process.poll() is None, f"the process ended ({process.returncode}) before {what}"
        time.sleep(0.1)  # polling the instance or a file, not waiting for time to pass
    raise AssertionError(f"timed out waiting for {what}")


def sigkill(process: subprocess.Popen) -> None:
    """SIGKILL, as the OOM killer would, and reap it (a zombie still has its /proc entry)."""
    process.send_signal(signal.SIGKILL)
    process.wait()
