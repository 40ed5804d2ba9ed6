"""A night killed inside a gpu step: how long until its gpu slot is free, with the daemon and without it.

On a real SQLite DAGSTER_HOME with the repo's dagster.yaml (pool `gpu` limited to 1), an
`overnight run` whose gpu_warmup waits on a loopback Ollama that takes ten minutes to answer holds
the gpu slot; the night's processes (the command, its code server and its run worker) are SIGKILLed
at once, as a power cut leaves them, and the clock runs until the pool no longer lists its run.
- With the daemon: a real `dagster-daemon run` on workspace.yaml, already ticking (its
  dead_worker_sensor has ticked once before the kill), so the figure is where the kill falls in the
  sensor's minute, plus the tick itself.
- Without the daemon: the next `overnight run` is started at once and frees the slot before it
  starts its own steps; the figure is its start-up and recovery. That night then runs to the end.
Dagster alone frees neither: without the daemon the slot stays held for ever, with it
`max_runtime_seconds` (dagster.yaml: 4 h) is the only backstop.

Target: at most 2 minutes, both ways.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

TARGET_S = 120.0
SENSOR = "dead_worker_sensor"


def overnight_run(night: str, log: Path) -> subprocess.Popen:
    with open(log, "w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "overnight_assets.cli", "run", "--date", night],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def poll(condition, what: str, timeout: float = 600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)  # polling the instance
    raise SystemExit(f"timed out waiting for {what}")


def slot_holders(instance: dg.DagsterInstance) -> set[str]:
    return {slot.run_id for slot in instance.event_log_storage.get_concurrency_info("gpu").claimed_slots}


def kill_a_night_holding_the_slot(instance: dg.DagsterInstance, night: str, log: Path) -> tuple[str, float]:
    """Start a night, SIGKILL its processes once it holds the gpu slot; its run id and the moment of the kill."""
    command = overnight_run(night, log)
    (run_id,) = poll(lambda: slot_holders(instance), f"{night} to hold the gpu slot")
    os.killpg(command.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    command.wait()
    return run_id, killed_at


def sensor_ticks(instance: dg.DagsterInstance) -> int:
    from dagster._core.definitions.run_request import InstigatorType

    states = [
        state for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR) if state.name == SENSOR
    ]
    return sum(len(instance.get_ticks(state.instigator_origin_id, state.selector_id)) for state in states)


def with_daemon(instance: dg.DagsterInstance, root: Path) -> float:
    from overnight_assets_tests.testkit.instances import dagster_daemon

    with dagster_daemon():
        poll(lambda: sensor_ticks(instance), f"the daemon's first {SENSOR} tick")
        run_id, killed_at = kill_a_night_holding_the_slot(instance, "2026-11-19", root / "killed-1.log")
        poll(lambda: run_id not in slot_holders(instance), "the daemon to free the slot")
        seconds = time.monotonic() - killed_at
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    print(f"  with the daemon: slot free {seconds:.1f} s after the kill ({sensor_ticks(instance)} sensor ticks so far)")
    return seconds


def without_daemon(instance: dg.DagsterInstance, root: Path, env) -> float:
    run_id, killed_at = kill_a_night_holding_the_slot(instance, "2026-11-20", root / "killed-2.log")
    env.ollama.delay_s = 0  # the next night's model answers at once
    following = overnight_run("2026-11-21", root / "following.log")
    poll(lambda: run_id not in slot_holders(instance), "the next overnight run to free the slot")
    seconds = time.monotonic() - killed_at
    following.wait(timeout=600)
    print(
        f"  without the daemon: slot free {seconds:.1f} s after the kill; the next night then "
        f"{'completed' if following.returncode == 0 else f'FAILED ({following.returncode})'} "
        f"{time.monotonic() - killed_at:.1f} s after the kill"
    )
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    return seconds


def main() -> None:
    from _loopback import loopback
    from _report import figure, report

    with loopback(llm__timeout_s=900) as env:
        env.ollama.delay_s = 600  # gpu_warmup waits on the model: the night holds the slot until it dies
        with dg.DagsterInstance.get() as instance:
            daemon_s = with_daemon(instance, env.root)
            env.ollama.delay_s = 600
            cli_s = without_daemon(instance, env.root, env)
    report(
        "gpu_slot_recovery",
        [
            figure("killed worker -> slot free, daemon sensor", daemon_s, "s", "<= 120 s", daemon_s <= TARGET_S),
            figure("killed worker -> slot free, next overnight run", cli_s, "s", "<= 120 s", cli_s <= TARGET_S),
        ],
    )


if __name__ == "__main__":
    main()
