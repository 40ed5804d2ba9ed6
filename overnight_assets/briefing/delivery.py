"""Delivery with an outbox: one Slack message per partition, nothing ever lost, nothing posted twice.

Every message is first kept (Cortex table `deliveries` and `<home>/outbox/<partition>.json`);
then each pending message, oldest first, is posted, or updated with chat.update when that
partition was posted before. What could not be delivered stays pending for the next run.

Once per partition, across concurrent runs and crashes (Slack has no idempotency key):
- Claim. A delivery claims a partition's row (owner, expiry) in one short Cortex write; DuckDB
  lets one process write the file at a time, so two runs never hold the same claim. Every run
  sees every pending partition (the outbox is shared), so the claim is per partition. A claim
  whose owner process is gone (same host, pid no longer running) or whose expiry passed is taken
  over, so a killed run blocks nobody.
- Intent. Before chat.postMessage the row records `intent_at`; the post carries Slack message
  metadata (event type `overnight_briefing`, the partition).
- Look before posting again. A claim that finds an intent without a result (killed between
  Slack's acceptance and the record, or an answer that never came) searches the channel's
  history since the intent for that metadata and updates the message it finds instead of posting
  a second one. If the history cannot be read (a missing scope), it posts and says so: a
  possible duplicate is better than a lost morning.
- The thread. A message longer than Slack's 50 blocks goes on in replies in its thread, under the
  same guarantees: the message's ts is recorded before the first reply, each reply's ts as soon
  as it is posted (its intent before), so a rerun updates the replies it has and posts only the
  missing ones; an intent left by a reply is looked for in the thread (metadata naming the part).
  Replies a shorter new version no longer needs are deleted.

Alerts (overnight_assets/alerts) are messages of another kind in the same outbox, under the same
guarantees: each has its own key (ALERT_PREFIX, then what and which), is kept once, never
replaced, and is delivered with the morning messages, or on its own (`deliver_pending(only=...)`).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from overnight_assets.resources.cortex import Cortex

if TYPE_CHECKING:
    from overnight_assets.resources.slack import SlackPoster

# what a delivery did, as morning_delivery's `delivery` metadata says it
DeliveryState = Literal["delivered", "outbox only (Slack not configured)", "kept in outbox"]
NOT_CONFIGURED: DeliveryState = "outbox only (Slack not configured)"
CLAIM_S = 15 * 60  # outlasts any one delivery (Slack's 30 s timeout and its retries, a few messages)
CLOCK_SKEW_S = 10 * 60  # search Slack's history from this long before the recorded intent
ALERT_PREFIX = "alert-"  # an alert's key; a morning message's key is its partition (a date)


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)  # partitions posted or updated now
    updated: list[str] = field(default_factory=list)  # of those, the ones updated in place
    pending: list[str] = field(default_factory=list)  # still in the outbox
    claimed_elsewhere: list[str] = field(default_factory=list)  # delivered, or being delivered, by another run
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    outcome: DeliveryState = "delivered"


@dataclass(frozen=True)
class Claim:
    partition_key: str
    text: str
    blocks: list[dict]
    channel_id: str | None
    ts: str | None  # set once a post was recorded: the message to update
    intent_at: float | None  # epoch seconds of a post attempt whose outcome was never recorded
    revision: int  # the message's version when claimed; a newer one kept meanwhile stays pending
    replies: list[dict] = field(default_factory=list)  # {text, blocks}: the rest, in the message's thread
    reply_ts: list[str] = field(default_factory=list)  # the replies posted so far, in order

    @property
    def reply_unknown(self) -> bool:
        """An intent recorded after the message's ts: a reply's outcome was never recorded."""
        return self.ts is not None and self.intent_at is not None


def delivery_owner(run_id: str | None = None) -> str:
    """Who holds a claim: this host and process (to tell a dead claimant), and the run for people."""
    return f"{socket.gethostname()}:{os.getpid()}:{run_id or '-'}"


def keep_in_outbox(
    cortex: Cortex,
    outbox_dir: Path,
    partition_key: str,
    text: str,
    blocks: list[dict],
    replies: list[dict] | None = None,
    once: bool = False,
) -> bool:
    """Keep a message (and its thread replies, each {text, blocks}) to deliver; a partition kept
    again replaces its text, and the next delivery updates what was posted. `once`: a key kept
    before is left as it is (an alert is sent once). Whether the message was kept now."""
    on_conflict = (
        "DO NOTHING"
        if once
        else """DO UPDATE SET text = excluded.text, blocks = excluded.blocks, replies = excluded.replies,
               pending = TRUE, revision = coalesce(deliveries.revision, 0) + 1, updated_at = now()"""
    )
    with cortex.connect() as db:
        kept = db.execute(
            f"""INSERT INTO deliveries (partition_key, text, blocks, replies, pending) VALUES (?, ?, ?, ?, TRUE)
                ON CONFLICT (partition_key) {on_conflict} RETURNING partition_key""",
            [partition_key, text, json.dumps(blocks), json.dumps(replies or [])],
        ).fetchone()
    if kept:
        outbox_dir.mkdir(parents=True, exist_ok=True)
        payload = {"partition": partition_key, "text": text, "blocks": blocks, "replies": replies or []}
        (outbox_dir / f"{partition_key}.json").write_text(json.dumps(payload, indent=1, ensure_ascii=False))
    return kept is not None


def pending_partitions(cortex: Cortex) -> list[str]:
    with cortex.connect(read_only=True) as db:
        rows = db.execute("SELECT partition_key FROM deliveries WHERE pending ORDER BY partition_key").fetchall()
    return [row[0] for row in rows]


def deliver_pending(
    cortex: Cortex,
    outbox_dir: Path,
    poster: SlackPoster | None,
    owner: str | None = None,
    only: Callable[[str], bool] | None = None,
) -> DeliveryReport:
    """Deliver every pending message, oldest first, or those whose key `only` accepts."""
    from slack_sdk.errors import SlackApiError  # slack_sdk loads only when delivering

    report = DeliveryReport()
    if poster is None:
        report.pending, report.outcome = pending_partitions(cortex), NOT_CONFIGURED
        return report
    owner = owner or delivery_owner()
    for partition_key in filter(only, pending_partitions(cortex)):
        claim = claim_partition(cortex, partition_key, owner)
        if claim is None:
            report.claimed_elsewhere.append(partition_key)
            continue
        try:
            channel_id, ts, updated = _deliver(cortex, poster, claim, owner, report)
            reply_ts = _deliver_replies(cortex, poster, claim, channel_id, ts, owner, report)
        except (SlackApiError, OSError) as error:
            report.error = f"Slack refused or failed the message for {partition_key}: {_describe(error)}"
            _record_failure(cortex, partition_key, report.error)
            break  # the rest would meet the same wall; they stay pending for the next run
        if not _record_delivery(cortex, claim, channel_id, ts, reply_ts):
            (outbox_dir / f"{partition_key}.json").unlink(missing_ok=True)
        report.delivered.append(partition_key)
        if updated:
            report.updated.append(partition_key)
    report.pending = pending_partitions(cortex)
    if report.error:
        report.outcome = "kept in outbox"
    return report


def _deliver(
    cortex: Cortex, poster: SlackPoster, claim: Claim, owner: str, report: DeliveryReport
) -> tuple[str, str, bool]:
    """Post the claimed message, or update the one already posted; (channel id, ts, updated)."""
    from slack_sdk.errors import SlackApiError

    key = claim.partition_key
    if claim.ts:
        poster.update(claim.channel_id, claim.ts, claim.text, claim.blocks, key)
        return claim.channel_id, claim.ts, True
    if claim.intent_at is not None:  # an earlier attempt's outcome is unknown: Slack may have it
        try:
            found = poster.find_posted(key, oldest=claim.intent_at - CLOCK_SKEW_S)
        except (SlackApiError, LookupError) as error:
            found = None
            report.warnings.append(f"could not look for an earlier post of {key} ({_describe(error)}); posting it")
        if found:
            poster.update(*found, claim.text, claim.blocks, key)
            return *found, True
    _record_intent(cortex, key, owner)
    return *poster.post(claim.text, claim.blocks, key), False


def _deliver_replies(
    cortex: Cortex, poster: SlackPoster, claim: Claim, channel_id: str, ts: str, owner: str, report: DeliveryReport
) -> list[str]:
    """Post or update the message's thread replies, in order; the ts of each, as recorded."""
    if not claim.replies and not claim.reply_ts:
        return []
    key, posted = claim.partition_key, list(claim.reply_ts)
    if claim.ts is None:  # posted (or found) just now: recorded before any reply can be
        _record_posted(cortex, claim, channel_id, ts, owner)
    for part, reply in enumerate(claim.replies, 1):
        if part <= len(posted):
            poster.update(channel_id, posted[part - 1], reply["text"], reply["blocks"], key, part)
            continue
        outcome_unknown = claim.reply_unknown and part == len(claim.reply_ts) + 1  # the first not recorded
        found = _find_reply(poster, channel_id, ts, key, part, report) if outcome_unknown else None
        if found:
            poster.update(channel_id, found, reply["text"], reply["blocks"], key, part)
        else:
            _record_intent(cortex, key, owner)
            found = poster.reply(channel_id, ts, reply["text"], reply["blocks"], key, part)
        posted.append(found)
        _record_replies(cortex, claim, posted, owner)
    for extra in posted[len(claim.replies) :]:  # a shorter version: what it no longer needs goes
        poster.delete(channel_id, extra)
    return posted[: len(claim.replies)]


