"""Dagster runs collector: the chain watching itself. Runs arrive as plain dicts, no dagster."""

from collections import defaultdict

from overnight_assets.triage.findings import Finding, Severity

COLLECTOR = "dagster_runs"
_FAILED_STATUSES = {"FAILURE"}


def failed_run_findings(runs: list[dict]) -> list[Finding]:
    """One AMBER finding per job with failed runs; each run dict has run_id, job_name,
    partition (may be None) and status (DagsterRunStatus or its value, e.g. "FAILURE")."""
    failed_by_job: dict[str, list[dict]] = defaultdict(list)
    for run in runs:
        if _status_name(run.get("status")) in _FAILED_STATUSES:
            failed_by_job[str(run.get("job_name") or "unknown job")].append(run)
    return [
        Finding(
            COLLECTOR,
            Severity.AMBER,
            f"{len(failed)} failed run{'s' if len(failed) > 1 else ''} of {job}",
            "; ".join(_describe(run) for run in failed),
        )
        for job, failed in sorted(failed_by_job.items())
    ]


def _status_name(status) -> str:
    return str(getattr(status, "value", status) or "").upper()


def _describe(run: dict) -> str:
    partition = run.get("partition")
    return f"run {run.get('run_id')}" + (f" (partition {partition})" if partition else "")
