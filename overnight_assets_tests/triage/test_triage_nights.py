"""security_triage across nights, on a real SQLite instance and a real Cortex: what it remembers
(login addresses) and what it reads from the instance (failed runs)."""

import json
from datetime import datetime

import dagster as dg

from overnight_assets.definitions import build_defs
from overnight_assets.partitions import today_partition

LAN = "192.168.1.23"  # logs in on Nov 19 and Nov 20 in the demo's auth.log
NEWCOMER = "198.51.100.20"
TRIAGE = dg.AssetKey("security_triage")


def run_triage(config, instance, partition: str) -> tuple[dict, dict]:
    """Materialize security_triage alone for `partition`: (its section, its metadata)."""
    job = build_defs(config).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(asset_selection=[TRIAGE], partition_key=partition, instance=instance)
    assert result.success
    event = instance.get_latest_materialization_event(TRIAGE)
    assert event.asset_materialization.partition == partition
    metadata = {key: value.value for key, value in event.asset_materialization.metadata.items()}
    section = json.loads((config.paths.assets / "security_triage" / f"{partition}.json").read_text())
    return section, metadata


def problems(section: dict) -> dict[str, str]:
    return {item["title"]: item["severity"] for item in section["items"] if item["severity"] != "info"}


def test_a_login_address_seen_on_night_one_is_not_new_on_night_two(make_config, instance, unused_url, host_files):
    with open(host_files / "auth.log", "a") as log:
        log.write(f"Nov 20 12:30:00 homelab sshd[5000]: Accepted publickey for ana from {NEWCOMER} port 50000 ssh2\n")
    config = make_config(unused_url)

    first, metadata = run_triage(config, instance, "2026-11-19")
    assert problems(first) == {}  # the first night records what it sees as the baseline
    assert metadata["status"] == "GREEN"

    second, metadata = run_triage(config, instance, "2026-11-20")
    assert problems(second) == {f"SSH login from new address {NEWCOMER}": "amber"}
    assert not any(LAN in item["title"] for item in second["items"])
    assert (metadata["gate_status"], metadata["findings"]) == ("AMBER", 1)


def test_a_clean_first_night_has_notes_and_no_findings(make_config, instance, unused_url):
    section, metadata = run_triage(make_config(unused_url), instance, "2026-11-20")
    assert (metadata["status"], metadata["findings"], metadata["notes"]) == ("GREEN", 0, 2)
    assert [item["note"] for item in section["items"]] == [True, True]
    assert section["markdown"].startswith("Nothing suspicious from the 5 collectors that ran (docker disabled).")
    assert section["markdown"].endswith(
        "_Notes: auth_log: recorded 1 SSH login address as the baseline; integrity: baseline recorded for 2 files._"
    )


# --- the failed-runs collector against runs the instance really holds ------------------------


@dg.op(config_schema={"fail": bool})
def maybe_fail(context: dg.OpExecutionContext) -> None:
    if context.op_config["fail"]:
        raise RuntimeError("planted failure")


@dg.job
def flaky_backup() -> None:
    maybe_fail()


def run_flaky_backup(instance, fail: bool) -> str:
    config = {"ops": {"maybe_fail": {"config": {"fail": fail}}}}
    result = flaky_backup.execute_in_process(run_config=config, instance=instance, raise_on_error=False)
    assert result.success is not fail
    return result.run_id


def test_a_failed_run_in_the_instance_is_named_and_a_successful_one_is_not(make_config, instance, unused_url):
    failed = run_flaky_backup(instance, fail=True)
    succeeded = run_flaky_backup(instance, fail=False)
    config = make_config(unused_url)
    created: datetime = instance.get_run_record_by_id(failed).create_timestamp
    partition = today_partition(created, config.timezone)  # the night whose lookback holds the run

    section, metadata = run_triage(config, instance, partition)

    [finding] = [item for item in section["items"] if item["collector"] == "dagster_runs"]
    assert (finding["severity"], finding["title"]) == ("amber", "1 failed run of flaky_backup")
    assert failed in finding["detail"] and succeeded not in finding["detail"]
    assert metadata["gate_status"] == "AMBER"