def _find_reply(
    poster: SlackPoster, channel_id: str, ts: str, key: str, part: int, report: DeliveryReport
) -> str | None:
    from slack_sdk.errors import SlackApiError

    try:
        return poster.find_reply(channel_id, ts, key, part)
    except SlackApiError as error:
        report.warnings.append(f"could not look for an earlier reply {part} of {key} ({_describe(error)}); posting it")
        return None


def claim_partition(cortex: Cortex, partition_key: str, owner: str) -> Claim | None:
    """The partition's pending message, now claimed by `owner`; None when another live run holds it."""
    import duckdb

    with cortex.connect() as db:
        try:
            db.execute("BEGIN")
            holder = db.execute(
                "SELECT claimed_by FROM deliveries WHERE partition_key = ? AND claim_expires > now()", [partition_key]
            ).fetchone()
            gone = holder[0] if holder and owner_gone(holder[0]) else None
            row = db.execute(
                """UPDATE deliveries SET claimed_by = ?, claim_expires = now() + to_seconds(?)
                   WHERE partition_key = ? AND pending
                     AND (claimed_by IS NULL OR claim_expires <= now() OR claimed_by = ? OR claimed_by = ?)
                   RETURNING text, blocks, channel_id, ts, epoch(intent_at), coalesce(revision, 0), replies, reply_ts""",
                [owner, CLAIM_S, partition_key, owner, gone],
            ).fetchone()
            db.execute("COMMIT")
        except duckdb.TransactionException:  # another thread of this process claimed it first
            return None
    if row is None:
        return None
    text, blocks, channel_id, ts, intent_at, revision, replies, reply_ts = row
    return Claim(
        partition_key,
        text,
        json.loads(blocks),
        channel_id,
        ts,
        intent_at,
        revision,
        json.loads(replies or "[]"),
        json.loads(reply_ts or "[]"),
    )


