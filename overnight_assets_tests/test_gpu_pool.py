"""The `gpu` pool on a real SQLite instance: two runs at once never hold it together."""

import os
import shutil
import subprocess
import sys

import dagster as dg

from testkit import REPO, write_config

GPU_STEPS = {"gpu_warmup", "security_triage", "morning_briefing"}
FAILED_LOGINS = "".join(
    f"Nov {day} 04:00:{i:02d} homelab sshd[90{i}]: Failed password for root from 203.0.113.9 port 4000{i} ssh2\n"
    for day in (19, 20)
    for i in range(12)
)


def overnight(*args, env):
    return subprocess.Popen(
        [sys.executable, "-m", "overnight_assets.cli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def gpu_intervals(instance: dg.DagsterInstance) -> list[tuple[float, float, str, str]]:
    intervals = []
    for record in instance.get_run_records():
        run_id = record.dagster_run.run_id
        starts, ends = {}, {}
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or event.step_key not in GPU_STEPS:
                continue
            if event.event_type_value == "STEP_START":
                starts[event.step_key] = entry.timestamp
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
                ends[event.step_key] = entry.timestamp
        intervals += [(starts[step], ends[step], run_id, step) for step in starts]
    return sorted(intervals)


def test_two_runs_at_once_take_turns_on_the_gpu(tmp_path, host_files, ollama_server):
    ollama_server.delay_s = 0.4  # every model call holds the GPU a while, so overlap would show
    with open(host_files / "auth.log", "a") as log:
        log.write(FAILED_LOGINS)  # AMBER on both nights: each triage asks the LLM
    config = write_config(tmp_path, host_files, ollama_server.url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "OVERNIGHT_CONFIG": str(config)}
    dg.DagsterInstance.from_config(str(home)).dispose()  # storage created once, as the daemon would
    runs = [overnight("run", "--date", night, env=env) for night in ("2026-11-19", "2026-11-20")]
    for run in runs:
        output, _ = run.communicate(timeout=240)
        assert run.returncode == 0, output[-3000:]

    with dg.DagsterInstance.from_config(str(home)) as instance:
        intervals = gpu_intervals(instance)
        runs_seen = {run_id for _, _, run_id, _ in intervals}
        blocked = [
            entry.message
            for record in instance.get_run_records()
            for entry in instance.all_logs(record.dagster_run.run_id)
            if "blocked by limit for pool gpu" in (entry.message or "")
        ]
    assert len(runs_seen) == 2 and len(intervals) == 6
    for (start, end, run_id, step), (next_start, _, next_run, next_step) in zip(intervals, intervals[1:]):
        assert end <= next_start, f"{step} of {run_id} overlapped {next_step} of {next_run} on the gpu pool"
    assert blocked, "the two runs never met at the pool, so the test proved nothing"
