"""Running the project's jobs from the command line, where no daemon is: the nightly job for one
partition, and the briefing of a night whose run failed.

Runs are launched through the code location, as `dagster job launch` and the webserver do: the run
carries the location's origin, so it shows under its job in the UI and can be re-executed there,
and the instance's run launcher starts its worker (Dagster's default: a process of the location's
code server, which runs the job with the project's executor). The queue is skipped, so no daemon is
needed; the command waits for the run, printing each step as it ends.

A termination signal (SIGTERM, Ctrl-C) stops the run, not just the command: the run is terminated
as the UI's Terminate does (it ends CANCELED), and a worker still alive TERMINATION_GRACE_S later
is killed and its run marked canceled, so nothing goes on running unseen. A SIGKILL cannot be
caught: the run then goes on to its end in its worker, visible in the UI.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster._core.remote_representation.code_location import CodeLocation
from dagster._core.workspace.context import WorkspaceProcessContext, WorkspaceRequestContext
from dagster._core.workspace.load_target import ModuleTarget

from overnight_assets.briefing.sensors import AFTER_FAILED_RUN_TAG, AFTER_FAILURE_JOB, interrupted, no_briefing_needed
from overnight_assets.operations.executor import pool_claims_lock
from overnight_assets.operations.run_workers import WORKER_TAG, Host, Worker
from overnight_assets.operations.sensors import recover_dead_workers

CODE_LOCATION = "overnight_assets"  # as workspace.yaml and pyproject.toml's [tool.dagster] name it
DEFINITIONS_MODULE = "overnight_assets.definitions"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the code server's working directory, as workspace.yaml's
POLL_S = 0.5
RECOVERY_EVERY_S = 10.0  # while waiting: a worker that died takes its run's gpu slot with it
TERMINATION_GRACE_S = 30.0
STEP_EVENTS = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.STEP_SKIPPED}


class LaunchError(RuntimeError):
    """The code location could not be loaded or the run could not be launched."""


def run_nightly(partition: str, brief_after_failure: bool = False) -> bool:
    """Launch the nightly job for one partition in the instance at DAGSTER_HOME and wait for it;
    whether it succeeded. With brief_after_failure, a failed run's briefing is sent as the daemon's
    sensor would (there is no daemon here).

    Runs whose worker died on this host are failed first and their pool slots freed: without the
    daemon, nothing else would, and this night's LLM steps would wait for them for ever.
    """
    with dg.DagsterInstance.get() as instance:
        for line in recover_dead_workers(instance) + free_slots_of_finished_runs(instance):
            print(f"overnight: {line}", flush=True)
        with code_location(instance) as launcher:
            run = launcher.launch_and_wait("nightly", {"dagster/partition": partition})
            if run.status != dg.DagsterRunStatus.SUCCESS and brief_after_failure:
                brief_after_failed_night(launcher, run)
            return run.status == dg.DagsterRunStatus.SUCCESS


def brief_after_failed_night(launcher: Launcher, failed: dg.DagsterRun) -> bool:
    """`overnight run`'s stand-in for briefing_after_failure_sensor: run briefing_after_failure for
    the failed nightly run's partition. True when the briefing went out."""
    partition = failed.tags["dagster/partition"]
    if failed.status == dg.DagsterRunStatus.CANCELED or interrupted(launcher.instance, failed.run_id):
        # the owner stopped this command, or the run in the UI: stop, don't brief
        how = "terminated" if failed.status == dg.DagsterRunStatus.CANCELED else "interrupted by a signal"
        print(
            f"overnight: the nightly run {failed.run_id} was {how}: no briefing sent; "
            f"`overnight run --date {partition}` runs the night again"
        )
        return False
    if reason := no_briefing_needed(launcher.instance, failed):
        print(f"overnight: {reason}")
        return True
    run = launcher.launch_and_wait(
        AFTER_FAILURE_JOB, {"dagster/partition": partition, AFTER_FAILED_RUN_TAG: failed.run_id}
    )
    print(f"overnight: the nightly run {failed.run_id} failed; the briefing went out anyway (run {run.run_id})")
    return run.status == dg.DagsterRunStatus.SUCCESS