def owner_gone(owner: str) -> bool:
    """True when a claim's owner was a process on this host that no longer runs. Another host's
    claim is waited out until it expires."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    try:  # a killed child not yet reaped by its parent is a zombie: gone all the same
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _record_intent(cortex: Cortex, partition_key: str, owner: str) -> None:
    """Written before the post: a crash after Slack's acceptance leaves this to look for. The
    earliest attempt's time is kept, so a later search covers every attempt."""
    with cortex.connect() as db:
        db.execute(
            "UPDATE deliveries SET intent_at = coalesce(intent_at, now()) WHERE partition_key = ? AND claimed_by = ?",
            [partition_key, owner],
        )


def _record_posted(cortex: Cortex, claim: Claim, channel_id: str, ts: str, owner: str) -> None:
    """The message is in Slack: its ts recorded, its intent resolved, the claim kept for the replies."""
    with cortex.connect() as db:
        db.execute(
            "UPDATE deliveries SET channel_id = ?, ts = ?, intent_at = NULL WHERE partition_key = ? AND claimed_by = ?",
            [channel_id, ts, claim.partition_key, owner],
        )


def _record_replies(cortex: Cortex, claim: Claim, reply_ts: list[str], owner: str) -> None:
    with cortex.connect() as db:
        db.execute(
            "UPDATE deliveries SET reply_ts = ?, intent_at = NULL WHERE partition_key = ? AND claimed_by = ?",
            [json.dumps(reply_ts), claim.partition_key, owner],
        )


def _record_delivery(cortex: Cortex, claim: Claim, channel_id: str, ts: str, reply_ts: list[str]) -> bool:
    """Record the posted message and release the claim; True when a newer version was kept
    meanwhile (it stays pending: the next delivery updates the message). In the same transaction,
    each ITEM ref of the night gets the ts of the message (or thread reply) that carries it."""
    with cortex.connect() as db:
        db.execute("BEGIN")
        row = db.execute(
            """UPDATE deliveries SET channel_id = ?, ts = ?, reply_ts = ?, pending = (coalesce(revision, 0) <> ?),
               intent_at = NULL, claimed_by = NULL, claim_expires = NULL, attempts = attempts + 1,
               last_error = NULL, updated_at = now() WHERE partition_key = ? RETURNING pending""",
            [channel_id, ts, json.dumps(reply_ts), claim.revision, claim.partition_key],
        ).fetchone()
        db.execute(
            "UPDATE briefing_items SET message_ts = list_extract(?::VARCHAR[], coalesce(page, 0) + 1) WHERE partition_key = ?",
            [[ts, *reply_ts], claim.partition_key],
        )
        db.execute("COMMIT")
    return bool(row and row[0])


def _record_failure(cortex: Cortex, partition_key: str, error: str) -> None:
    """Release the claim; an intent stays, so the next attempt looks for a post Slack may have kept."""
    with cortex.connect() as db:
        db.execute(
            """UPDATE deliveries SET attempts = attempts + 1, last_error = ?, claimed_by = NULL, claim_expires = NULL,
               updated_at = now() WHERE partition_key = ?""",
            [error, partition_key],
        )


def _describe(error: Exception) -> str:
    if hasattr(error, "response") and hasattr(error.response, "get"):  # SlackApiError
        status = getattr(error.response, "status_code", "?")
        return f"HTTP {status}, error '{error.response.get('error', 'unknown')}'"
    return f"{type(error).__name__}: {error}"
