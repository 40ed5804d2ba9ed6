"""outbox_sensor retries messages that Slack refused (morning messages and alerts);
briefing_after_failure_sensor sends the morning message of a night whose run failed. Between
them a morning message is never lost. The alert sensors (below) tell the owner at once what
cannot wait for the morning."""

import os
from collections.abc import Callable
from datetime import UTC, datetime, time
from functools import cached_property
from zoneinfo import ZoneInfo

import dagster as dg

from overnight_assets.briefing import alerts
from overnight_assets.briefing.delivery import ALERT_PREFIX
from overnight_assets.briefing.failures import SECURITY_SECTION, SectionFailure, first_line, run_url
from overnight_assets.config import AlertsConfig, Paths
from overnight_assets.partitions import night_partition
from overnight_assets.resources.cortex import CortexLockedError
from overnight_assets.resources.dagster_resources import CortexResource, SlackResource

SENSOR_LOCK_WAIT_S = 5.0
# a failure or a RED verdict reaches a person within 2 minutes; each tick costs the idle daemon CPU and a stored tick
ALERT_TICK_S = 120
SENSOR_SLACK_DEADLINE_S = 15.0  # per Slack call from a sensor: the daemon ends a tick after 60 s


def build_outbox_sensor(delivery_job, token_env: str, paths: Paths) -> dg.SensorDefinition:
    @dg.sensor(
        name="outbox_sensor",
        job=delivery_job,
        minimum_interval_seconds=15 * 60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Delivers the alerts Slack refused, and requests morning_delivery for the newest "
        "morning message whose delivery failed, until each is delivered.",
    )
    def outbox_sensor(context: dg.SensorEvaluationContext, slack: SlackResource, cortex: CortexResource):
        if not os.environ.get(token_env):
            return dg.SkipReason(f"Slack not configured ({token_env} unset): messages wait in the outbox")
        # a tick must stay short: a lock held elsewhere is waited out by the next tick, not this one
        cortex = cortex.get(SENSOR_LOCK_WAIT_S)
        if not cortex.exists():
            return dg.SkipReason("No Cortex yet: nothing has been delivered or kept")
        try:
            with cortex.connect(read_only=True) as db:
                # a morning message never tried is the nightly run's to send; an alert is this sensor's
                waiting = db.execute(
                    "SELECT partition_key, attempts FROM deliveries WHERE pending "
                    "AND (attempts > 0 OR starts_with(partition_key, $alert)) "
                    "ORDER BY starts_with(partition_key, $alert), partition_key DESC",
                    {"alert": ALERT_PREFIX},
                ).fetchall()
            said = []  # what this tick did, for its message
            if any(alerts.is_alert(key) for key, _ in waiting):
                report = alerts.deliver_kept_alerts(cortex, paths.outbox, slack.poster(SENSOR_SLACK_DEADLINE_S))
                said = [f"Alerts delivered: {', '.join(report.delivered) or 'none'}", *filter(None, [report.error])]
                context.log.info(". ".join(said))
        except CortexLockedError as error:
            return dg.SkipReason(f"Cortex is busy; the next tick looks again: {error}")
        briefings = [(key, attempts) for key, attempts in waiting if not alerts.is_alert(key)]
        if not briefings:
            return dg.SkipReason(". ".join([*said, "No morning message waiting"]) if waiting else "Outbox empty")
        partition_key, attempts = briefings[0]
        # delivering one partition flushes every pending message, oldest first
        return dg.RunRequest(run_key=f"outbox-{partition_key}-{attempts}", partition_key=partition_key)

    return outbox_sensor


# --- the morning message after a failed night ------------------------------------------------
#
# Why a run-failure sensor: within a run Dagster never executes a step whose upstream failed (an
# asset input cannot tolerate a failed upstream), so one failed section skips morning_briefing
# and morning_delivery. Making every section asset swallow its own errors instead would hide the
# failure from the UI, from retries and from the triage's failed-run collector. A run-failure
# sensor is Dagster's tool for reacting to a failed run: it launches a second, small run of
# `briefing_after_failure` (morning_briefing + morning_delivery) for the same partition. That
# briefing loads its sections as optional inputs, keeps only those the failed run materialized
# and names the others with the error read from the failed run's events. `overnight run`, which
# has no daemon, does the same itself (brief_after_failed_night).

