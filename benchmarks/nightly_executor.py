"""The nightly job end to end: the project's in-process executor against Dagster's multiprocess one.

Measures the wall time of `dg.execute_job(dg.reconstructable(...))` - the way `overnight run`
executes a night - on a real SQLite DAGSTER_HOME with the repo's dagster.yaml (pool `gpu`
limited to 1), against a loopback Ollama that answers instantly and a loopback Slack. Every
night's auth log holds 12 failed root logins from a new address, so the triage gate says AMBER
and the LLM is asked (a new address per night: the LLM cache cannot answer for it). The two
variants run the identical assets and resources; they alternate, each on fresh partitions, and
the figure is the median of REPEATS runs.

Target: in-process wall time at most 1/6 of the multiprocess one.
"""

from __future__ import annotations

import statistics
import time
from datetime import date, timedelta

import dagster as dg

REPEATS = 3
FIRST_NIGHT = date(2026, 11, 1)


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


def check_same_work() -> None:
    from overnight_assets.launch import nightly_job

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

    from overnight_assets.launch import nightly_job

    variants = {"in_process": nightly_job, "multiprocess": multiprocess_nightly}
    times: dict[str, list[float]] = {name: [] for name in variants}
    with loopback() as env:
        check_same_work()
        env.ollama.overrides = {"status": "AMBER", "summary": "Brute force from one address."}
        night = FIRST_NIGHT
        for _ in range(REPEATS):
            for name, job_fn in variants.items():
                env.plant_failed_logins(night, f"203.0.113.{night.day}")
                chats_before = len(env.ollama.chats)
                seconds, run_id = run_once(job_fn, night.isoformat())
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

    in_process, multiprocess = (statistics.median(times[name]) for name in variants)
    ratio = in_process / multiprocess
    report(
        "nightly_executor",
        [
            figure("in_process_executor median wall", in_process, "s"),
            figure("multiprocess_executor median wall", multiprocess, "s"),
            figure("in_process / multiprocess", ratio, "ratio", "<= 0.167", ratio <= 1 / 6),
        ],
    )


if __name__ == "__main__":
    main()
