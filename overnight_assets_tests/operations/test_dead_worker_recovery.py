"""A night killed (SIGKILL) inside a gpu step: its run is failed with the reason and its gpu slot freed,
by the next `overnight run` before it starts, by the sensor's logic, and by a real daemon; a run worker
killed while its `overnight run` waits, by that command."""

import os
import signal
import socket

import dagster as dg

from overnight_assets.operations.run_workers import WORKER_TAG, Worker
from overnight_assets.operations.sensors import build_dead_worker_sensor
from overnight_assets_tests.testkit.hung_nights import HUNG_NIGHT, kill_night, session_pids, wait_for
from overnight_assets_tests.testkit.instances import dagster_daemon


def failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    (failure,) = [
        entry
        for entry in instance.all_logs(run_id)
        if entry.dagster_event and entry.dagster_event.event_type_value == "PIPELINE_FAILURE"
    ]
    return failure.dagster_event.message


def expected_reason(pid: int) -> str:
    return f"worker process {pid} on host {socket.gethostname()} is gone (killed? no process has that pid): marked failed, gpu slot freed"


def evaluate_sensor(instance: dg.DagsterInstance) -> str:
    with dg.build_sensor_context(instance=instance) as context:
        return build_dead_worker_sensor().evaluate_tick(context).skip_message


def test_the_next_overnight_run_frees_the_slot_of_a_killed_night_and_completes(nights, hung_night, ollama_server):
    killed, run_id = hung_night
    worker = nights.worker_pid(run_id)
    kill_night(killed)
    assert nights.instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
    assert nights.slot_holders() == {run_id}  # the fault: a dead run keeps the pool

    ollama_server.delay_s = 0
    following = nights.start("2026-11-20")
    following.wait(timeout=240)

    output = nights.output("2026-11-20")
    assert following.returncode == 0, output[-3000:]
    assert f"overnight: run {run_id}: {expected_reason(worker)}" in output
    assert nights.instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert failure_message(nights.instance, run_id) == expected_reason(worker)
    assert not nights.gpu().claimed_slots and not nights.gpu().pending_steps


def test_the_sensor_leaves_a_live_worker_and_another_hosts_run_alone_and_recovers_a_dead_one(nights, hung_night):
    night, run_id = hung_night
    alive = Worker.from_tag(nights.instance.get_run_by_id(run_id).tags[WORKER_TAG])
    assert alive.pid in session_pids(night.pid) - {night.pid}  # the run worker the command launched

    assert evaluate_sensor(nights.instance) == "no run with a dead worker on this host"
    assert nights.instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
    assert nights.slot_holders() == {run_id}

    kill_night(night)
    recorded = nights.instance.get_run_by_id(run_id).tags[WORKER_TAG]
    nights.instance.add_run_tags(
        run_id, {WORKER_TAG: recorded.replace(f"host={socket.gethostname()} ", "host=gpu-box ")}
    )
    assert evaluate_sensor(nights.instance) == "no run with a dead worker on this host"  # its pid means nothing here
    assert nights.slot_holders() == {run_id}

    nights.instance.add_run_tags(run_id, {WORKER_TAG: recorded})
    assert evaluate_sensor(nights.instance) == f"run {run_id}: {expected_reason(alive.pid)}"
    assert nights.instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert failure_message(nights.instance, run_id) == expected_reason(alive.pid)
    assert not nights.gpu().claimed_slots
    assert evaluate_sensor(nights.instance) == "no run with a dead worker on this host"  # once is enough


def test_a_real_daemon_frees_the_slot_of_a_killed_night(nights, hung_night):
    killed, run_id = hung_night
    worker = nights.worker_pid(run_id)
    kill_night(killed)
    with dagster_daemon(nights.env) as daemon:
        wait_for(lambda: not nights.slot_holders(), "the daemon's sensor to free the gpu slot", daemon)
    assert nights.instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert failure_message(nights.instance, run_id) == expected_reason(worker)


def test_a_worker_killed_while_its_overnight_run_waits_fails_the_run_frees_the_slot_and_briefs(
    nights, hung_night, ollama_server
):
    """The OOM killer takes the run worker, not the command waiting for it: the command sees the run
    fail, frees what the worker held and sends the night's briefing."""
    command, run_id = hung_night
    ollama_server.delay_s = 0  # the briefing's model answers at once
    os.kill(nights.worker_pid(run_id), signal.SIGKILL)
    command.wait(timeout=180)

    output = nights.output(HUNG_NIGHT)
    assert command.returncode == 1, output[-3000:]
    assert nights.instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert not nights.gpu().claimed_slots and not nights.gpu().pending_steps
    assert any(f"run {run_id}" in line and "slot" in line and "freed" in line for line in output.splitlines())
    assert f"overnight: the nightly run {run_id} failed; the briefing went out anyway" in output


def test_the_code_location_runs_the_sensor_every_minute_and_the_executor_that_records_workers():
    from overnight_assets.definitions import defs
    from overnight_assets.operations.executor import pool_care_in_process_executor

    sensor = defs.resolve_sensor_def("dead_worker_sensor")
    assert (sensor.default_status, sensor.minimum_interval_seconds) == (dg.DefaultSensorStatus.RUNNING, 60)
    for job in defs.resolve_all_job_defs():
        assert job.executor_def is pool_care_in_process_executor, job.name
