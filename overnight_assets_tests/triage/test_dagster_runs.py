from overnight_assets.status import Status
from overnight_assets.triage.dagster_runs import failed_run_findings
from overnight_assets.triage.findings import Finding, Severity
from overnight_assets.triage.gate import gate


def run(run_id: str, job: str, status: str, partition: str | None = "2026-11-20") -> dict:
    return {"run_id": run_id, "job_name": job, "partition": partition, "status": status}


def test_successful_runs_are_green():
    runs = [
        run("a1", "nightly", "SUCCESS"),
        run("b2", "weekly", "CANCELED"),
        run("c3", "nightly", "STARTED"),
    ]
    assert failed_run_findings(runs) == []
    assert gate(failed_run_findings(runs)) is Status.GREEN


def test_one_amber_finding_per_failed_job_listing_the_runs():
    runs = [
        run("a1", "nightly", "FAILURE"),
        run("b2", "weekly", "FAILURE", partition=None),
        run("c3", "nightly", "FAILURE", partition="2026-11-19"),
        run("d4", "nightly", "SUCCESS"),
    ]
    assert failed_run_findings(runs) == [
        Finding(
            "dagster_runs",
            Severity.AMBER,
            "2 failed runs of nightly",
            "run a1 (partition 2026-11-20); run c3 (partition 2026-11-19)",
        ),
        Finding("dagster_runs", Severity.AMBER, "1 failed run of weekly", "run b2"),
    ]


def test_status_may_be_an_enum_with_a_value():
    class RunStatus:  # stands in for dagster's DagsterRunStatus without importing dagster
        value = "FAILURE"

    assert [f.title for f in failed_run_findings([run("a1", "nightly", RunStatus())])] == ["1 failed run of nightly"]
