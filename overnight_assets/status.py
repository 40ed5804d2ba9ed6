"""The status every section and the triage gate speak, and the one rule that sets it.

The rule, the same for every section (triage, reading, code review, the briefing's stand-ins):

- A section with nothing configured to look at (no feeds, no arXiv queries, no repositories, no
  collector) is NOT CONFIGURED: it says so, and it is never GREEN (nothing was checked).
- Otherwise the worst finding sets the status: error/red → RED, warning/amber → AMBER,
  info/notes → GREEN. A severity the rule does not know is AMBER: worth a look, never silence.
- A source that could not be read (a feed, a query, a repository, a collector) is AMBER: the
  section is incomplete. When nothing at all could be read the section is worth as much as a
  failed one: AMBER, or what the caller says (RED for the security triage: no verdict tonight).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any


class Status(str, Enum):
    GREEN = "GREEN"
    AMBER = "AMBER"
    RED = "RED"
    NOT_CONFIGURED = "NOT CONFIGURED"  # nothing to look at: said, never mistaken for GREEN

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def worst(cls, statuses) -> Status:
        return max((cls(s) for s in statuses), key=lambda s: s.rank, default=cls.GREEN)

    @property
    def needs_action(self) -> bool:
        """AMBER or RED: something the owner may have to look at."""
        return self.rank > _RANK[Status.GREEN]


_RANK = {Status.NOT_CONFIGURED: -1, Status.GREEN: 0, Status.AMBER: 1, Status.RED: 2}
# every section's severity words: triage (red/amber/info), code review (error/warning/info), notes
SEVERITY_STATUS = {
    "red": Status.RED,
    "error": Status.RED,
    "amber": Status.AMBER,
    "warning": Status.AMBER,
    "info": Status.GREEN,
    "note": Status.GREEN,
    "none": Status.GREEN,
}


def severity_status(severity: str | None) -> Status:
    if severity is None:
        return Status.GREEN
    return SEVERITY_STATUS.get(str(severity).strip().lower(), Status.AMBER)


def section_status(
    severities: Iterable[str | None] = (),
    *,
    configured: bool = True,
    sources: int = 0,
    failed: int = 0,
    nothing_read: Status = Status.AMBER,
) -> Status:
    """The rule above: `severities` of the section's findings, `failed` of its `sources` unreadable."""
    if not configured:
        return Status.NOT_CONFIGURED
    status = Status.worst(severity_status(severity) for severity in severities)
    if failed:
        status = Status.worst([status, nothing_read if failed >= sources else Status.AMBER])
    return status


def worst_severity(severities: Iterable[str | None]) -> str:
    """The worst of some severity words, in the rule's own words: red, amber or info."""
    return {Status.RED: "red", Status.AMBER: "amber"}.get(Status.worst(map(severity_status, severities)), "info")


def item_severity(item: dict[str, Any]) -> str | None:
    """A section item's severity: `severity`, or `worst` in code-review items stored before it had one;
    a note (`note: true`) is never a problem, whatever its severity."""
    if item.get("note"):
        return "note"
    return item.get("severity") or item.get("worst")


def is_problem(item: dict[str, Any]) -> bool:
    """An item that needs action: AMBER or RED by the rule, not a note."""
    return severity_status(item_severity(item)).needs_action
