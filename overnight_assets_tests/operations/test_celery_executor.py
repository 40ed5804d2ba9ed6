"""The distributed mode: the nightly job under dagster-celery, a gpu worker and a default worker.

The two hosts are two worker processes on this machine (not two network namespaces: the workers
share the SQLite DAGSTER_HOME, as two hosts share PostgreSQL). The night is launched as `overnight
run` launches it (a code server, a run worker that orchestrates); dagster-celery's own engine event
names the worker that ran each step.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket

import dagster as dg
import pytest
from dagster._core.execution.api import create_execution_plan

from overnight_assets.config import ExecutionConfig, load_config
from overnight_assets.definitions import build_defs
from overnight_assets.operations.celery_executor import GPU_POOL, QUEUE_TAG, broker_urls, routed_plan
from overnight_assets.resources.cortex import Cortex
from overnight_assets.resources.dagster_resources import CORTEX_MACHINE_TAG, cortex_elsewhere, this_machine
from overnight_assets_tests.testkit import REPO, SAMPLES, require_or_skip
from overnight_assets_tests.testkit.celery_workers import (
    Queues,
    celery_env,
    celery_workers,
    elsewhere,
    overlapping,
    redis_reachable,
    step_runs,
)
from overnight_assets_tests.testkit.config import write_config
from overnight_assets_tests.testkit.cortex_server import TOKEN_ENV, cortex_server
from overnight_assets_tests.testkit.fake_ollama import FakeOllama
from overnight_assets_tests.testkit.fake_slack import FakeSlack
from overnight_assets_tests.testkit.loopback import serving
from overnight_assets_tests.testkit.nights import FAILED_LOGINS, NIGHT, append_to_auth_log, finished, overnight_run

GPU_HOST = "gpu-box"
TOKEN = "the-cortex-token-of-the-celery-test"
OTHER_NIGHT = "2026-11-18"  # run beside NIGHT; not its previous night, so NIGHT's briefing does not depend on it


@contextlib.contextmanager
def night_under_celery(root, nights, gpu_host=None, env_extra=None, **overrides):
    """`nights` launched at once as `overnight run` launches them, run by a gpu and a default worker: (config,
    instance, the run id of nights[0], worker nodes, the loopback Ollama)."""
    require_or_skip(redis_reachable(), "Redis is not reachable at 127.0.0.1:6379")
    host = root / "host"
    shutil.copytree(SAMPLES, host)
    append_to_auth_log(host, FAILED_LOGINS)
    queues = Queues.fresh()
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    with (
        serving(FakeOllama()) as ollama,
        serving(FakeSlack(), "/api/") as slack,
        dg.DagsterInstance.from_config(str(dagster_home)) as instance,
    ):
        ollama.overrides = {"status": "AMBER", "summary": "Brute force from one address."}
        config_path = write_config(root, host, ollama.url, slack.url, **queues.config(), **overrides)
        cleared = ("OVERNIGHT_CONFIG", "OVERNIGHT_HOME", "OLLAMA_HOST", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
        env = celery_env(
            {
                **{key: value for key, value in os.environ.items() if key not in cleared},
                "DAGSTER_HOME": str(dagster_home),
                "OVERNIGHT_CONFIG": str(config_path),
                "OVERNIGHT_TEST_SLACK_TOKEN": slack.token,
                "NO_PROXY": "127.0.0.1,localhost",
                **(env_extra or {}),
            }
        )
        with celery_workers(env, queues, root, gpu_host) as nodes:
            launched = [overnight_run(night, config_path, env) for night in nights]  # at once
            for code, output in map(finished, launched):
                assert code == 0, output
        (record,) = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": nights[0]}))
        yield load_config(config_path), instance, record.dagster_run.run_id, nodes, ollama


@pytest.fixture(scope="module")
def celery_night(tmp_path_factory):
    """An AMBER night run under the celery executor by two workers, beside another night launched at the
    same moment: (config, instance, the AMBER night's run id, worker nodes, the loopback Ollama)."""
    with night_under_celery(tmp_path_factory.mktemp("celery"), (NIGHT, OTHER_NIGHT)) as night:
        yield night


@pytest.fixture(scope="module")
def served_night(tmp_path_factory):
    """The AMBER night with Cortex served (memory.server_url) and the gpu worker as on another machine, GPU_HOST:
    its own host name and kernel boot id. Yields celery_night's tuple and that worker's machine."""
    root = tmp_path_factory.mktemp("celery-served")
    gpu_host = (GPU_HOST, elsewhere(GPU_HOST, root))
    require_or_skip(bool(gpu_host[1]), "no user namespaces here: cannot run a worker as on another machine")
    with cortex_server(root / "cortexd", TOKEN) as served:
        overrides = {"memory__server_url": served.url, "memory__server_token_env": TOKEN_ENV}
        with night_under_celery(root, (NIGHT,), gpu_host, {TOKEN_ENV: TOKEN}, **overrides) as night:
            yield night, f"host={GPU_HOST} boot={(root / f'boot_id-{GPU_HOST}').read_text().strip()}"


def gpu_steps(config) -> set[str]:
    job = build_defs(config).resolve_job_def("nightly")
    return {node.name for node in job.graph.nodes if node.definition.pool == GPU_POOL}


def test_gpu_steps_ran_on_the_gpu_worker_and_the_others_on_the_default_one(celery_night):
    config, instance, run_id, nodes, _ = celery_night
    runs = step_runs(instance, run_id)
    run = instance.get_run_by_id(run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags[CORTEX_MACHINE_TAG] == this_machine()  # the workers' steps checked it: one machine here
    gpu = gpu_steps(config)
    assert {"gpu_warmup", "security_triage", "morning_briefing"} <= gpu < set(runs)
    assert {step: run.worker for step, run in runs.items() if step in gpu} == dict.fromkeys(gpu, nodes["gpu"])
    others = set(runs) - gpu
    assert {step: run.worker for step, run in runs.items() if step in others} == dict.fromkeys(others, nodes["default"])


def test_no_two_gpu_steps_overlapped_across_both_runs(celery_night):
    config, instance, _, nodes, ollama = celery_night
    gpu = gpu_steps(config)
    records = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": [NIGHT, OTHER_NIGHT]}))
    assert len(records) == 2
    runs = [
        run for record in records for step, run in step_runs(instance, record.dagster_run.run_id).items() if step in gpu
    ]
    assert len(runs) == 2 * len(gpu) and {run.worker for run in runs} == {nodes["gpu"]}
    assert overlapping(runs) == []
    assert instance.event_log_storage.get_concurrency_info(GPU_POOL).active_slot_count == 0  # all freed
    assert ollama.chats, "the LLM was never asked: the night was not AMBER"


def test_the_briefing_is_the_in_process_ones(celery_night, tmp_path, instance):
    config, *_ = celery_night
    in_process = config.model_copy(
        update={"home": str(tmp_path / "home"), "execution": ExecutionConfig(mode="in_process")}
    )
    result = (
        build_defs(in_process).resolve_job_def("nightly").execute_in_process(partition_key=NIGHT, instance=instance)
    )
    assert result.success
    assert in_process.paths.briefing(NIGHT).read_text() == config.paths.briefing(NIGHT).read_text()


def test_with_cortex_served_the_gpu_steps_run_on_another_machine_and_the_briefing_is_the_same(
    served_night, tmp_path, instance, monkeypatch
):
    (config, dagster, run_id, nodes, ollama), gpu_machine = served_night
    run = dagster.get_run_by_id(run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert cortex_elsewhere(run.tags[CORTEX_MACHINE_TAG], gpu_machine)  # without a server, the guard would refuse
    runs = step_runs(dagster, run_id)
    gpu = gpu_steps(config)
    assert nodes["gpu"].endswith(f"@{GPU_HOST}") and socket.gethostname() != GPU_HOST
    assert {step: run.worker for step, run in runs.items() if step in gpu} == dict.fromkeys(gpu, nodes["gpu"])
    assert ollama.chats, "the LLM was never asked: the night was not AMBER"
    assert not config.paths.cortex.exists()  # every step wrote through the server, none opened a file here
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    cached = Cortex.of(config).query("SELECT count(*) FROM llm_cache")[1][0][0]
    assert cached > 0  # the gpu steps' answers, written from the other machine
    in_process = config.model_copy(
        update={
            "home": str(tmp_path / "home"),
            "execution": ExecutionConfig(mode="in_process"),
            "memory": config.memory.model_copy(update={"server_url": None}),
        }
    )
    result = (
        build_defs(in_process).resolve_job_def("nightly").execute_in_process(partition_key=NIGHT, instance=instance)
    )
    assert result.success
    assert in_process.paths.briefing(NIGHT).read_text() == config.paths.briefing(NIGHT).read_text()


def test_each_step_is_routed_by_its_pool_and_a_hand_set_queue_wins():
    job = build_defs(load_config(REPO / "overnight.example.yaml")).resolve_job_def("nightly")
    plan = routed_plan(create_execution_plan(job), {GPU_POOL: "the-gpu"}, "the-rest")
    steps = plan.get_all_steps_in_topo_order()
    queues = {step.key: step.tags[QUEUE_TAG] for step in steps}
    assert queues["security_triage"] == queues["gpu_warmup"] == "the-gpu" and queues["morning_delivery"] == "the-rest"
    assert all((queues[step.key] == "the-gpu") == (step.pool == GPU_POOL) for step in steps)
    first = plan.get_all_steps_in_topo_order()[0]
    pinned = plan._replace(step_dict={first.handle: first._replace(tags={**first.tags, QUEUE_TAG: "by-hand"})})
    assert routed_plan(pinned, {GPU_POOL: "the-gpu"}, "the-rest").step_dict[first.handle].tags[QUEUE_TAG] == "by-hand"


def test_the_broker_comes_from_the_named_variables_and_a_missing_one_is_named_not_shown():
    config = ExecutionConfig(mode="celery", broker_env="MY_BROKER", backend_env="MY_BACKEND")
    secret = "redis://:hunter2@gpu-box:6379/0"
    assert broker_urls(config, {"MY_BROKER": secret, "MY_BACKEND": secret}) == (secret, secret)
    with pytest.raises(dg.DagsterInvariantViolationError, match="MY_BACKEND is not set") as error:
        broker_urls(config, {"MY_BROKER": secret})
    assert "hunter2" not in str(error.value)


DEAD_BROKER = "redis://:s3cret-broker-pw@127.0.0.1:1/0"  # nothing listens on port 1


def test_a_dead_broker_fails_the_night_at_once_naming_the_variable_not_the_url_and_frees_every_slot(tmp_path):
    host = tmp_path / "host"
    shutil.copytree(SAMPLES, host)
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    with serving(FakeOllama()) as ollama, dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        config_path = write_config(tmp_path, host, ollama.url, "http://127.0.0.1:1/api/", **Queues.fresh().config())
        cleared = ("OVERNIGHT_CONFIG", "OVERNIGHT_HOME", "OLLAMA_HOST")
        env = {key: value for key, value in os.environ.items() if key not in cleared}
        env = celery_env({**env, "DAGSTER_HOME": str(dagster_home), "NO_PROXY": "127.0.0.1,localhost"})
        env |= {"CELERY_BROKER_URL": DEAD_BROKER, "CELERY_RESULT_BACKEND": DEAD_BROKER}
        code, output = finished(overnight_run(NIGHT, config_path, env))
        records = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": NIGHT}))
        assert code != 0
        runs = {record.dagster_run.job_name: record.dagster_run for record in records}
        assert set(runs) == {"nightly", "briefing_after_failure"}
        night = runs["nightly"]
        assert night.status == dg.DagsterRunStatus.FAILURE
        logs = "\n".join(str(entry) for entry in instance.all_logs(night.run_id))
        assert "$CELERY_BROKER_URL is not reachable" in logs, logs[-3000:]
        submitted = [
            entry for entry in instance.all_logs(night.run_id) if "Submitting celery task" in (entry.message or "")
        ]
        assert submitted == []  # refused before any step was sent, or claimed a slot
        # the failed night's briefing still goes out: it runs in-process, whatever the broker
        assert runs["briefing_after_failure"].status == dg.DagsterRunStatus.SUCCESS
        everything = "\n".join(str(entry) for run in runs.values() for entry in instance.all_logs(run.run_id))
        assert "s3cret-broker-pw" not in everything + output
        assert instance.event_log_storage.get_concurrency_info(GPU_POOL).active_slot_count == 0
        assert instance.event_log_storage.get_concurrency_info(GPU_POOL).pending_step_count == 0
