"""What counts as a triage that looked everywhere: every enabled collector reported its outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from overnight_assets.verdict import Verdict

if TYPE_CHECKING:
    from overnight_assets.config import TriageConfig


def enabled_collectors(config: TriageConfig) -> list[str]:
    """The collectors the config enables: each one is a key of `triage`, null disables it."""
    return [name for name, settings in config if settings is not None]


def collectors_verdict(enabled: list[str], outcomes: dict[str, Any] | None) -> Verdict:
    """ERROR when an enabled collector recorded no outcome (the triage did not look there at all);
    WARN naming each collector that failed (the triage says so, but that place went unchecked)."""
    if outcomes is None:
        return Verdict.error("security_triage recorded no collector outcomes for this night")
    missing = [name for name in enabled if outcomes.get(name, {}).get("outcome") not in ("ok", "failed")]
    if missing:
        return Verdict.error(f"Enabled collectors without an outcome: {', '.join(missing)}", missing=missing)
    failed = {
        name: outcomes[name].get("error", "no reason recorded")
        for name in enabled
        if outcomes[name]["outcome"] == "failed"
    }
    if failed:
        reasons = "; ".join(f"{name} ({error})" for name, error in failed.items())
        return Verdict.warn(f"Collectors that failed: {reasons}", failed=sorted(failed))
    return Verdict.ok(f"All {len(enabled)} enabled collectors reported", collectors=enabled)
