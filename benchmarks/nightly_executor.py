"""The nightly job end to end: the project's in-process executor against Dagster's multiprocess one,
and what launching it as `overnight run` does (through the code location) adds.

Measures the wall time of `dg.execute_job(dg.reconstructable(...))` - the job run in one process,
as a run worker runs it - on a real SQLite DAGSTER_HOME with the repo's dagster.yaml (pool `gpu`
limited to 1), against a loopback Ollama that answers instantly and a loopback Slack. Every
night's auth log holds 12 failed root logins from a new address, so the triage gate says AMBER
and the LLM is asked (a new address per night: the LLM cache cannot answer for it). The two
variants run the identical assets and resources; they alternate, each on fresh partitions, and
the figure is the median of REPEATS runs. A third variant is `overnight run`'s own path
(launch.run_nightly): it starts the code location's server, launches the run into a worker
process and waits for it. The in-process variants run in this warm process (the code location is
imported once); a launched night pays two process starts (the code server, the run worker), which
its "call to run start" figure measures: what launching adds to every `overnight run`.

Target: in-process wall time at most 1/6 of the multiprocess one.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
from datetime import date, timedelta

import dagster as dg

REPEATS = 3
FIRST_NIGHT = date(2026, 11, 1)
STARTUP: list[float] = []  # launched nights: from the call to the run's start in its worker


def nightly_job() -> dg.JobDefinition:
    from overnight_assets.definitions import defs

    return defs.resolve_job_def("nightly")


def multiprocess_nightly() -> dg.JobDefinition:
    """The nightly job's assets and resources under Dagster's default multiprocess executor."""
    from overnight_assets.definitions import NIGHTLY, defs

    job = dg.define_asset_job("nightly_multiprocess", selection=NIGHTLY, executor_def=dg.multiprocess_executor)
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)


def run_once(job_fn, partition: str) -> tuple[float, str]:
    with dg.DagsterInstance.get() as instance:
        started = time.perf_counter()
        with dg.execute_job(
            dg.reconstructable(job_fn), instance=instance, tags={"dagster/partition": partition}
        ) as result:
            seconds = time.perf_counter() - started
            if not result.success:
                raise SystemExit(f"{job_fn.__name__} failed for {partition}")
            return seconds, result.run_id


def run_launched(partition: str) -> tuple[float, str]:
    """`overnight run`'s path: the code location's server, the run launched into its worker, waited for."""
    from overnight_assets.launch import run_nightly

    called, started = time.time(), time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # its progress lines: the figures are what counts here
        succeeded = run_nightly(partition)
    seconds = time.perf_counter() - started
    if not succeeded:
        raise SystemExit(f"the launched night failed for {partition}")
    with dg.DagsterInstance.get() as instance:
        (record,) = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": partition}), limit=1)
        run_id = record.dagster_run.run_id
        (start,) = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_START)
    STARTUP.append(start.timestamp - called)
    return seconds, run_id


def check_same_work() -> None:
    ours, theirs = nightly_job(), multiprocess_nightly()
    assert ours.executor_def.name == "in_process" and theirs.executor_def is dg.multiprocess_executor
    assert ours.asset_layer.executable_asset_keys == theirs.asset_layer.executable_asset_keys
    assert set(ours.resource_defs) == set(theirs.resource_defs)


def night_facts(run_id: str, partition: str) -> dict:
    """What the run did: triage status, time inside steps, pool waits and lock errors in its event log."""
    with dg.DagsterInstance.get() as instance:
        records = instance.all_logs(run_id)
        triage = instance.get_latest_materialization_event(dg.AssetKey("security_triage")).asset_materialization
        assert triage.partition == partition
        messages = [record.message or "" for record in records]
        stamps = {
            (record.step_key, record.dagster_event.event_type_value): record.timestamp
            for record in records
            if record.dagster_event and record.dagster_event.event_type_value in ("STEP_START", "STEP_SUCCESS")
        }
        steps = {step for step, kind in stamps if kind == "STEP_SUCCESS"}
        return {
            "triage": triage.metadata["status"].value,
            "steps": len(steps),
            "step_seconds": sum(stamps[step, "STEP_SUCCESS"] - stamps[step, "STEP_START"] for step in steps),
            "pool_waits": sum("blocked by limit for pool" in m for m in messages),
            "locked": sum("database is locked" in m for m in messages),
        }


def main() -> None:
    from _loopback import loopback
    from _report import figure, report

    variants = {"in_process": nightly_job, "multiprocess": multiprocess_nightly, "launched": None}
    times: dict[str, list[float]] = {name: [] for name in variants}
    with loopback() as env:
        check_same_work()
        env.ollama.overrides = {"status": "AMBER", "summary": "Brute force from one address."}
        night = FIRST_NIGHT
        for _ in range(REPEATS):
            for name, job_fn in variants.items():
                env.plant_failed_logins(night, f"203.0.113.{night.day}")
                chats_before = len(env.ollama.chats)
                seconds, run_id = run_once(job_fn, night.isoformat()) if job_fn else run_launched(night.isoformat())
                facts = night_facts(run_id, night.isoformat())
                asked = len(env.ollama.chats) - chats_before
                times[name].append(seconds)
                print(
                    f"  {name:<12} {night} {seconds:6.2f} s  triage {facts['triage']}, "
                    f"{facts['steps']} steps taking {facts['step_seconds']:.2f} s, "
                    f"{asked} LLM chats, pool waits {facts['pool_waits']}, 'database is locked' {facts['locked']}"
                )
                assert facts["triage"] == "AMBER" and asked >= 1, "the LLM was not asked: the run is not AMBER"
                night += timedelta(days=1)
        with dg.DagsterInstance.get() as instance:
            gpu = instance.event_log_storage.get_concurrency_info("gpu")
            print(f"  gpu pool: limit {gpu.slot_count}, slots still claimed after the runs {gpu.active_slot_count}")

    in_process, multiprocess, launched = (statistics.median(times[name]) for name in variants)
    ratio = in_process / multiprocess
    report(
        "nightly_executor",
        [
            figure("in_process_executor median wall", in_process, "s"),
            figure("multiprocess_executor median wall", multiprocess, "s"),
            figure("in_process / multiprocess", ratio, "ratio", "<= 0.167", ratio <= 1 / 6),
            figure("overnight run (launched) median wall", launched, "s"),
            figure("launched: call to run start", statistics.median(STARTUP), "s"),
        ],
    )


if __name__ == "__main__":
    main()
