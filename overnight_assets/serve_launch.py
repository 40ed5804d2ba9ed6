"""`overnight serve`'s Dagster side: the project's jobs as its code location lists them, runs launched
into that location as the UI and `overnight run` launch them (launch.py's Launcher: the run carries the
location's origin and the instance's run launcher starts its worker), and a run's status and verdicts.

The HTTP side, the token and the allowlist are operations/serve.py's; this module only answers it.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from dataclasses import replace

import dagster as dg
import uvicorn
from dagster._core.remote_representation.external_data import partition_set_snap_name_for_job_name

from overnight_assets.briefing.sensors import BRIEFING
from overnight_assets.cli import section_verdicts
from overnight_assets.launch import CODE_LOCATION, Launcher, code_location
from overnight_assets.operations.serve import JobInfo, RunView, allowed_jobs, build_app, check_token

TRIGGER_TAG = "overnight/trigger"  # on each run it launches: which runs came from another machine


def serve(config, host: str, port: int) -> None:
    """Serve until SIGTERM or Ctrl-C; refuses to start (RefusedToStart) without a token or with a bad allowlist."""
    token = check_token(os.environ.get(config.serve.token_env), config.serve.token_env)
    with _stopped_by_signals(), dg.DagsterInstance.get() as instance, code_location(instance) as launcher:
        runs = LocationRuns(launcher, config)
        allowed = allowed_jobs(runs.jobs(), config.serve.jobs)
        app = build_app(runs, token, allowed, config.serve.max_body_bytes)
        print(f"overnight serve: jobs {', '.join(sorted(allowed))} on http://{host}:{port}", flush=True)
        # the access log names method, path and status only: never a header, so never the token
        uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, timeout_graceful_shutdown=10)


class _Stop(Exception):
    pass


@contextmanager
def _stopped_by_signals():
    """SIGTERM and SIGINT as an exception that unwinds the service, so the code location's server is shut
    down on the way out rather than left behind by a process killed mid-way. While serving, uvicorn
    handles them (a graceful shutdown), then raises the one it caught again, to this handler."""

    def stop(number, frame):
        raise _Stop(signal.Signals(number).name)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except _Stop as stopped:
        print(f"overnight serve: {stopped} received: stopped", flush=True)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class LocationRuns:
    """serve.py's `Runs`: launches into the loaded code location, reads runs from the instance."""

    def __init__(self, launcher: Launcher, config):
        self.launcher, self.config = launcher, config
        self._launching = threading.Lock()  # one launch at a time through the location's workspace
        # Dagster's hidden asset jobs (`__ASSET_JOB`...) are not the project's to offer
        jobs = [job.name for job in launcher.repository.get_all_jobs() if not job.name.startswith("__")]
        self._jobs = {name: JobInfo(name, self._partition_checker(name)) for name in jobs}

    def jobs(self) -> dict[str, JobInfo]:
        return self._jobs

    def launch(self, job: str, partition: str | None) -> str:
        tags = {TRIGGER_TAG: "serve"} | ({"dagster/partition": partition} if partition else {})
        with self._launching:
            run = self.launcher.launch(job, tags)
        print(f"overnight serve: {job} run {run.run_id} launched{f' for {partition}' if partition else ''}", flush=True)
        return run.run_id

    def run(self, run_id: str) -> RunView | None:
        run = self.launcher.instance.get_run_by_id(run_id)
        if run is None or (run.remote_job_origin and run.remote_job_origin.location_name != CODE_LOCATION):
            return None
        partition = run.tags.get("dagster/partition")
        view = RunView(run.run_id, run.job_name, run.status.value, run.is_finished, partition)
        if not (run.is_finished and partition):
            return view
        briefing = self._briefing_of(run.run_id, partition)
        if briefing is None:
            return view
        status, latest = briefing
        if latest != run.run_id:  # the night was composed again since: its file holds the later run's verdicts
            return replace(view, overall=status, note=f"the night was composed again by run {latest}: ask it")
        return replace(view, overall=status, verdicts=section_verdicts(self.config, partition))

    def _briefing_of(self, run_id: str, partition: str) -> tuple[str, str] | None:
        """(the overall status of the briefing this run composed, the run of the night's latest briefing);
        None when this run composed none."""
        instance = self.launcher.instance
        records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        mine = [record.asset_materialization for record in records if record.asset_key == BRIEFING]
        if not mine:
            return None
        latest = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=BRIEFING, asset_partitions=[partition]), limit=1
        ).records
        return mine[-1].metadata["status"].value, latest[0].run_id if latest else run_id

    def _partition_checker(self, job: str):
        """For a partitioned job, what is wrong with a partition key (None: it is one of the job's); else None."""
        repository = self.launcher.repository
        name = partition_set_snap_name_for_job_name(job)
        if not repository.has_partition_set(name):
            return None
        partitions = repository.get_partition_set(name).get_partitions_definition()

        def problem(partition: str) -> str | None:
            if partitions.has_partition_key(partition):
                return None
            first, last = partitions.get_first_partition_key(), partitions.get_last_partition_key()
            return f"{partition!r} is not a partition of job {job!r}: expected one from {first} to {last}"

        return problem
