"""Findings: what each triage collector reports, and the severity the gate reads."""

from dataclasses import asdict, dataclass
from enum import Enum

from overnight_assets.redaction import redact_secrets
from overnight_assets.secret_urls import redact_text


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

    def __post_init__(self) -> None:
        # collectors quote what others wrote (a container's name or error, a failed run's message, a
        # path): whatever a finding says is redacted when it is made, so no collector can forget it
        object.__setattr__(self, "title", redact_secrets(self.title))
        object.__setattr__(self, "detail", redact_secrets(self.detail))

    def to_dict(self) -> dict:
        return {**asdict(self), "severity": self.severity.value}


def collector_failed(collector: str, reason: str) -> Finding:
    """A collector that could not do its job is itself a finding, never a crash."""
    return Finding(collector, Severity.AMBER, f"{collector} collector failed", reason)


def printable(text: str, limit: int = 200) -> str:
    """Text a log's writer chose, fit for a finding: control characters as "?", secrets redacted
    (before the cut, which could leave half a secret no pattern knows), at most `limit` characters."""
    shown = redact_secrets(redact_text("".join(char if char.isprintable() else "?" for char in text)))
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
