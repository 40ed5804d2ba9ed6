"""Nights run by real `overnight run` processes on one SQLite DAGSTER_HOME, and how to wait for them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from overnight_assets.operations.run_workers import WORKER_TAG, Host, Worker

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

    def worker_pid(self, run_id: str) -> int:
        """The run worker's pid, as the run records it: a process the night's command launched, not the command."""
        return Worker.from_tag(self.instance.get_run_by_id(run_id).tags[WORKER_TAG]).pid

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


def kill_night(process: subprocess.Popen) -> None:
    """SIGKILL every process of a night at once - the command, its code server, its run worker - as a
    power cut leaves them, and reap the command (a zombie still has its /proc entry)."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def session_pids(session: int) -> set[int]:
    """The live processes of a session: a night started in its own holds its command and all it started."""
    host, pids = Host.here(), set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.getsid(int(entry.name)) == session:
                pids.add(int(entry.name))
        except OSError:  # gone meanwhile
            continue
    return {pid for pid in pids if host.process_start(pid) is not None}  # not the zombies
