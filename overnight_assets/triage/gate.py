"""The triage gate: rules decide the status; collectors run isolated so one failure is a finding."""

import time
from collections.abc import Callable
from typing import Literal, NotRequired, TypedDict

from overnight_assets.status import Status, section_status
from overnight_assets.triage.findings import Finding, collector_failed

Collector = Callable[[], list[Finding]]
# an error can carry a whole traceback or response body; the briefing needs a line, not a page
_MAX_ERROR_CHARS = 500
CollectorState = Literal["ok", "failed", "disabled"]  # disabled: null in the config


class CollectorOutcome(TypedDict):
    """One collector's night, as the triage's `collectors` metadata shows it."""

    outcome: CollectorState
    error: NotRequired[str]  # why it failed, cut to a line
    findings: int
    seconds: float


def gate(findings: list[Finding], outcomes: dict[str, CollectorOutcome] | None = None) -> Status:
    """The shared rule (overnight_assets.status): RED if any finding is RED, AMBER if any is AMBER,
    else GREEN; INFO never raises it. Given the collectors' outcomes: NOT CONFIGURED when every
    collector is disabled, and RED when every enabled one failed (no security verdict tonight)."""
    enabled = [o for o in (outcomes or {}).values() if o["outcome"] != "disabled"]
    return section_status(
        (finding.severity.value for finding in findings),
        configured=outcomes is None or bool(enabled),
        sources=len(enabled),
        failed=sum(1 for o in enabled if o["outcome"] == "failed"),
        nothing_read=Status.RED,
    )


def raise_only(gate_status: Status, llm_verdict: Status | str | None) -> Status:
    """The LLM may raise the gate's status but never lower it; anything unreadable is ignored."""
    return Status.worst([gate_status, _as_status(llm_verdict) or gate_status])


def _as_status(value: Status | str | None) -> Status | None:
    try:
        status = Status(value if isinstance(value, Status) else str(value).strip().upper())
    except ValueError:
        return None
    return status if status.rank >= Status.GREEN.rank else None  # only a colour is a verdict


def run_collectors(
    collectors: dict[str, Collector | None],
) -> tuple[list[Finding], dict[str, CollectorOutcome]]:
    """Run every enabled collector; a collector that raises becomes a `collector_failed` finding.

    Returns all findings and, per collector, its outcome (a None collector is one the config
    disabled), how many findings it contributed and how long it took.
    """
    findings: list[Finding] = []
    outcomes: dict[str, CollectorOutcome] = {}
    for name, collector in collectors.items():
        if collector is None:
            outcomes[name] = {"outcome": "disabled", "findings": 0, "seconds": 0.0}
            continue
        collected, outcome = _run_one(name, collector)
        findings.extend(collected)
        outcomes[name] = outcome
    return findings, outcomes


def _run_one(name: str, collector: Collector) -> tuple[list[Finding], CollectorOutcome]:
    started = time.perf_counter()
    try:
        collected = list(collector())
        outcome = {"outcome": "ok"}
    except Exception as error:  # noqa: BLE001 - any collector bug must not sink the triage
        message = f"{type(error).__name__}: {error}"[:_MAX_ERROR_CHARS]
        collected = [collector_failed(name, message)]
        outcome = {"outcome": "failed", "error": message}
    seconds = round(time.perf_counter() - started, 3)
    return collected, {**outcome, "findings": len(collected), "seconds": seconds}