@contextmanager
def code_location(instance: dg.DagsterInstance) -> Iterator[Launcher]:
    """The project's code location, loaded in its own code server as the webserver loads it."""
    target = ModuleTarget(
        module_name=DEFINITIONS_MODULE,
        attribute=None,
        working_directory=str(PACKAGE_ROOT),
        location_name=CODE_LOCATION,
    )
    with WorkspaceProcessContext(instance, target, version=dg.__version__, code_server_log_level="WARNING") as process:
        workspace = process.create_request_context()
        error = workspace.get_code_location_error(CODE_LOCATION)
        if error is not None:
            raise LaunchError(f"the code location {CODE_LOCATION} did not load: {error.message.strip()}")
        yield Launcher(instance, workspace, workspace.get_code_location(CODE_LOCATION))


class Launcher:
    """Runs launched into the loaded code location, waited for; the location's server lives as long as this."""

    def __init__(self, instance: dg.DagsterInstance, workspace: WorkspaceRequestContext, location: CodeLocation):
        self.instance, self.workspace, self.location = instance, workspace, location

    def launch_and_wait(self, job_name: str, tags: dict[str, str]) -> dg.DagsterRun:
        """Launch the job with these tags and wait for its run to end; the finished run."""
        with _StopRequests() as stop:
            run = self.launch(job_name, tags)
            print(f"overnight: {job_name} run {run.run_id} launched ({_describe(tags)})", flush=True)
            return _wait(self.instance, run.run_id, stop)

    def launch(self, job_name: str, tags: dict[str, str]) -> dg.DagsterRun:
        """Launch the job with these tags, not waiting: the run, its worker started by the instance's run launcher."""
        run = self._create_run(job_name, tags)
        self.instance.launch_run(run.run_id, self.workspace)
        return run

    @property
    def repository(self):
        """The location's one repository, as its code server describes it (jobs, partition sets)."""
        (repository,) = self.location.get_repositories().values()
        return repository

    def _create_run(self, job_name: str, tags: dict[str, str]) -> dg.DagsterRun:
        """The run as the webserver's Launch creates it: the job's snapshot, plan and origins."""
        repository = self.repository
        if not repository.has_job(job_name):
            raise LaunchError(f"the code location {CODE_LOCATION} has no job {job_name}")
        job = repository.get_full_job(job_name)
        plan = self.location.get_execution_plan(
            job, {}, step_keys_to_execute=None, known_state=None, instance=self.instance
        ).execution_plan_snapshot
        return self.instance.create_run(
            job_name=job_name,
            run_id=None,
            run_config={},
            resolved_op_selection=None,
            step_keys_to_execute=None,
            status=dg.DagsterRunStatus.NOT_STARTED,
            op_selection=None,
            root_run_id=None,
            parent_run_id=None,
            tags={**(job.run_tags or {}), **tags},
            job_snapshot=job.job_snapshot,
            execution_plan_snapshot=plan,
            parent_job_snapshot=job.parent_job_snapshot,
            remote_job_origin=job.get_remote_origin(),
            job_code_origin=job.get_python_origin(),
            asset_selection=None,
            asset_check_selection=None,
            asset_graph=repository.asset_graph,
        )


