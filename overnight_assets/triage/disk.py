"""Disk collector: how full each configured filesystem is."""

import os
import shutil
from dataclasses import dataclass

from overnight_assets.triage.findings import Finding, Severity

COLLECTOR = "disk"


@dataclass(frozen=True)
class DiskUsage:
    path: str
    total: int
    used: int
    # bytes an unprivileged writer can still use; with it the percentage matches `df`, which
    # counts the blocks reserved for root as unavailable
    available: int | None = None

    @property
    def percent_used(self) -> int:
        """Whole percent, as the title shows it: the status is judged on the same number."""
        usable = self.used + self.available if self.available is not None else self.total
        return round(100 * self.used / usable) if usable else 0


def measure_disks(paths: list[str]) -> tuple[list[DiskUsage], list[Finding]]:
    usages, findings = [], []
    for path in paths:
        try:
            usage = shutil.disk_usage(os.path.expanduser(path))
        except OSError as error:
            findings.append(
                Finding(
                    COLLECTOR,
                    Severity.AMBER,
                    f"cannot measure disk at {path}",
                    f"{type(error).__name__}: {error.strerror or error}",
                )
            )
            continue
        usages.append(DiskUsage(path, usage.total, usage.used, usage.free))
    return usages, findings


def disk_findings(usages: list[DiskUsage], amber_pct: float, red_pct: float) -> list[Finding]:
    """RED at or above `red_pct`, AMBER at or above `amber_pct`, nothing below."""
    findings = []
    for usage in usages:
        percent = usage.percent_used
        severity = Severity.RED if percent >= red_pct else Severity.AMBER if percent >= amber_pct else None
        if severity:
            findings.append(
                Finding(
                    COLLECTOR,
                    severity,
                    f"disk {usage.path} is {percent}% full",
                    f"{_gib(usage.used)} used of {_gib(usage.total)}",
                )
            )
    return findings


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB"
