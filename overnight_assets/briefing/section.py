"""The section: what every worker hands the morning briefing.

A new worker returns a Section from its asset; the briefing composes whatever sections its
upstream assets produced, so adding a worker never changes the briefing code.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

from overnight_assets.status import Status

SECTION_TAG = "overnight/section"  # the asset tag that makes an asset's value a briefing section


@dataclass(frozen=True)
class Section:
    key: str  # the producing asset's name; stable across nights, used to diff with yesterday
    title: str
    status: Status
    items: list[dict[str, Any]] = field(default_factory=list)
    markdown: str = ""
    order: int = 50  # lower comes first in the briefing
    llm: str = "not needed"  # ok | unavailable | not needed

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Section":
        return cls(**{**data, "status": Status(data["status"])})