AFTER_FAILURE_JOB = "briefing_after_failure"
AFTER_FAILED_RUN_TAG = "overnight/after_failed_run"  # the failed nightly run a briefing stands in for
BRIEFING = dg.AssetKey("morning_briefing")
DELIVERY = dg.AssetKey("morning_delivery")


def after_failure_job(executor_def: dg.ExecutorDefinition | None = None):
    """`executor_def`: the one this job runs with whatever the project's executor is (definitions.py)."""
    return dg.define_asset_job(
        AFTER_FAILURE_JOB,
        selection=dg.AssetSelection.assets(BRIEFING, DELIVERY),
        executor_def=executor_def,
        description="The morning message for a partition whose nightly run failed: what did materialize, and what failed.",
    )


def build_failure_briefing_sensor(nightly_job, briefing_job) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="briefing_after_failure_sensor",
        monitored_jobs=[nightly_job],
        request_job=briefing_job,
        minimum_interval_seconds=ALERT_TICK_S,  # Dagster's 30 s default made it two thirds of all ticks stored
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="When a nightly run fails, sends that night's briefing anyway, naming the failed sections.",
    )
    def briefing_after_failure_sensor(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        if reason := no_briefing_needed(context.instance, run):
            return dg.SkipReason(reason)
        return dg.RunRequest(
            run_key=f"after-{run.run_id}",
            partition_key=run.tags["dagster/partition"],
            tags={AFTER_FAILED_RUN_TAG: run.run_id},
        )

    return briefing_after_failure_sensor


def no_briefing_needed(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """Why a failed nightly run needs no briefing of its own, or None when it does."""
    if "dagster/partition" not in run.tags:
        return f"Run {run.run_id} has no partition"
    if DELIVERY in instance.get_asset_keys_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        return f"Run {run.run_id} delivered its briefing before it failed"
    return None


def failures_in_run(
    instance: dg.DagsterInstance, run_id: str, section_names: list[str], ui_base_url: str
) -> list[SectionFailure]:
    """Every section the failed run did not materialize: FAILED with its error's first line, or
    NOT RUN with what stopped the run first."""
    entries = instance.all_logs(
        run_id,
        of_type={
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.STEP_FAILURE,
            dg.DagsterEventType.RUN_FAILURE,
        },
    )
    materialized, errors, run_error = set(), {}, None
    for entry in entries:
        event = entry.dagster_event
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialized.add(event.asset_key.path[-1])
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            errors[event.step_key] = step_error(event)
        else:
            run_error = first_line(entry.message or "")
    link = run_url(ui_base_url, run_id)
    stopped = f"{', '.join(errors)} failed first" if errors else f"the run failed before it: {run_error}"
    return [
        SectionFailure(name, "FAILED", errors[name], link)
        if name in errors
        else SectionFailure(name, "NOT RUN", stopped, link)
        for name in section_names
        if name not in materialized
    ]


def failed_steps(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Each failed step of the run (an asset's name) with its error's first line."""
    entries = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    return {entry.dagster_event.step_key: step_error(entry.dagster_event) for entry in entries}


def step_error(event: dg.DagsterEvent) -> str:
    return first_line(_innermost_message(event.step_failure_data.error))


def _innermost_message(error) -> str:
    """Dagster wraps a step's exception ("Error occurred while executing op ..."); the user's
    error is its cause."""
    while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    return error.message


def interrupted(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether the run failed because its process was told to stop (SIGTERM, SIGINT)."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
        failure = entry.dagster_event.event_specific_data
        if (
            failure is not None
            and failure.error is not None
            and failure.error.cls_name == "DagsterExecutionInterruptedError"
        ):
            return True
    return False


# --- alerts: what cannot wait for the morning ------------------------------------------------
#
# Each sensor builds its alert and sends it through the outbox (alerts.send): kept once under its
# own key before it is posted, so a tick evaluated twice or a daemon restarted never sends it
# twice, and Slack being down only delays it (outbox_sensor delivers what stayed). Without a Slack
# token the sensors send nothing: alerts are for now, and the outbox would only hold stale ones.

SECURITY = dg.AssetKey(SECURITY_SECTION)
STALE_S = 24 * 3600  # a RED verdict older than this was in a morning message already: no alert
BATCH = 100  # materializations read per tick; the cursor carries on from there
RUNS_DESCRIBED = 3  # of a night without its morning message, newest first
BUSY = "Cortex is busy; the next tick tries again"


def build_alert_sensors(
    settings: AlertsConfig,
    timezone: str,
    paths: Paths,
    ui_base_url: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[dg.SensorDefinition]:
    # A plain sensor over the instance's run failures, not a run_failure_sensor: that one moves its
    # cursor past a failure whose evaluation raised, and an alert Cortex could not keep would be lost.
    @dg.sensor(
        name="run_failure_alert_sensor",
        minimum_interval_seconds=ALERT_TICK_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Posts a short Slack alert for every failed run: the failed assets, each error's "
        "first line, a link to the run.",
    )
    def run_failure_alert_sensor(context: dg.SensorEvaluationContext, slack: SlackResource, cortex: CortexResource):
        if context.cursor is None:  # failures from before the sensor existed are no news
            latest = context.instance.fetch_run_status_changes(dg.DagsterEventType.RUN_FAILURE, limit=1).records
            context.update_cursor(str(latest[0].storage_id if latest else 0))
            return dg.SkipReason("Alerts start with the next failed run")
        sender, outcomes = AlertSender(context, slack, paths, cortex), []
        failures = dg.RunStatusChangeRecordsFilter(
            dg.DagsterEventType.RUN_FAILURE, after_storage_id=int(context.cursor)
        )
        for record in context.instance.fetch_run_status_changes(failures, limit=BATCH, ascending=True).records:
            run = context.instance.get_run_by_id(record.run_id)
            if run is None:  # deleted since (retention): nothing left to link to
                context.update_cursor(str(record.storage_id))
                continue
            alert = alerts.run_failed(
                run.job_name,
                run.run_id,
                run.tags.get("dagster/partition"),
                failed_steps(context.instance, run.run_id),
                record.event_log_entry.message or "",
                run_url(ui_base_url, run.run_id),
            )
            try:
                outcomes.append(sender.send(alert))
            except CortexLockedError as error:
                return dg.SkipReason(f"{BUSY}: {error}")  # the cursor stays before this run: the next tick sends it
            context.update_cursor(str(record.storage_id))
        return dg.SkipReason("; ".join(outcomes) or "No run failed")

    @dg.sensor(
        name="security_alert_sensor",
        minimum_interval_seconds=ALERT_TICK_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Posts a Slack alert at once when security_triage materializes RED (once per partition).",
    )
    def security_alert_sensor(context: dg.SensorEvaluationContext, slack: SlackResource, cortex: CortexResource):
        found = context.instance.fetch_materializations(SECURITY, limit=BATCH, cursor=context.cursor, ascending=True)
        sender, outcomes = AlertSender(context, slack, paths, cortex), []
        for record in found.records:
            materialization = record.asset_materialization
            status, findings = (materialization.metadata.get(key) for key in ("status", "finding_list"))
            if getattr(status, "value", None) != "RED" or record.timestamp < clock().timestamp() - STALE_S:
                continue
            url = run_url(ui_base_url, record.run_id)
            alert = alerts.security_red(record.partition_key or "", getattr(findings, "value", ""), url)
            try:
                outcomes.append(sender.send(alert))
            except CortexLockedError as error:
                return dg.SkipReason(f"{BUSY}: {error}")  # the cursor stays: the next tick sends it
        context.update_cursor(found.cursor)
        return dg.SkipReason("; ".join(outcomes) or f"No new RED {SECURITY_SECTION}")

    @dg.sensor(
        name="briefing_deadline_sensor",
        minimum_interval_seconds=5 * 60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"A dead-man's switch: a Slack alert when the morning message was not delivered "
        f"by {settings.briefing_by} ({timezone}), saying what is known.",
    )
    def briefing_deadline_sensor(context: dg.SensorEvaluationContext, slack: SlackResource, cortex: CortexResource):
        due = time.fromisoformat(settings.briefing_by)
        local = clock().astimezone(ZoneInfo(timezone))
        if local.time() < due:
            return dg.SkipReason(f"Before {settings.briefing_by}: the morning message is not due yet")
        night = night_partition(local, timezone)
        if context.cursor == night:
            return dg.SkipReason(f"The morning message for {night} was checked today")
        try:
            delivered, outbox_error = alerts.delivery_of(cortex.get(SENSOR_LOCK_WAIT_S), night)
        except CortexLockedError as error:
            return dg.SkipReason(f"{BUSY}: {error}")
        if delivered:
            context.update_cursor(night)
            return dg.SkipReason(f"The morning message for {night} was delivered")
        runs = context.instance.get_runs(dg.RunsFilter(tags={"dagster/partition": night}), limit=RUNS_DESCRIBED)
        alert = alerts.briefing_missing(
            night,
            f"{settings.briefing_by} {timezone}",
            alerts.what_is_known([_run_facts(run, context.instance, timezone) for run in runs], outbox_error),
            run_url(ui_base_url, runs[0].run_id) if runs else None,
        )
        try:
            outcome = AlertSender(context, slack, paths, cortex).send(alert)
        except CortexLockedError as error:
            return dg.SkipReason(f"{BUSY}: {error}")
        context.update_cursor(night)
        return dg.SkipReason(outcome)

    sensors = [run_failure_alert_sensor, security_alert_sensor]
    return sensors + ([briefing_deadline_sensor] if settings.briefing_by else [])


class AlertSender:
    """Keeps and sends one tick's alerts: a short wait for Cortex (CortexLockedError past it) and a
    short Slack deadline; once Slack refused one, the rest are only kept (outbox_sensor sends them),
    so a tick stays within the daemon's minute. Each send says what happened, for the tick's message."""

    def __init__(self, context: dg.SensorEvaluationContext, slack: SlackResource, paths: Paths, cortex: CortexResource):
        self.context, self.slack, self.paths, self.cortex = context, slack, paths, cortex
        self.slack_refused = False

    @cached_property
    def poster(self):  # None without a token
        return self.slack.poster(SENSOR_SLACK_DEADLINE_S)

    def send(self, alert: alerts.Alert) -> str:
        if self.poster is None:
            return f"Slack not configured ({self.slack.token_env} unset): alert {alert.key} not sent"
        report = alerts.send(
            alert, self.cortex.get(SENSOR_LOCK_WAIT_S), self.paths.outbox, None if self.slack_refused else self.poster
        )
        if report is None:
            return f"Alert {alert.key} was sent or kept before"
        if report.error:
            self.slack_refused = True
            self.context.log.warning(f"{report.error}; kept in the outbox for outbox_sensor")
            return f"Alert {alert.key} kept in the outbox: {report.error}"
        if self.slack_refused:
            return f"Alert {alert.key} kept in the outbox: Slack refused an alert before it"
        return f"Alert {alert.key} sent"


def _run_facts(run: dg.DagsterRun, instance: dg.DagsterInstance, timezone: str) -> tuple[str, str, str]:
    record = instance.get_run_record_by_id(run.run_id)
    started = record.start_time if record and record.start_time else None
    when = datetime.fromtimestamp(started, ZoneInfo(timezone)).strftime("%H:%M") if started else "not yet"
    return run.job_name, run.status.value, when
