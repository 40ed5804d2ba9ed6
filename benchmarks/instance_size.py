"""DAGSTER_HOME's size on disk after 90 simulated nights, with retention on and off.

Two real SQLite instances with the repo's dagster.yaml live the same 90 past nights (backdated with
Dagster's freeze_time, as the maintenance tests do):
- every night a nightly-like run of four partitioned assets (each prints a line: captured output),
  and the morning's delivery run; every fifth night the nightly run fails first and is run again;
- the ticks the daemon records in a day, at each sensor's and schedule's own interval
  (dead_worker_sensor every minute, briefing_after_failure_sensor every 30 s, new_commits_sensor
  every 5 minutes, outbox_sensor every 15, the nightly schedule once), written in one batch per day
  with the rows Dagster's create_tick writes.
Retention on: the daemon's tick purge (dagster.yaml's `retention:`) at the end of every day, and the
project's weekly maintenance job (the real `retention` asset) every seventh night. Off: neither.
Reported: the bytes under DAGSTER_HOME and its parts, the runs kept and the ticks kept.
Cortex is not part of it: the runs here do not write one (its pruning is tested on a real file).

No target: reference figures, retention on against off.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

NIGHTS = 90
FAIL_EVERY = 5
TICKS_PER_DAY = {  # instigator name: ticks a day, at its interval
    "dead_worker_sensor": 24 * 60,
    "briefing_after_failure_sensor": 24 * 60 * 2,
    "new_commits_sensor": 24 * 12,
    "outbox_sensor": 24 * 4,
    "nightly_schedule": 1,
}
daily = dg.DailyPartitionsDefinition(start_date="2026-01-01")


def section(name: str):
    @dg.asset(name=name, partitions_def=daily)
    def _section(context) -> dg.MaterializeResult:  # no annotation: this module postpones them
        if context.run.tags.get("plant") == "failure" and name == "reading":
            raise RuntimeError("planted failure")
        print(f"{name} of {context.partition_key}", file=sys.stderr)  # captured output, as every real step has
        return dg.MaterializeResult(metadata={"partition": context.partition_key, "items": 12})

    return _section


NIGHTLY = [section(name) for name in ("security_triage", "reading", "code_reviews", "morning_briefing")]
DELIVERY = [section("morning_delivery")]


def run(instance, assets, when: datetime, partition: str, plant: str = "") -> bool:
    from dagster._core.test_utils import freeze_time

    with freeze_time(when):
        result = dg.materialize(
            assets,
            instance=instance,
            partition_key=partition,
            tags={"plant": plant} if plant else None,
            raise_on_error=False,
        )
    return result.success


def register_instigators(instance) -> dict:
    """The schedule and sensors as the daemon registers them (running), so that retention finds their ticks."""
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteInstigatorOrigin, RemoteRepositoryOrigin
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        ScheduleInstigatorData,
        SensorInstigatorData,
    )

    repository = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("overnight_assets"), "__repository__")
    states = {}
    for name in TICKS_PER_DAY:
        if name.endswith("_schedule"):
            kind, data = InstigatorType.SCHEDULE, ScheduleInstigatorData("0 3 * * *", start_timestamp=0.0)
        else:
            kind, data = InstigatorType.SENSOR, SensorInstigatorData()
        state = InstigatorState(RemoteInstigatorOrigin(repository, name), kind, InstigatorStatus.RUNNING, data)
        states[name] = instance.add_instigator_state(state)
    return states


def record_ticks(instance, states: dict, day: datetime) -> None:
    """One day of the daemon's ticks (the sensors' skipped, the schedule's launching its run), written in one
    transaction with the columns Dagster's create_tick writes."""
    from dagster._core.scheduler.instigation import TickData, TickStatus
    from dagster._core.storage.schedules.schema import JobTickTable
    from dagster._serdes import serialize_value

    rows = []
    for name, per_day in TICKS_PER_DAY.items():
        state = states[name]
        for i in range(per_day):
            at = day + timedelta(days=i / per_day)
            outcome = (
                {"status": TickStatus.SUCCESS, "run_ids": ["a-run-it-launched"]}
                if name.endswith("_schedule")
                else {"status": TickStatus.SKIPPED, "skip_reason": "no run with a dead worker on this host"}
            )
            data = TickData(
                instigator_origin_id=state.instigator_origin_id,
                instigator_name=name,
                instigator_type=state.instigator_type,
                timestamp=at.timestamp(),
                selector_id=state.selector_id,
                **outcome,
            )
            rows.append(
                {
                    "job_origin_id": data.instigator_origin_id,
                    "status": data.status.value,
                    "type": data.instigator_type.value,
                    "timestamp": at.astimezone(UTC).replace(tzinfo=None),
                    "tick_body": serialize_value(data),
                    "selector_id": data.selector_id,
                }
            )
    with instance.schedule_storage.connect() as conn:
        conn.execute(JobTickTable.insert(), rows)


