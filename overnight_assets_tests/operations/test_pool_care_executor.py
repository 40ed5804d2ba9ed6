"""The project's executor around the gpu pool: a night waiting on the pool says who holds it, waits
without spinning, and stops on SIGTERM with nothing left in the pool; every run records its worker."""

import os
import signal
import socket
import uuid

import dagster as dg
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext

from overnight_assets.operations.executor import LONGEST_WAIT_S, PatientConcurrencyContext
from overnight_assets.operations.run_workers import WORKER_TAG, Worker
from overnight_assets_tests.testkit import poll
from overnight_assets_tests.testkit.hung_nights import HUNG_NIGHT, session_pids, wait_for


def run_of(instance: dg.DagsterInstance, night: str) -> dg.DagsterRun | None:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": night}))
    return runs[0] if runs else None


def test_sigterm_stops_a_night_waiting_on_the_pool_and_leaves_nothing_in_it(nights, hung_night):
    holder, holder_run = hung_night
    waiting = nights.start("2026-11-20")
    announcement = f"gpu_warmup is waiting for the gpu pool: held by run {holder_run} (step gpu_warmup, started "
    wait_for(
        lambda: announcement in nights.output("2026-11-20"), "the waiting night to say who holds the pool", waiting
    )
    waiting_run = run_of(nights.instance, "2026-11-20").run_id
    assert waiting_run in nights.waiting_or_holding() and nights.slot_holders() == {holder_run}

    waiting.send_signal(signal.SIGTERM)
    waiting.wait(timeout=60)  # without the fix it spins in Dagster's claim loop for ever, deaf to the signal

    output = nights.output("2026-11-20")
    assert waiting.returncode != 0, output[-3000:]
    assert nights.instance.get_run_by_id(waiting_run).status == dg.DagsterRunStatus.CANCELED
    assert waiting_run not in nights.waiting_or_holding()
    assert nights.slot_holders() == {holder_run}  # the live holder is untouched
    assert output.count("waiting for the gpu pool") == 1
    assert f"overnight: SIGTERM received: terminating run {waiting_run}" in output


def test_sigterm_inside_a_gpu_step_terminates_the_run_frees_its_slot_and_leaves_no_process(nights, hung_night):
    """SIGTERM on `overnight run` terminates its run, as the UI's Terminate does: the worker stops inside
    its step, the run ends CANCELED, and nothing the command started outlives it."""
    holder, holder_run = hung_night
    holder.send_signal(signal.SIGTERM)
    holder.wait(timeout=60)
    output = nights.output(HUNG_NIGHT)
    assert holder.returncode == 1, output[-3000:]
    assert nights.instance.get_run_by_id(holder_run).status == dg.DagsterRunStatus.CANCELED
    assert not nights.gpu().claimed_slots and not nights.gpu().pending_steps
    assert f"the nightly run {holder_run} was terminated: no briefing sent" in output
    poll(lambda: not session_pids(holder.pid), 60, "the night's code server and worker to end", every_s=0.5)


def test_a_run_records_its_worker_host_pid_and_pid_namespace(nights, hung_night):
    holder, holder_run = hung_night
    worker = Worker.from_tag(nights.instance.get_run_by_id(holder_run).tags[WORKER_TAG])
    assert worker.host == socket.gethostname()
    assert worker.pid in session_pids(holder.pid) - {holder.pid}  # the run worker `overnight run` launched
    assert worker.pid_namespace == os.readlink("/proc/self/ns/pid")


def test_a_blocked_step_sleeps_until_its_next_claim_check(instance):
    holder = dg.DagsterRun(job_name="nightly", run_id=str(uuid.uuid4()))
    waiter = dg.DagsterRun(job_name="nightly", run_id=str(uuid.uuid4()))
    with InstanceConcurrencyContext(instance, holder) as holding:
        assert holding.claim("gpu", "security_triage")
        with InstanceConcurrencyContext(instance, waiter) as dagsters:
            assert not dagsters.claim("gpu", "gpu_warmup")
            assert (
                dagsters.interval_to_next_pending_claim_check() <= 0
            )  # Dagster 1.13.27: never a positive wait, so it spins
        with PatientConcurrencyContext(instance, waiter) as patient:
            assert not patient.claim("gpu", "gpu_warmup")
            assert 0 < patient.interval_to_next_pending_claim_check() <= LONGEST_WAIT_S


def test_slots_are_claimed_and_freed_under_the_hosts_lock(instance, monkeypatch):
    """Dagster's claim is check-then-act: two claims at once can both take the one slot
    (benchmarks/gpu_pool_claim_race.py). Every claim and release here happens under the lock."""
    import fcntl
    from pathlib import Path

    from overnight_assets.operations.executor import POOL_CLAIMS_LOCK

    storage = instance.event_log_storage
    lock_path = Path(instance.root_directory) / POOL_CLAIMS_LOCK
    seen = []

    def lock_is_held() -> bool:
        with open(lock_path, "a") as other:  # another open file: flock conflicts as another process's would
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(other, fcntl.LOCK_UN)
            return False

    def recording(name):
        original = getattr(storage, name)

        def call(*args, **kwargs):
            seen.append((name, lock_is_held()))
            return original(*args, **kwargs)

        monkeypatch.setattr(storage, name, call)

    for name in ("claim_concurrency_slot", "free_concurrency_slot_for_step"):
        recording(name)
    holder = dg.DagsterRun(job_name="nightly", run_id=str(uuid.uuid4()))
    waiter = dg.DagsterRun(job_name="nightly", run_id=str(uuid.uuid4()))
    with PatientConcurrencyContext(instance, holder) as holding:
        assert holding.claim("gpu", "security_triage")
        with PatientConcurrencyContext(instance, waiter) as waiting:
            assert not waiting.claim("gpu", "gpu_warmup")  # pending until the context ends
        holding.free_step("security_triage")
    assert {name for name, _ in seen} == {"claim_concurrency_slot", "free_concurrency_slot_for_step"}
    assert all(held for _, held in seen), seen
