"""What the collectors check counts as a triage that looked everywhere."""

from overnight_assets.config import TriageConfig
from overnight_assets.triage.health import collectors_verdict, enabled_collectors


def outcome(state, error=None):
    return {"outcome": state, "findings": 0, "seconds": 0.1, **({"error": error} if error else {})}


def test_the_enabled_collectors_are_the_ones_the_config_does_not_null():
    config = TriageConfig(docker=None, dagster_runs=None)
    assert enabled_collectors(config) == ["auth_log", "ports", "integrity", "disk"]


def test_every_enabled_collector_reporting_passes():
    verdict = collectors_verdict(
        ["ports", "disk"], {"ports": outcome("ok"), "disk": outcome("ok"), "docker": outcome("disabled")}
    )
    assert verdict.passed and verdict.description == "All 2 enabled collectors reported"


def test_a_failed_collector_warns_with_its_name_and_reason():
    verdict = collectors_verdict(
        ["ports", "disk"], {"ports": outcome("failed", "FileNotFoundError: /proc/net/tcp"), "disk": outcome("ok")}
    )
    assert (verdict.passed, verdict.severity) == (False, "warn")
    assert verdict.description == "Collectors that failed: ports (FileNotFoundError: /proc/net/tcp)"
    assert verdict.metadata == {"failed": ["ports"]}


def test_a_missing_or_disabled_outcome_of_an_enabled_collector_is_an_error():
    verdict = collectors_verdict(["ports", "disk", "docker"], {"ports": outcome("ok"), "docker": outcome("disabled")})
    assert (verdict.passed, verdict.severity) == (False, "error")
    assert verdict.description == "Enabled collectors without an outcome: disk, docker"


def test_no_outcomes_at_all_is_an_error():
    verdict = collectors_verdict(["ports"], None)
    assert (verdict.passed, verdict.severity) == (False, "error")
    assert "no collector outcomes" in verdict.description