def apply_retention(instance, now: datetime, home: Path, weekly: bool) -> None:
    """The daemon's tick purge (after each tick: here once a day); on the weekly night, the maintenance job."""
    from dagster._core.test_utils import freeze_time

    from overnight_assets.config import RetentionConfig
    from overnight_assets.operations.assets import build_maintenance_defs, purge_ticks
    from overnight_assets.resources.dagster_resources import CortexResource

    purge_ticks(instance, now)
    if weekly:
        (asset,) = build_maintenance_defs(RetentionConfig(), "0 12 * * 0", "UTC").assets
        with freeze_time(now):
            result = dg.materialize(
                [asset], instance=instance, resources={"cortex": CortexResource(path=str(home / "cortex.duckdb"))}
            )
        assert result.success


def live_nights(instance, states: dict, first: datetime, nights: int, home: Path, retention: bool) -> None:
    for n in range(nights):
        evening = first + timedelta(days=n)
        partition = (evening - timedelta(days=1)).strftime("%Y-%m-%d")
        night = evening + timedelta(hours=3)
        if n % FAIL_EVERY == FAIL_EVERY - 1:
            assert not run(instance, NIGHTLY, night, partition, plant="failure")
            night += timedelta(minutes=30)  # run again by hand
        assert run(instance, NIGHTLY, night, partition)
        assert run(instance, DELIVERY, night + timedelta(hours=4), partition)
        record_ticks(instance, states, evening)
        if retention:
            apply_retention(instance, evening + timedelta(days=1), home, weekly=n % 7 == 6)


def sizes(dagster_home: Path) -> dict[str, int]:
    """Bytes on disk under DAGSTER_HOME, by part."""

    def size(*patterns: str) -> int:
        return sum(path.stat().st_size for pattern in patterns for path in dagster_home.glob(pattern) if path.is_file())

    parts = {
        "history/runs.db": size("history/runs.db*"),
        "history/runs/*.db (event logs)": size("history/runs/*"),
        "schedules (ticks)": size("schedules/**/*"),
        "storage (captured output)": size("storage/**/*"),
    }
    return {"total": size("**/*"), **parts}


def one_way(root: Path, nights: int, retention: bool) -> tuple[dict[str, int], int, int]:
    """(sizes, runs kept, ticks kept) of an instance after `nights`, with retention on or off."""
    from overnight_assets_tests.testkit.instances import sqlite_instance

    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=nights)
    dagster_home = root / ("retention-on" if retention else "retention-off")
    with sqlite_instance(dagster_home) as instance:
        states = register_instigators(instance)
        live_nights(instance, states, first, nights, root / "home", retention)
        runs = instance.get_runs_count()
        ticks = sum(
            len(instance.get_ticks(s.instigator_origin_id, s.selector_id, limit=10**7)) for s in states.values()
        )
    return sizes(dagster_home), runs, ticks


def main(nights: int) -> None:
    import tempfile

    from _report import figure, report

    figures = []
    with tempfile.TemporaryDirectory(prefix="overnight-bench-") as tmp:
        for retention in (False, True):
            started = time.perf_counter()
            parts, runs, ticks = one_way(Path(tmp), nights, retention)
            way = "on" if retention else "off"
            print(
                f"  retention {way}: {nights} nights in {time.perf_counter() - started:.0f} s; {runs} runs, {ticks} ticks"
            )
            for part, size in parts.items():
                print(f"    {part:<34} {size / 1e6:8.2f} MB")
            figures += [
                figure(f"DAGSTER_HOME after {nights} nights, retention {way}", parts["total"] / 1e6, "MB"),
                figure(f"  runs kept, retention {way}", runs, "runs"),
                figure(f"  ticks kept, retention {way}", ticks, "ticks"),
            ]
    report("instance_size", figures)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=NIGHTS)
    main(parser.parse_args().nights)
