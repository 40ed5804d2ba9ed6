"""security_triage on a clean host: how long the asset takes and how many LLM calls it makes.

The host is the demo samples (auth log, /proc/net tables, watched files, disk), the Docker
collector is off (null); a loopback Ollama listens, so a question would be answered and counted.
Only security_triage is materialized, on a real SQLite DAGSTER_HOME with the repo's dagster.yaml,
for REPEATS fresh partitions; the first run also creates Cortex and the integrity baseline.
The asset time is the step's STEP_START to STEP_SUCCESS; the calls are the materialization's
`llm_calls` metadata (and the loopback server's own count of chats).

Target: at most 1 s per run and 0 LLM calls.
"""

from __future__ import annotations

import statistics

import dagster as dg

NIGHTS = ["2026-11-18", "2026-11-19", "2026-11-20"]  # the samples' auth log covers Nov 19 and 20


def triage_job() -> dg.JobDefinition:
    from overnight_assets.definitions import defs

    job = dg.define_asset_job("triage_only", selection="security_triage")
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)


def main() -> None:
    from _loopback import loopback
    from _report import figure, report

    seconds, calls = [], []
    with loopback() as env:
        job = triage_job()
        with dg.DagsterInstance.get() as instance:
            for night in NIGHTS:
                result = job.execute_in_process(partition_key=night, instance=instance)
                assert result.success
                times = {
                    record.dagster_event.event_type_value: record.timestamp
                    for record in instance.all_logs(result.run_id)
                    if record.dagster_event and record.step_key == "security_triage"
                }
                materialization = instance.get_latest_materialization_event(
                    dg.AssetKey("security_triage")
                ).asset_materialization
                assert materialization.partition == night
                seconds.append(times["STEP_SUCCESS"] - times["STEP_START"])
                calls.append(materialization.metadata["llm_calls"].value)
                print(
                    f"  {night}  {seconds[-1]:.3f} s  status {materialization.metadata['status'].value}, "
                    f"llm_calls {calls[-1]}, loopback chats so far {len(env.ollama.chats)}"
                )
        asked = max(*calls, len(env.ollama.chats))  # the server's count catches a call the session missed

    median, slowest = statistics.median(seconds), max(seconds)
    report(
        "triage_clean_host",
        [
            figure("security_triage step, median", median, "s", "<= 1 s", median <= 1),
            figure("security_triage step, slowest run", slowest, "s", "<= 1 s", slowest <= 1),
            figure("LLM calls, most in a run", asked, "calls", "0", asked == 0),
        ],
    )


if __name__ == "__main__":
    main()
