"""One night: the partition's key and window, from Dagster's own time window, in the configured timezone."""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from overnight_assets.partitions import Night, daily_partitions

BUCHAREST = ZoneInfo("Europe/Bucharest")


def night_in_an_asset(timezone: str, partition_key: str) -> Night:
    partitions = daily_partitions(timezone)
    seen = []

    @dg.asset(partitions_def=partitions)
    def looks_at_its_night(context: dg.AssetExecutionContext) -> None:
        seen.append(Night.of(context))

    assert dg.materialize([looks_at_its_night], partition_key=partition_key).success
    return seen[0]


@pytest.mark.parametrize(
    "partition_key, hours",
    [
        ("2026-03-29", 23),  # clocks go forward at 03:00
        ("2026-10-25", 25),  # clocks go back at 04:00
        ("2026-11-20", 24),
    ],
)
def test_a_night_runs_from_midnight_to_midnight_on_the_wall_clock(partition_key, hours):
    night = night_in_an_asset("Europe/Bucharest", partition_key)
    day = datetime.strptime(partition_key, "%Y-%m-%d")
    assert night.partition_key == partition_key and night.timezone == "Europe/Bucharest" and night.tz == BUCHAREST
    assert night.start == day.replace(tzinfo=BUCHAREST)
    assert night.end == day.replace(day=day.day + 1, tzinfo=BUCHAREST)
    assert (night.end.timestamp() - night.start.timestamp()) / 3600 == hours
    assert night == Night.of_partition(daily_partitions("Europe/Bucharest"), partition_key)


def test_a_utc_night_has_a_zoneinfo_like_any_other():
    night = Night.of_partition(daily_partitions("UTC"), "2026-11-20")
    assert night.tz == ZoneInfo("UTC") and night.start == datetime(2026, 11, 20, tzinfo=ZoneInfo("UTC"))
    assert night.end.timestamp() - night.start.timestamp() == 24 * 3600


def test_the_partitions_the_ui_counts_start_at_the_configured_first_night(tmp_path):
    from datetime import timedelta

    from overnight_assets.config import load_config
    from overnight_assets.definitions import build_defs

    first = datetime.now(BUCHAREST).date() - timedelta(days=2)
    config = tmp_path / "overnight.yaml"
    config.write_text(f"timezone: Europe/Bucharest\nfirst_night: {first}\nhome: {tmp_path}\n")
    partitions = build_defs(load_config(config)).resolve_job_def("nightly").partitions_def
    assert partitions.get_first_partition_key() == first.isoformat()
    assert len(partitions.get_partition_keys()) == 3  # two complete nights and today's (for the commits sensor)
