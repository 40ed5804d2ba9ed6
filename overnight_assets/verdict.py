"""What an asset check decides, in plain Python: each domain's logic judges what its asset wrote
and returns a Verdict; the domain's checks.py hands it to Dagster (overnight_assets.asset_checks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Verdict:
    passed: bool
    description: str  # one line for the UI: what is fine, or what is wrong and why
    severity: Literal["error", "warn"] = "error"  # of a failure: warn is a yellow light, error a red one
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, description: str, **metadata: Any) -> Verdict:
        return cls(True, description, metadata=metadata)

    @classmethod
    def warn(cls, description: str, **metadata: Any) -> Verdict:
        return cls(False, description, "warn", metadata)

    @classmethod
    def error(cls, description: str, **metadata: Any) -> Verdict:
        return cls(False, description, "error", metadata)


def names(listed: str | None) -> list[str]:
    """The names in a metadata value written as ", ".join(names) or "none"."""
    return [name for name in (listed or "").split(", ") if name and name != "none"]
