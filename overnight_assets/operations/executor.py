"""The project's executor: Dagster's in-process executor, plus what a single host needs around the `gpu` pool.

Dagster 1.13.27's in-process executor waits for a pool slot in a loop that never sleeps
(`InstanceConcurrencyContext.interval_to_next_pending_claim_check` returns min(0, ...), never a
positive wait) and never looks for a termination signal (the multiprocess executor does): a run
blocked on the pool spins at ~100 % CPU and ignores SIGTERM and SIGINT, which Dagster only records
during execution. This executor runs the same plan with a concurrency context that
- sleeps until its next claim check, at most a second, so a signal is seen within a second;
- on SIGTERM/SIGINT while a step waits, asks for the run's cancellation and raises Dagster's own
  interruption: the run ends CANCELED and the pending claim is withdrawn;
- says once per blocked step who holds the pool (run, step, since when);
- takes and frees slots one process at a time on this host: Dagster's claim is check-then-act (it
  sees a free slot, then takes one), so two runs claiming at the same instant can both get the one
  `gpu` slot (benchmarks/gpu_pool_claim_race.py shows it); a lock file in DAGSTER_HOME closes that
  race for every run on this host.
It also records the worker's identity on the run (see run_workers.py) before any step claims a
slot, so a dead worker can be told from a live one, and frees the run's slots when its steps are
over, whatever ended them (in one process, no step of the run can still be running then).

The Dagster pieces used here are internal to 1.13.27 (pinned); operations tests exercise them
(test_pool_care_executor.py), and every `overnight run` goes through them.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster._core.definitions.executor_definition import IN_PROC_CONFIG, _core_in_process_executor_creation
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.execute_plan import inner_plan_execution_iterator
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.executor.in_process import InProcessExecutor
from dagster._utils.interrupts import check_captured_interrupt

from overnight_assets.operations.run_workers import WORKER_TAG, Host, SlotHolder, waiting_message

POOL_CLAIMS_LOCK = ".pool-claims.lock"  # in DAGSTER_HOME
LONGEST_WAIT_S = 1.0  # between claim checks of a blocked step: how late a termination signal is seen


@contextmanager
def pool_claims_lock(instance: dg.DagsterInstance) -> Iterator[None]:
    """Slot claims and releases of every run on this host, one at a time (see the module's note)."""
    if not instance.root_directory:  # an in-memory instance: it ignores pools anyway
        yield
        return
    with open(Path(instance.root_directory) / POOL_CLAIMS_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # claims are a few milliseconds: waiting here is short
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class PatientConcurrencyContext(InstanceConcurrencyContext):
    def __init__(self, instance: dg.DagsterInstance, run: dg.DagsterRun):
        super().__init__(instance, run)
        self._run = run
        self._announced: set[str] = set()

    def claim(self, concurrency_key: str, step_key: str, step_priority: int = 0) -> bool:
        if check_captured_interrupt():
            # a termination request, as the UI's Terminate: the run ends CANCELED, not "unexpectedly interrupted"
            message = f"Termination signal received while step {step_key} waited for the {concurrency_key} pool"
            self._instance.report_run_canceling(self._run, message)
            raise DagsterExecutionInterruptedError(message)
        with pool_claims_lock(self._instance):
            claimed = super().claim(concurrency_key, step_key, step_priority)
        if not claimed and step_key not in self._announced:
            self._announced.add(step_key)
            self._announce_wait(concurrency_key, step_key)
        return claimed

    def free_step(self, step_key) -> None:
        with pool_claims_lock(self._instance):  # a release hands the slot to a pending step: no claim meanwhile
            super().free_step(step_key)

    def __exit__(self, *exc_info):
        with pool_claims_lock(self._instance):
            return super().__exit__(*exc_info)

    def interval_to_next_pending_claim_check(self) -> float:
        if not self.has_pending_claims() or not self._pending_timeouts:
            return 0.0
        next_check = min(self._pending_timeouts.values()) - time.time()
        return min(max(next_check, 0.0), LONGEST_WAIT_S)

    def _announce_wait(self, pool: str, step_key: str) -> None:
        info = self._instance.event_log_storage.get_concurrency_info(pool)
        holders = [
            SlotHolder(pending.run_id, pending.step_key, pending.assigned_timestamp)
            for pending in info.pending_steps
            if pending.assigned_timestamp is not None
        ]
        message = f"{step_key} is {waiting_message(pool, holders)}"
        print(message, flush=True)
        self._instance.report_engine_event(message, self._run)


@contextmanager
def caring_for_pools(instance: dg.DagsterInstance, run: dg.DagsterRun) -> Iterator[None]:
    """Around a run's orchestration: its worker's identity recorded before any step claims a slot, and
    the run's slots freed once its steps are over, whatever ended them."""
    worker = Host.here().this_process()
    if worker is not None:
        instance.add_run_tags(run.run_id, {WORKER_TAG: worker.as_tag()})
    try:
        yield
    finally:
        with pool_claims_lock(instance):
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


class _PoolCareExecutor(InProcessExecutor):
    def execute(self, plan_context, execution_plan):
        with caring_for_pools(plan_context.instance, plan_context.dagster_run):
            yield from self._execute(plan_context, execution_plan)

    def _execute(self, plan_context, execution_plan):
        instance, run = plan_context.instance, plan_context.dagster_run
        pid, step_keys = os.getpid(), execution_plan.step_keys_to_execute
        yield dg.DagsterEvent.engine_event(
            plan_context,
            f"Executing steps in process (pid: {pid})",
            event_specific_data=EngineEventData.in_process(pid, step_keys),
        )
        yield from ExecuteRunWithPlanIterable(
            execution_plan=plan_context.execution_plan,
            iterator=_patient_execution_iterator,
            execution_context_manager=PlanExecutionContextManager(
                job=plan_context.job,
                retry_mode=plan_context.retry_mode,
                execution_plan=plan_context.execution_plan,
                run_config=plan_context.run_config,
                dagster_run=run,
                instance=instance,
                raise_on_error=plan_context.raise_on_error,
                output_capture=plan_context.output_capture,
                step_dependency_config=self.step_dependency_config,
            ),
        )


def _patient_execution_iterator(job_context, execution_plan):
    with PatientConcurrencyContext(job_context.instance, job_context.dagster_run) as concurrency:
        yield from inner_plan_execution_iterator(job_context, execution_plan, concurrency)


@dg.executor(name="in_process", config_schema=IN_PROC_CONFIG)
def pool_care_in_process_executor(init_context: dg.InitExecutorContext) -> InProcessExecutor:
    """Dagster's in-process executor (same config), waiting on a pool without spinning, stoppable by
    SIGTERM while it waits, and recording its worker's identity on the run."""
    core = _core_in_process_executor_creation(init_context.executor_config)
    return _PoolCareExecutor(core.retries, core.step_dependency_config, core.marker_to_close)
