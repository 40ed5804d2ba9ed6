"""One night's triage: run the enabled collectors, gate the findings, build the section."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from overnight_assets.section import Line, LLMState, Section, italic
from overnight_assets.status import Status
from overnight_assets.triage import auth_log, dagster_runs, disk, docker, integrity, ports, store
from overnight_assets.triage.findings import Finding, Severity
from overnight_assets.triage.gate import CollectorOutcome, gate, run_collectors

if TYPE_CHECKING:
    from overnight_assets.config import TriageConfig
    from overnight_assets.partitions import Night
    from overnight_assets.resources.cortex import Cortex
    from overnight_assets.triage.review import TriageReview


@dataclass
class TriageNight:
    findings: list[Finding]
    outcomes: dict[str, CollectorOutcome]
    gate_status: Status

    @property
    def problems(self) -> list[Finding]:
        """What the owner may have to act on: AMBER and RED, what `findings` counts."""
        return [f for f in self.findings if f.severity is not Severity.INFO]

    @property
    def notes(self) -> list[Finding]:
        """INFO: worth saying (a baseline recorded, lines that could not be read), never a problem."""
        return [f for f in self.findings if f.severity is Severity.INFO]


def collect(config: TriageConfig, night: Night, cortex: Cortex, failed_runs: Callable[[], list[dict]]) -> TriageNight:
    collectors = {
        "docker": config.docker and (lambda: docker.collect_docker(config.docker.base_url)),
        "auth_log": config.auth_log and (lambda: _auth_log(config, night, cortex)),
        "ports": config.ports and (lambda: _ports(config)),
        "integrity": config.integrity and (lambda: _integrity(config, cortex, night.partition_key)),
        "disk": config.disk and (lambda: _disk(config)),
        "dagster_runs": config.dagster_runs and (lambda: dagster_runs.failed_run_findings(failed_runs())),
    }
    findings, outcomes = run_collectors({name: fn or None for name, fn in collectors.items()})
    return TriageNight(findings, outcomes, gate(findings, outcomes))


def _auth_log(config: TriageConfig, night: Night, cortex: Cortex) -> list[Finding]:
    known = store.known_login_sources(cortex, before=night.start)
    with auth_log.open_auth_log(config.auth_log.path) as log:
        threshold = config.auth_log.failed_login_threshold
        result = auth_log.auth_log_findings(log, night.start, night.end, threshold, known, name=config.auth_log.path)
    store.record_login_sources(cortex, result.accepted_sources)
    return result.findings


def _ports(config: TriageConfig) -> list[Finding]:
    return ports.port_findings(ports.read_listening_sockets(config.ports.proc_net), config.ports.allowed)


def _integrity(config: TriageConfig, cortex: Cortex, partition_key: str) -> list[Finding]:
    current, unreadable = integrity.hash_watched(config.integrity.paths)
    baseline, recorded_for = store.load_baseline(cortex)
    if baseline is None:
        store.record_baseline(cortex, current, recorded_for=partition_key)
        return unreadable + integrity.integrity_findings(None, current)
    findings = integrity.integrity_findings(baseline, current)
    if recorded_for == partition_key:  # a rerun of the baseline's night says the same as that night
        findings = [f for f in findings if f.severity is not Severity.INFO] + integrity.integrity_findings(
            None, baseline
        )
    return unreadable + findings


def _disk(config: TriageConfig) -> list[Finding]:
    usages, missing = disk.measure_disks(config.disk.paths)
    return missing + disk.disk_findings(usages, config.disk.amber_pct, config.disk.red_pct)


def triage_section(night: TriageNight, status: Status, review: TriageReview | None, llm_status: LLMState) -> Section:
    """Problems are listed, worst first; notes get one quiet line at the end. Every finding stays in
    `items` with its severity, notes marked `note: True`, so a reader of the section can count
    problems without counting notes."""
    problems = sorted(night.problems, key=lambda f: (f.severity is not Severity.RED, f.collector))
    notes = sorted(night.notes, key=lambda f: f.collector)
    lines = [Line.item(f"{f.collector}: {f.title}", severity=f.severity.value) for f in problems]
    if not lines:
        lines = [Line.text(quiet_line(night.outcomes))]
    if review is not None:
        lines += [
            Line(),
            Line.text(f"LLM review: {review.summary}"),
            *[Line.item(f"next: {action}") for action in review.actions],
        ]
    elif llm_status == "unavailable":
        lines += [Line(), Line.text(italic("llm: unavailable; the deterministic gate's verdict stands."))]
    if status is not night.gate_status:
        lines.insert(0, Line.text(f"The LLM raised the status from {night.gate_status.value} to {status.value}."))
    if notes:
        lines += [Line(), Line.text(italic("Notes: " + "; ".join(f"{f.collector}: {f.title}" for f in notes) + "."))]
    return Section(
        key="security_triage",
        title="Security triage",
        status=status,
        items=[{**f.to_dict(), "note": False} for f in problems] + [{**f.to_dict(), "note": True} for f in notes],
        lines=tuple(lines),
        order=0,
        llm=llm_status,
    )


def quiet_line(outcomes: dict[str, CollectorOutcome]) -> str:
    """What a night without problems says: which collectors looked, so silence is never mistaken for a check."""
    enabled = [name for name, o in outcomes.items() if o["outcome"] != "disabled"]
    off = [name for name, o in outcomes.items() if o["outcome"] == "disabled"]
    if not enabled:
        return "Every collector is disabled under triage in the config: no security verdict tonight."
    ran = f"{len(enabled)} collector{'s' if len(enabled) != 1 else ''}"
    return f"Nothing suspicious from the {ran} that ran" + (f" ({', '.join(off)} disabled)." if off else ".")
