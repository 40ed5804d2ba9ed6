"""Alerts, what reaches a person at once: a failed run, a RED security triage, a missing morning message.

An alert is a short Slack message of its own kind, kept and delivered through the morning
message's outbox (briefing/delivery.py): kept once under its key, so a sensor that looks twice,
or a daemon that restarts, never sends it twice; kept before it is posted, so Slack being down
delays it and never loses it. Its text comes partly from outside (an error, a log line): every
line is redacted before it is kept, and shown in Slack as words that cannot ping or format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from overnight_assets.briefing.delivery import ALERT_PREFIX, DeliveryReport, deliver_pending, keep_in_outbox
from overnight_assets.briefing.failures import RUN_LINK_LABEL, first_line
from overnight_assets.redaction import redact_secrets
from overnight_assets.resources.cortex import Cortex
from overnight_assets.secret_urls import redact_text

if TYPE_CHECKING:
    from overnight_assets.resources.slack import SlackPoster

MAX_DETAIL_LINES = 5  # an alert says what and where to look; the UI has the rest
_MARKDOWN_MARKERS = re.compile(r"^\s*(?:[-*]|\d+\.)\s+|\*\*|`")


@dataclass(frozen=True)
class Alert:
    key: str  # its key in the outbox: ALERT_PREFIX, what, which
    headline: str
    details: tuple[str, ...] = ()
    url: str | None = None  # where to look: the run in the Dagster UI

    def message(self) -> tuple[str, list[dict]]:
        """(the plain-text fallback a phone's notification shows, the blocks): every line from
        outside shown as inert words, as in the morning message."""
        from overnight_assets.briefing.slack_format import mrkdwn_link, plain  # slack_sdk loads only when sending

        headline, details = plain(self.headline), [plain(line) for line in self.details]
        text = "\n".join([f"ALERT: {headline}", *details, *([self.url] if self.url else [])])
        lines = [
            f":rotating_light: *{headline}*",
            *details,
            *([mrkdwn_link(RUN_LINK_LABEL, self.url)] * bool(self.url)),
        ]
        return text, [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]


def alert(kind: str, which: str, headline: str, details: list[str], url: str | None = None) -> Alert:
    """An alert whose every line is redacted and cut to one readable line."""
    shown = [first_line(redact_secrets(line)) for line in details[:MAX_DETAIL_LINES]]
    if len(details) > MAX_DETAIL_LINES:
        shown.append(f"and {len(details) - MAX_DETAIL_LINES} more")
    return Alert(f"{ALERT_PREFIX}{kind}-{which}", redact_secrets(redact_text(headline)), tuple(shown), url)


def run_failed(
    job: str, run_id: str, night: str | None, step_errors: dict[str, str], run_error: str, url: str
) -> Alert:
    """A failed run: each failed step (an asset's name) with its error's first line, or the run's own error."""
    details = [f"{step}: {error}" for step, error in step_errors.items()] or [f"The run failed: {run_error}"]
    return alert("run_failed", run_id, f"Run of {job}{f' for {night}' if night else ''} failed", details, url)


def security_red(night: str, finding_list: str, url: str) -> Alert:
    """A RED security triage: its RED findings as plain lines (every line when none is marked RED)."""
    lines = [_MARKDOWN_MARKERS.sub("", line).strip() for line in finding_list.splitlines() if line.strip()]
    red = [line.removeprefix("RED").strip() for line in lines if line.startswith("RED")]
    return alert("security_red", night, f"Security triage RED for the night of {night}", red or lines, url)


def briefing_missing(night: str, due: str, known: list[str], url: str | None) -> Alert:
    return alert("briefing_missing", night, f"No morning message for {night} by {due}", known, url)


def send(alert: Alert, cortex: Cortex, outbox_dir: Path, poster: SlackPoster | None) -> DeliveryReport | None:
    """Keep the alert, once, then deliver it; None when it was kept before (sent, or waiting in
    the outbox for the next delivery)."""
    if not keep_in_outbox(cortex, outbox_dir, alert.key, *alert.message(), once=True):
        return None
    return deliver_pending(cortex, outbox_dir, poster, only=lambda key: key == alert.key)


def deliver_kept_alerts(cortex: Cortex, outbox_dir: Path, poster: SlackPoster | None) -> DeliveryReport:
    """Every alert still in the outbox, delivered now (the morning messages go with their own runs)."""
    return deliver_pending(cortex, outbox_dir, poster, only=is_alert)


def is_alert(key: str) -> bool:
    return key.startswith(ALERT_PREFIX)


def delivery_of(cortex: Cortex, night: str) -> tuple[bool, str | None]:
    """(whether the night's morning message was posted, why it is still in the outbox if it was
    tried); an update still pending counts as posted: the message is in Slack."""
    if not cortex.exists():
        return False, None
    with cortex.connect(read_only=True) as db:
        row = db.execute(
            "SELECT ts IS NOT NULL, CASE WHEN pending THEN last_error END FROM deliveries WHERE partition_key = ?",
            [night],
        ).fetchone()
    return (bool(row[0]), row[1]) if row else (False, None)


_RUN_STATES = {  # DagsterRunStatus values, as a person says them
    "QUEUED": "is queued",
    "NOT_STARTED": "is starting",
    "STARTING": "is starting",
    "STARTED": "is still running",
    "CANCELING": "is being canceled",
    "CANCELED": "was canceled",
    "FAILURE": "failed",
    "SUCCESS": "succeeded",
}


def what_is_known(runs: list[tuple[str, str, str]], outbox_error: str | None) -> list[str]:
    """What a missing morning message's alert says: the night's runs, newest first, each
    (job, status, when it started), and why the message is still in the outbox if it was tried."""
    if not runs:
        known = [
            "No run for this night started: the nightly schedule did not fire (machine or daemon off, or the tick skipped)."
        ]
    else:
        known = [
            f"The {job} run {_RUN_STATES.get(status, status.lower())} (started {started})."
            for job, status, started in runs
        ]
    if outbox_error:
        known.append(f"The message is in the outbox: {outbox_error}")
    return known
