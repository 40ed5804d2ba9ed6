"""The process that runs a run: who it is, whether it is gone, and what to say about the pool it waits on.

Dagster's default run launcher cannot tell a dead run worker from a live one: a worker killed by
SIGKILL, the OOM killer or a power cut leaves its run STARTED, holding its `gpu` slot, and every
later LLM step waits for ever. Dagster records the worker's pid (on every event) but not the host,
and a bare pid says little: another host's pid means nothing here, and a pid is reused. So the
worker records who it is when it starts (a run tag, see executor.py): host name, boot id, pid
namespace, pid and the process's start time in clock ticks since boot. A run is judged here only
when that record says it ran on this host, under this kernel's view of processes; then its worker
is gone when the host restarted since, when no process has that pid, or when the process with that
pid started at another time (the pid was reused).

Linux only: the facts come from /proc. Elsewhere nothing is judged, so nothing is touched.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

WORKER_TAG = "overnight/worker"
PROC = Path("/proc")


@dataclass(frozen=True)
class Worker:
    """One run worker process, as it described itself when it started."""

    host: str
    boot_id: str
    pid_namespace: str
    pid: int
    start_ticks: int  # /proc/<pid>/stat field 22: when the process started, in clock ticks since boot

    def as_tag(self) -> str:
        return (
            f"host={self.host} pid={self.pid} start={self.start_ticks} boot={self.boot_id} pidns={self.pid_namespace}"
        )

    @classmethod
    def from_tag(cls, text: str | None) -> Worker | None:
        """The worker a run's tag names; None for a run without one (older, or not from this code)."""
        fields = dict(part.partition("=")[::2] for part in (text or "").split())
        try:
            return cls(fields["host"], fields["boot"], fields["pidns"], int(fields["pid"]), int(fields["start"]))
        except (KeyError, ValueError):
            return None


@dataclass(frozen=True)
class Host:
    """What this machine says about its processes."""

    name: str
    boot_id: str | None  # None: no /proc, so nothing here can be judged
    pid_namespace: str | None
    proc: Path = PROC

    @classmethod
    def here(cls, proc: Path = PROC) -> Host:
        return cls(socket.gethostname(), _read(proc / "sys/kernel/random/boot_id"), _pid_namespace(proc), proc)

    def process_start(self, pid: int) -> int | None:
        """The start time (ticks since boot) of the live process with this pid, None when there is none.

        A zombie (exited, not yet reaped by its parent) counts as none: it runs nothing any more.
        """
        stat = _read(self.proc / str(pid) / "stat")
        if stat is None:
            return None
        # the command name (field 2) may hold spaces and parentheses: the fields after it follow its last ")"
        state, *rest = stat[stat.rindex(")") + 2 :].split()
        return None if state in ("Z", "X") else int(rest[18])

    def this_process(self) -> Worker | None:
        """This process, described so that another process on this host can later judge whether it lives."""
        start = self.process_start(os.getpid())
        if self.boot_id is None or self.pid_namespace is None or start is None:
            return None
        return Worker(self.name, self.boot_id, self.pid_namespace, os.getpid(), start)

    def why_gone(self, worker: Worker | None) -> str | None:
        """Why this worker is certainly gone; None when it lives, or when it is not this host's to judge."""
        if worker is None or worker.host != self.name or self.boot_id is None:
            return None
        if worker.boot_id != self.boot_id:
            return "the host restarted since"
        if worker.pid_namespace != self.pid_namespace:
            return None  # a container sharing this host name: its processes are not visible from here
        start = self.process_start(worker.pid)
        if start is None:
            return "no process has that pid"
        if start != worker.start_ticks:
            return "its pid now belongs to a process started later"
        return None


def dead_worker_reason(worker: Worker, why: str, held_pools: list[str]) -> str:
    """The failure message of a run whose worker is gone: what was found and what was done."""
    return f"worker process {worker.pid} on host {worker.host} is gone (killed? {why}): marked failed, {_slots(held_pools)}"


@dataclass(frozen=True)
class SlotHolder:
    run_id: str
    step_key: str
    since: datetime | None


def waiting_message(pool: str, holders: list[SlotHolder]) -> str:
    """What a run blocked on a pool tells its operator, once: who holds the pool, since when."""
    if not holders:
        return f"waiting for the {pool} pool"
    held = "; ".join(
        f"run {holder.run_id} (step {holder.step_key}, started {_when(holder.since)})" for holder in holders
    )
    return f"waiting for the {pool} pool: held by {held}"


def _slots(pools: list[str]) -> str:
    if not pools:
        return "it held no pool slot"
    counts = {pool: pools.count(pool) for pool in sorted(set(pools))}
    return ", ".join(f"{pool} slot freed" if n == 1 else f"{n} {pool} slots freed" for pool, n in counts.items())


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "at an unknown time"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _pid_namespace(proc: Path) -> str | None:
    try:
        return os.readlink(proc / "self/ns/pid")
    except OSError:
        return None
