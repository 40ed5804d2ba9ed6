"""The three-colour status every section and the triage gate speak."""

from enum import Enum


class Status(str, Enum):
    GREEN = "GREEN"
    AMBER = "AMBER"
    RED = "RED"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def worst(cls, statuses) -> "Status":
        return max((cls(s) for s in statuses), key=lambda s: s.rank, default=cls.GREEN)

    @property
    def emoji(self) -> str:
        return {"GREEN": ":large_green_circle:", "AMBER": ":large_orange_circle:", "RED": ":red_circle:"}[
            self.value
        ]


_RANK = {Status.GREEN: 0, Status.AMBER: 1, Status.RED: 2}
