"""Findings: what each triage collector reports, and the severity the gate reads."""

from dataclasses import asdict, dataclass
from enum import Enum


class Severity(str, Enum):
    INFO = "info"  # worth saying, never raises the status
    AMBER = "amber"
    RED = "red"


@dataclass(frozen=True)
class Finding:
    collector: str  # docker | auth_log | ports | integrity | disk | dagster_runs
    severity: Severity
    title: str  # one line, stable for the same problem (reruns ask the LLM the same question)
    detail: str = ""

    def to_dict(self) -> dict:
        return {**asdict(self), "severity": self.severity.value}


def collector_failed(collector: str, reason: str) -> Finding:
    """A collector that could not do its job is itself a finding, never a crash."""
    return Finding(collector, Severity.AMBER, f"{collector} collector failed", reason)
