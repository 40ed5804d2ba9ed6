"""Delivery with an outbox: one Slack message per partition, nothing ever lost.

Every message is first kept (Cortex table `deliveries` and `<home>/outbox/<partition>.json`);
then each pending message, oldest first, is posted, or updated with chat.update when that
partition was posted before. What could not be delivered stays pending for the next run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from overnight_assets.resources.cortex import Cortex

if TYPE_CHECKING:
    from overnight_assets.resources.slack import SlackPoster


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)  # partitions posted or updated now
    updated: list[str] = field(default_factory=list)  # of those, the ones updated in place
    pending: list[str] = field(default_factory=list)  # still in the outbox
    error: str | None = None
    outcome: str = "delivered"  # delivered | outbox only (Slack not configured) | kept in outbox


def keep_in_outbox(cortex: Cortex, outbox_dir: Path, partition_key: str, text: str, blocks: list[dict]) -> None:
    outbox_dir.mkdir(parents=True, exist_ok=True)
    payload = {"partition": partition_key, "text": text, "blocks": blocks}
    (outbox_dir / f"{partition_key}.json").write_text(json.dumps(payload, indent=1, ensure_ascii=False))
    with cortex.connect() as db:
        db.execute(
            """INSERT INTO deliveries (partition_key, text, blocks, pending) VALUES (?, ?, ?, TRUE)
               ON CONFLICT (partition_key) DO UPDATE SET text = excluded.text, blocks = excluded.blocks,
               pending = TRUE, updated_at = now()""",
            [partition_key, text, json.dumps(blocks)],
        )


def pending_partitions(cortex: Cortex) -> list[str]:
    with cortex.connect(read_only=True) as db:
        rows = db.execute("SELECT partition_key FROM deliveries WHERE pending ORDER BY partition_key").fetchall()
    return [row[0] for row in rows]


def deliver_pending(cortex: Cortex, outbox_dir: Path, poster: SlackPoster | None) -> DeliveryReport:
    from slack_sdk.errors import SlackApiError  # slack_sdk loads only when delivering

    report = DeliveryReport()
    if poster is None:
        report.pending, report.outcome = pending_partitions(cortex), "outbox only (Slack not configured)"
        return report
    with cortex.connect() as db:
        rows = db.execute(
            "SELECT partition_key, text, blocks, channel_id, ts FROM deliveries WHERE pending ORDER BY partition_key"
        ).fetchall()
    for partition_key, text, blocks, channel_id, ts in rows:
        try:
            if ts:
                poster.update(channel_id, ts, text, json.loads(blocks))
                report.updated.append(partition_key)
            else:
                channel_id, ts = poster.post(text, json.loads(blocks))
        except (SlackApiError, OSError) as error:
            report.error = f"Slack refused or failed the message for {partition_key}: {_describe(error)}"
            _record_failure(cortex, partition_key, report.error)
            break  # the rest would meet the same wall; they stay pending for the next run
        _record_delivery(cortex, partition_key, channel_id, ts)
        (outbox_dir / f"{partition_key}.json").unlink(missing_ok=True)
        report.delivered.append(partition_key)
    report.pending = pending_partitions(cortex)
    if report.error:
        report.outcome = "kept in outbox"
    return report


def _record_delivery(cortex: Cortex, partition_key: str, channel_id: str, ts: str) -> None:
    with cortex.connect() as db:
        db.execute(
            """UPDATE deliveries SET channel_id = ?, ts = ?, pending = FALSE, attempts = attempts + 1,
               last_error = NULL, updated_at = now() WHERE partition_key = ?""",
            [channel_id, ts, partition_key],
        )


def _record_failure(cortex: Cortex, partition_key: str, error: str) -> None:
    with cortex.connect() as db:
        db.execute(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = ?, updated_at = now() WHERE partition_key = ?",
            [error, partition_key],
        )


def _describe(error: Exception) -> str:
    if hasattr(error, "response") and hasattr(error.response, "get"):  # SlackApiError
        status = getattr(error.response, "status_code", "?")
        return f"HTTP {status}, error '{error.response.get('error', 'unknown')}'"
    return f"{type(error).__name__}: {error}"