class _StopRequests:
    """SIGTERM and SIGINT, noted rather than obeyed at once, while a run is waited for."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.received: str | None = None
        self._previous = {}

    def _note(self, number, frame) -> None:
        self.received = signal.Signals(number).name

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # where Python lets handlers be set
            self._previous = {number: signal.signal(number, self._note) for number in self.SIGNALS}
        return self

    def __exit__(self, *exc_info):
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def _wait(instance: dg.DagsterInstance, run_id: str, stop: _StopRequests) -> dg.DagsterRun:
    """Poll the run until it ends, printing its steps; a stop request terminates it."""
    cursor, terminating_since, next_recovery = None, None, time.monotonic() + RECOVERY_EVERY_S
    while True:
        run = instance.get_run_by_id(run_id)
        cursor = _print_steps(instance, run_id, cursor)
        if run.is_finished:
            print(f"overnight: {run.job_name} run {run_id} {run.status.value}", flush=True)
            for line in free_slots_of_finished_runs(instance):  # a worker that died freed nothing
                print(f"overnight: {line}", flush=True)
            return run
        if stop.received and terminating_since is None:
            print(f"overnight: {stop.received} received: terminating run {run_id}", flush=True)
            _terminate(instance, run_id)
            terminating_since = time.monotonic()
        elif terminating_since is not None and time.monotonic() - terminating_since > TERMINATION_GRACE_S:
            _force_termination(instance, run)
        elif time.monotonic() > next_recovery:
            for line in recover_dead_workers(instance):
                print(f"overnight: {line}", flush=True)
            next_recovery = time.monotonic() + RECOVERY_EVERY_S
        time.sleep(POLL_S)  # polling the instance: the run worker writes its events there


def _terminate(instance: dg.DagsterInstance, run_id: str) -> None:
    try:
        instance.run_launcher.terminate(run_id)
    except Exception as error:  # the code server may be gone (Ctrl-C reaches it too): the grace period decides
        print(f"overnight: the termination request failed ({type(error).__name__}); waiting for the run", flush=True)


def _force_termination(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    """The run did not end when asked: kill its worker, when it lives on this host, and mark the run canceled."""
    pid = _live_worker_pid(run)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
    done = f"its worker {pid} killed" if pid is not None else "no live worker of it on this host"
    message = f"The run did not end within {TERMINATION_GRACE_S:g} s of its termination: {done}"
    print(f"overnight: {message}", flush=True)
    instance.report_run_canceled(run, message=message)


def _live_worker_pid(run: dg.DagsterRun) -> int | None:
    """The pid of the run's worker when that process lives on this host (the same one: not a reused pid)."""
    worker, host = Worker.from_tag(run.tags.get(WORKER_TAG)), Host.here()
    if worker is None or (worker.host, worker.boot_id, worker.pid_namespace) != (
        host.name,
        host.boot_id,
        host.pid_namespace,
    ):
        return None
    return worker.pid if host.process_start(worker.pid) == worker.start_ticks else None


def free_slots_of_finished_runs(instance: dg.DagsterInstance) -> list[str]:
    """Free the pool slots still claimed by runs that have ended; one line per run.

    A run worker that died leaves its slots claimed even when its run is then marked failed (the
    code server marks it, it frees nothing); the daemon's run monitoring frees such slots a minute
    after the run ended, and without the daemon nothing would.
    """
    storage, freed = instance.event_log_storage, []
    for run_id in sorted(storage.get_concurrency_run_ids()):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            with pool_claims_lock(instance):
                storage.free_concurrency_slots_for_run(run_id)
            freed.append(f"run {run_id} ended ({run.status.value if run else 'deleted'}): its pool slots freed")
    return freed


def _print_steps(instance: dg.DagsterInstance, run_id: str, cursor: str | None) -> str | None:
    """Print each step that ended since the cursor; the new cursor."""
    page = instance.get_records_for_run(run_id, cursor=cursor, of_type=STEP_EVENTS)
    for record in page.records:
        event = record.event_log_entry.dagster_event
        if event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            done = f"done in {event.event_specific_data.duration_ms / 1000:.1f} s"
        else:
            done = "FAILED" if event.event_type == dg.DagsterEventType.STEP_FAILURE else "skipped"
        print(f"overnight:   {event.step_key} {done}", flush=True)
    return page.cursor if page.records else cursor


def _describe(tags: dict[str, str]) -> str:
    return ", ".join(f"{key.split('/')[-1]} {value}" for key, value in tags.items())
