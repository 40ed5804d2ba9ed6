"""A distributed run's steps open Cortex only on the machine it lives on: DuckDB's lock holds between the
processes of one kernel, so a step on a second machine fails before it writes anything."""

import dagster as dg

from overnight_assets.resources.dagster_resources import (
    CORTEX_MACHINE_TAG,
    CortexResource,
    cortex_elsewhere,
    this_machine,
)


def remember_one(tmp_path, tags: dict) -> dg.ExecuteInProcessResult:
    @dg.asset
    def remembers(cortex: CortexResource) -> None:
        cortex.get().remember([{"kind": "note", "source": "test", "title": "one"}])

    resources = {"cortex": CortexResource(path=str(tmp_path / "cortex.duckdb"))}
    job = dg.Definitions(assets=[remembers], resources=resources).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(tags=tags, raise_on_error=False)


def test_a_step_on_the_run_s_cortex_machine_writes(tmp_path):
    assert this_machine() is not None  # Linux: the kernel's boot id is there
    assert remember_one(tmp_path, {CORTEX_MACHINE_TAG: this_machine()}).success
    assert remember_one(tmp_path, {}).success  # not a distributed run: nothing to check
    assert (tmp_path / "cortex.duckdb").exists()


def test_a_step_on_another_machine_fails_before_writing(tmp_path):
    elsewhere = "host=dagster-box boot=00000000-0000-0000-0000-000000000000"
    result = remember_one(tmp_path, {CORTEX_MACHINE_TAG: elsewhere})
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_failure]
    assert "written on dagster-box for this run" in str(failure.event_specific_data.error)
    assert not (tmp_path / "cortex.duckdb").exists()


def test_containers_of_one_machine_share_its_kernel_and_so_its_cortex():
    here = "host=worker-container boot=abc"
    assert cortex_elsewhere("host=code-server-container boot=abc", here) is None
    assert "written on gpu-box" in cortex_elsewhere("host=gpu-box boot=def", here)
