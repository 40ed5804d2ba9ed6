from typing import get_args

import pytest

from overnight_assets.status import Status
from overnight_assets.triage.findings import Finding, Severity
from overnight_assets.triage.gate import CollectorState, gate, raise_only, run_collectors


def finding(severity: Severity, title="something") -> Finding:
    return Finding("test", severity, title)


@pytest.mark.parametrize(
    "severities, expected",
    [
        ([], Status.GREEN),
        ([Severity.INFO, Severity.INFO], Status.GREEN),
        ([Severity.INFO, Severity.AMBER], Status.AMBER),
        ([Severity.AMBER, Severity.RED, Severity.INFO], Status.RED),
    ],
)
def test_gate_takes_the_worst_severity_and_info_never_raises(severities, expected):
    assert gate([finding(severity) for severity in severities]) is expected


@pytest.mark.parametrize("llm", [None, "GREEN", "green", Status.GREEN, "AMBER", Status.AMBER, "nonsense", 3, ""])
def test_raise_only_never_lowers_a_red(llm):
    assert raise_only(Status.RED, llm) is Status.RED


@pytest.mark.parametrize(
    "gate_status, llm, expected",
    [
        (Status.GREEN, "RED", Status.RED),
        (Status.GREEN, " amber ", Status.AMBER),
        (Status.AMBER, Status.RED, Status.RED),
        (Status.AMBER, "GREEN", Status.AMBER),
        (Status.AMBER, None, Status.AMBER),
        (Status.GREEN, "purple", Status.GREEN),
    ],
)
def test_raise_only_lets_the_llm_raise(gate_status, llm, expected):
    assert raise_only(gate_status, llm) is expected


def test_run_collectors_isolates_failures_and_reports_outcomes():
    def fine():
        return [finding(Severity.INFO, "all quiet")]

    def broken():
        raise ConnectionError("engine at unix:///x unreachable")

    findings, outcomes = run_collectors({"fine": fine, "broken": broken, "off": None})
    assert findings == [
        finding(Severity.INFO, "all quiet"),
        Finding(
            "broken",
            Severity.AMBER,
            "broken collector failed",
            "ConnectionError: engine at unix:///x unreachable",
        ),
    ]
    assert {name: outcome["outcome"] for name, outcome in outcomes.items()} == {
        "fine": "ok",
        "broken": "failed",
        "off": "disabled",
    }
    assert {outcome["outcome"] for outcome in outcomes.values()} == set(get_args(CollectorState))
    assert outcomes["broken"]["error"] == "ConnectionError: engine at unix:///x unreachable"
    assert "error" not in outcomes["fine"]
    assert [outcomes[name]["findings"] for name in ("fine", "broken", "off")] == [1, 1, 0]
    for outcome in outcomes.values():
        assert outcome["seconds"] >= 0 and outcome["seconds"] == round(outcome["seconds"], 3)
    assert gate(findings) is Status.AMBER


def test_run_collectors_truncates_huge_error_messages():
    def noisy():
        raise ValueError("x" * 10_000)

    findings, outcomes = run_collectors({"noisy": noisy})
    assert len(findings[0].detail) <= 500 and outcomes["noisy"]["error"] == findings[0].detail


def test_every_collector_disabled_is_not_configured_and_says_there_is_no_verdict():
    from overnight_assets.triage.security_triage import TriageNight, triage_section

    findings, outcomes = run_collectors({"docker": None, "auth_log": None})
    assert gate(findings, outcomes) is Status.NOT_CONFIGURED
    assert raise_only(Status.GREEN, "NOT CONFIGURED") is Status.GREEN  # only a colour is a verdict
    section = triage_section(
        TriageNight(findings, outcomes, Status.NOT_CONFIGURED), Status.NOT_CONFIGURED, None, "not needed"
    )
    assert section.markdown == "Every collector is disabled under triage in the config: no security verdict tonight."


def test_every_enabled_collector_failing_is_red_like_a_failed_triage_and_one_failing_is_amber():
    def broken():
        raise OSError("gone")

    def fine():
        return []

    assert gate(*run_collectors({"docker": broken, "disk": broken, "ports": None})) is Status.RED
    assert gate(*run_collectors({"docker": broken, "disk": fine})) is Status.AMBER
