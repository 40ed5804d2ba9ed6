"""Launching from the command line: into the code location the webserver loads, and never leaving a
run going on behind a stopped command."""

import os
import shutil
import signal
import subprocess
import tomllib
import uuid

import dagster as dg
import pytest
import yaml

from overnight_assets import launch
from overnight_assets.operations.run_workers import WORKER_TAG, Host, Worker
from overnight_assets_tests.testkit import REPO


def test_runs_are_launched_into_the_code_location_the_workspace_names():
    """The webserver finds a run's job by its location's name: `overnight run` must use the same."""
    (entry,) = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"]
    assert entry["python_module"] == {"module_name": launch.DEFINITIONS_MODULE, "location_name": launch.CODE_LOCATION}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dagster"]
    assert (project["module_name"], project["code_location_name"]) == (launch.DEFINITIONS_MODULE, launch.CODE_LOCATION)


def test_a_run_still_going_after_its_termination_grace_is_killed_and_canceled(tmp_path, monkeypatch, capsys):
    """SIGTERM while waiting: the run is terminated; when its worker has not ended by the grace period
    (here the termination request reaches no code server, as after a Ctrl-C that took the server
    down), the worker is killed and the run marked canceled, so nothing runs on unseen."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    worker = subprocess.Popen(["sleep", "600"])
    host = Host.here()
    tag = Worker(host.name, host.boot_id, host.pid_namespace, worker.pid, host.process_start(worker.pid)).as_tag()
    monkeypatch.setattr(launch, "TERMINATION_GRACE_S", 0.5)
    handler = signal.getsignal(signal.SIGTERM)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            run = dg.DagsterRun(
                job_name="nightly", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED, tags={WORKER_TAG: tag}
            )
            instance.add_run(run)
            with launch._StopRequests() as stop:
                os.kill(os.getpid(), signal.SIGTERM)  # noted by the handler, not obeyed at once
                ended = launch._wait(instance, run.run_id, stop)
            assert ended.status == dg.DagsterRunStatus.CANCELED
        assert worker.wait(timeout=10) == -signal.SIGKILL
    finally:
        worker.kill()
        worker.wait()
    output = capsys.readouterr().out
    assert f"overnight: SIGTERM received: terminating run {run.run_id}" in output
    assert f"The run did not end within 0.5 s of its termination: its worker {worker.pid} killed" in output
    assert signal.getsignal(signal.SIGTERM) is handler  # the handling from before is back


def test_a_code_location_that_does_not_load_is_said_in_one_line(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setattr(launch, "DEFINITIONS_MODULE", "overnight_assets.no_such_module")
    with (
        dg.DagsterInstance.from_config(str(home)) as instance,
        pytest.raises(launch.LaunchError) as raised,
        launch.code_location(instance),
    ):
        pass
    assert str(raised.value).startswith("the code location overnight_assets did not load: ")
    assert "No module named 'overnight_assets.no_such_module'" in str(raised.value)
