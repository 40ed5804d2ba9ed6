"""New commits between two looks at the configured repositories: the sensor's plain logic.

The sensor's cursor keeps the tip of every branch of every repository, and the days whose
commits still wait for a review run. Commits are filed under the day of their commit time (a
commit made last night and pushed this morning belongs to last night's partition), so each look
adds the days of the commits reachable from the new tips and not from the old ones. A repository
that cannot be read keeps its previous tips and is compared afresh once it is back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from overnight_assets.code_review.code_reviews import open_repository
from overnight_assets.config import Repo as RepoConfig
from overnight_assets.redaction import redact_secrets

Tips = dict[str, dict[str, str]]  # repository -> branch -> sha
DAYS_BACK = 7  # older commits (an imported history, say) are not queued: the nights they belong to are long done


@dataclass
class BranchTips:
    tips: Tips = field(default_factory=dict)
    pending: dict[str, list[str]] = field(default_factory=dict)  # day -> "repo/branch" with new commits

    def oldest_pending(self) -> str | None:
        return min(self.pending, default=None)

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def load(cls, text: str | None) -> BranchTips | None:
        return cls(**json.loads(text)) if text else None


def look_again(
    repos: list[RepoConfig], cache_dir: Path, previous: BranchTips, timezone: str, today: date
) -> tuple[BranchTips, dict[str, str]]:
    """The current tips, the previous look's pending days plus the days of new commits, and why
    any repository could not be read."""
    current = BranchTips(dict(previous.tips), {day: list(labels) for day, labels in previous.pending.items()})
    errors = {}
    for repo in repos:
        try:
            git_repo = open_repository(repo, cache_dir)
            tips = git_repo.branches()
            known = previous.tips.get(repo.name)
            moved = sorted(branch for branch, sha in tips.items() if known is not None and known.get(branch) != sha)
            if moved:  # a repository seen for the first time only records its tips: its history is the nightly job's
                times = git_repo.commit_times([tips[b] for b in moved], list(known.values()))
                _file_under_days(current.pending, times, [f"{repo.name}/{b}" for b in moved], timezone, today)
            current.tips[repo.name] = tips
        except Exception as error:  # reported by the sensor; the other repositories still count
            errors[repo.name] = redact_secrets(str(error))[:300]
    return current, errors


def _file_under_days(
    pending: dict[str, list[str]], times: list[int], labels: list[str], timezone: str, today: date
) -> None:
    for day in {_day(stamp, timezone, today) for stamp in times}:
        if today - timedelta(days=DAYS_BACK) <= day <= today:
            pending[day.isoformat()] = sorted(set(pending.get(day.isoformat(), [])) | set(labels))


def _day(stamp: int, timezone: str, today: date) -> date:
    return min(datetime.fromtimestamp(stamp, ZoneInfo(timezone)).date(), today)  # a clock ahead counts as today
