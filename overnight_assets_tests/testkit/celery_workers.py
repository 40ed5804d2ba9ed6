"""Celery workers on this machine standing in for two hosts: one serving the gpu queue, one the default
queue, started as `dagster-celery worker start` starts them, on a Redis DB of this kit's own; and what
a run's event log says about which worker ran which step, and when.

Each worker is a process group of its own (the dagster-celery command and the celery worker it
starts), ended by its group id. The queue names carry a random suffix, so two suites sharing the
Redis server never take each other's tasks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from overnight_assets_tests.testkit import REPO, poll

REDIS = ("127.0.0.1", 6379)
REDIS_DB = 11  # this kit's own DB on the shared Redis server
BROKER_URL = f"redis://{REDIS[0]}:{REDIS[1]}/{REDIS_DB}"
CELERY_WORKER = "Celery worker"  # the key dagster-celery's task puts the worker's name under, per step


def redis_reachable() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def nightly_job() -> dg.JobDefinition:
    """The code location's nightly job, reconstructable by the workers (they import this module)."""
    from overnight_assets.definitions import defs

    return defs.resolve_job_def("nightly")


@dataclass(frozen=True)
class Queues:
    gpu: str
    default: str

    @classmethod
    def fresh(cls) -> Queues:
        suffix = uuid.uuid4().hex[:8]
        return cls(f"gpu-{suffix}", f"dagster-{suffix}")

    def config(self) -> dict:
        """write_config overrides: the celery mode on these queues."""
        return {"execution__mode": "celery", "execution__gpu_queue": self.gpu, "execution__default_queue": self.default}


def celery_env(env: dict) -> dict:
    """`env` with the broker and backend variables, this checkout importable, and the venv's `celery` on PATH."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **env,
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_RESULT_BACKEND": BROKER_URL,
        "PYTHONPATH": str(REPO),
        "PATH": f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
    }


# run a command as on another machine: its own host name and kernel boot id (a user, mount and UTS namespace)
_ELSEWHERE = 'mount --bind "$0" /proc/sys/kernel/random/boot_id && hostname "$1" && shift && exec "$@"'


def elsewhere(host: str, log_dir: Path) -> list[str]:
    """The prefix of a command run as on the machine `host`, as this_machine() sees it; [] where the kernel
    gives no user namespaces."""
    boot_id = log_dir / f"boot_id-{host}"
    boot_id.write_text(f"{uuid.uuid4()}\n")
    prefix = ["unshare", "--user", "--map-root-user", "--mount", "--uts", "sh", "-c", _ELSEWHERE, str(boot_id), host]
    probe = subprocess.run([*prefix, "cat", "/proc/sys/kernel/random/boot_id"], capture_output=True, text=True)
    return prefix if probe.returncode == 0 and probe.stdout == boot_id.read_text() else []


@contextlib.contextmanager
def celery_workers(
    env: dict, queues: Queues, log_dir: Path, gpu_host: tuple[str, list[str]] | None = None
) -> Iterator[dict[str, str]]:
    """A gpu worker and a default worker, started and ready; yields {role: celery node name}. `gpu_host`:
    (name, elsewhere(name)) runs the gpu worker as on that other machine."""
    suffix = queues.gpu.rsplit("-", 1)[-1]
    names = {"gpu": f"gpu-{suffix}", "default": f"default-{suffix}"}
    serving = {"gpu": queues.gpu, "default": queues.default}
    hosts = {"gpu": gpu_host[0] if gpu_host else socket.gethostname(), "default": socket.gethostname()}
    processes = []
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]):  # created once: two workers creating it race
        pass
    try:
        for role, name in names.items():
            command = [sys.executable, "-m", "dagster_celery.cli", "worker", "start", "-A", "dagster_celery.app"]
            command += ["-q", serving[role], "-n", name, "--loglevel", "WARNING", "--", "--pool=solo"]
            if role == "gpu" and gpu_host:
                command = [*gpu_host[1], *command]
            log = open(log_dir / f"celery-{role}.log", "w")  # noqa: SIM115 - closed with the worker
            processes.append((subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True), log))
        nodes = {role: f"{name}@{hosts[role]}" for role, name in names.items()}
        poll(lambda: _all_answer(env, nodes.values(), processes), timeout_s=90, what="both Celery workers to answer")
        yield nodes
    finally:
        for process, _log in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)  # Celery's warm shutdown; the CLI above it ends at once
        for process, log in processes:
            process.wait()
            if not _group_gone(process.pid, wait_s=20):
                os.killpg(process.pid, signal.SIGKILL)
                _group_gone(process.pid, wait_s=5)
            log.close()


def _group_gone(group: int, wait_s: float) -> bool:
    """Whether every process of the group has ended (the celery worker outlives the CLI that started it)."""
    try:
        poll(lambda: not _group_alive(group), timeout_s=wait_s, what=f"process group {group} to end")
        return True
    except AssertionError:
        return False


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False


def _all_answer(env: dict, nodes, processes) -> bool:
    from celery import Celery

    for process, log in processes:
        assert process.poll() is None, f"a Celery worker exited early: see {log.name}"
    app = Celery(broker=env["CELERY_BROKER_URL"])
    try:
        replies = app.control.ping(destination=list(nodes), timeout=0.5)
    finally:
        app.close()
    answered = {node for reply in replies for node in reply}
    return answered >= set(nodes)


@dataclass(frozen=True)
class StepRun:
    step: str
    worker: str | None  # the Celery node that ran it; None: it ran in the run worker itself
    started: float
    ended: float


def step_runs(instance: dg.DagsterInstance, run_id: str) -> dict[str, StepRun]:
    """Each step of the run: which Celery worker ran it (dagster-celery's engine event) and from when to when."""
    workers, started, ended = {}, {}, {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or record.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.ENGINE_EVENT:
            worker = event.engine_event_data.metadata.get(CELERY_WORKER)
            if worker is not None:
                workers[record.step_key] = worker.value
        elif event.event_type == dg.DagsterEventType.STEP_START:
            started[record.step_key] = record.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            ended[record.step_key] = record.timestamp
    return {key: StepRun(key, workers.get(key), started[key], ended[key]) for key in started}


def overlapping(runs: list[StepRun]) -> list[tuple[str, str]]:
    """Pairs of steps whose [start, end] spans overlap."""
    ordered = sorted(runs, key=lambda run: run.started)
    return [(a.step, b.step) for a, b in zip(ordered, ordered[1:], strict=False) if b.started < a.ended]
