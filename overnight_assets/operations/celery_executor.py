"""The distributed mode (`execution.mode: celery`): dagster-celery's executor, with the project's pool care.

Every step goes to a Celery queue: a step of the `gpu` pool to `execution.gpu_queue`, which only the
GPU host's worker serves, every other step to `execution.default_queue`. The queue is derived here
from the step's pool, so an asset joins the GPU host by being declared in the pool (gpu.py), never by
a list of assets; the plan's steps carry it as dagster-celery's own `dagster-celery/queue` tag.

Pools still hold across runs and hosts: dagster-celery 0.29.27 orchestrates a run in its run worker
(core_celery_execution_loop) through Dagster's ActiveExecution with an InstanceConcurrencyContext, so
a `gpu` step is submitted to Celery only once its slot is claimed in the instance, and the slot is
freed when the step's events come back from the worker. Every claim is made by a run worker on the
Dagster host, never by a Celery worker: the claims lock in DAGSTER_HOME (executor.py) still closes the
claim race. This executor runs that same loop with the project's PatientConcurrencyContext (claims
under the lock, the holder named once to a blocked step) and the same care around it as the
in-process one: the run worker's identity on the run, the run's slots freed when its steps are over.
The loop's module names its concurrency context as a global, so the loop is rebound to ours rather
than copied (pinned: dagster-celery 0.29.27).

Broker and result backend URLs may carry passwords: they are read from the environment variables the
config names (Celery's own CELERY_BROKER_URL and CELERY_RESULT_BACKEND by default, which the workers
read too), when the run starts, and never written to the run's config, tags or logs.
"""

from __future__ import annotations

import os
import types
from collections.abc import Mapping

import dagster as dg
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.plan.step import ExecutionStep

from overnight_assets.config import ExecutionConfig
from overnight_assets.operations.executor import (
    PatientConcurrencyContext,
    caring_for_pools,
    pool_care_in_process_executor,
)
from overnight_assets.resources.dagster_resources import CORTEX_MACHINE_TAG, this_machine
from overnight_assets.secret_urls import redact_text

PROBE_TIMEOUT_S = 5.0  # a broker that does not answer a connection in this long is down for the run
QUEUE_TAG = "dagster-celery/queue"  # dagster_celery.tags.DAGSTER_CELERY_QUEUE_TAG
GPU_POOL = "gpu"


def queue_for(pool: str | None, queues_by_pool: Mapping[str, str], default_queue: str) -> str:
    return queues_by_pool.get(pool or "", default_queue)


def routed_plan(plan: ExecutionPlan, queues_by_pool: Mapping[str, str], default_queue: str) -> ExecutionPlan:
    """The plan with each step's queue set from its pool (a queue tag set by hand on an op wins)."""

    def routed(step):
        if not isinstance(step, ExecutionStep) or QUEUE_TAG in step.tags:
            return step
        return step._replace(tags={**step.tags, QUEUE_TAG: queue_for(step.pool, queues_by_pool, default_queue)})

    steps = {handle: routed(step) for handle, step in plan.step_dict.items()}
    return plan._replace(step_dict=steps, step_dict_by_key={step.key: step for step in steps.values()})


def broker_urls(config: ExecutionConfig, environ: Mapping[str, str] = os.environ) -> tuple[str, str]:
    """(broker, backend) from the variables the config names; an unset one is an error naming the variable."""
    missing = [name for name in (config.broker_env, config.backend_env) if not environ.get(name)]
    if missing:
        raise dg.DagsterInvariantViolationError(
            f"execution.mode is celery but {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
            "set the broker URL and the result backend URL (e.g. redis://host:6379/0) in the environment of "
            "every Dagster process and of every Celery worker"
        )
    return environ[config.broker_env], environ[config.backend_env]


def check_reachable(config: ExecutionConfig, environ: Mapping[str, str] = os.environ) -> None:
    """Broker and result backend answer, or the run fails now, before any step claims a slot, naming the
    variable. Unprobed, a dead result backend fails the first submission only after Celery's ~20 s of
    retries, with "the Celery application must be restarted", which names neither."""
    problems = [
        f"the {role} in ${variable} is not reachable ({problem})"
        for role, variable in (("broker", config.broker_env), ("result backend", config.backend_env))
        if (problem := _unreachable(environ[variable]))
    ]
    if problems:
        raise dg.DagsterInvariantViolationError(
            f"execution.mode is celery but {' and '.join(problems)}: start Redis or fix the variable, in the "
            "environment of every Dagster process and of every Celery worker"
        )


def _unreachable(url: str) -> str | None:
    """Why a connection to `url` (a broker or a Redis/AMQP result backend) fails, without its password."""
    from kombu import Connection

    if url.split("://", 1)[0] not in ("redis", "rediss", "amqp", "amqps", "pyamqp"):
        return None  # a backend kombu does not speak (db+..., rpc://): Celery reports it itself
    try:
        with Connection(url, connect_timeout=PROBE_TIMEOUT_S) as connection:
            connection.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT_S)
    except Exception as error:  # kombu's OperationalError, redis-py's errors, a timeout
        return redact_text(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)
    return None


def build_celery_executor(config: ExecutionConfig) -> dg.ExecutorDefinition:
    """dagster-celery's executor (its `retries` config) for the queues and variables of `execution:`."""
    from dagster._core.execution.retries import RetryMode, get_retries_config
    from dagster_celery.core_execution_loop import core_celery_execution_loop
    from dagster_celery.executor import CeleryExecutor, _submit_task

    patient_loop = types.FunctionType(
        core_celery_execution_loop.__code__,
        {**core_celery_execution_loop.__globals__, "InstanceConcurrencyContext": PatientConcurrencyContext},
        core_celery_execution_loop.__name__,
    )

    class PoolCareCeleryExecutor(CeleryExecutor):
        def execute(self, plan_context, execution_plan):
            check_reachable(config)
            plan = routed_plan(execution_plan, {GPU_POOL: config.gpu_queue}, config.default_queue)
            if machine := this_machine():  # Cortex is this machine's: a step elsewhere refuses it
                plan_context.instance.add_run_tags(plan_context.dagster_run.run_id, {CORTEX_MACHINE_TAG: machine})
            with caring_for_pools(plan_context.instance, plan_context.dagster_run):
                yield from patient_loop(plan_context, plan, step_execution_fn=_submit_task)

    @dg.executor(
        name="celery",
        config_schema={"retries": get_retries_config()},
        requirements=dg.multiple_process_executor_requirements(),
    )
    def pool_care_celery_executor(init_context: dg.InitExecutorContext) -> CeleryExecutor:
        broker, backend = broker_urls(config)
        return PoolCareCeleryExecutor(
            broker=broker,
            backend=backend,
            config_source={"task_default_queue": config.default_queue},
            retries=RetryMode.from_config(init_context.executor_config["retries"]),
        )

    return pool_care_celery_executor


def build_executor(config: ExecutionConfig) -> dg.ExecutorDefinition:
    """The executor `execution.mode` selects; the in-process one unless the file says celery."""
    if config.mode == "in_process":
        return pool_care_in_process_executor
    try:
        import dagster_celery  # noqa: F401
    except ImportError:
        raise dg.DagsterInvariantViolationError(
            "execution.mode is celery but dagster-celery is not installed: pip install 'overnight_assets[distributed]'"
        ) from None
    return build_celery_executor(config)
