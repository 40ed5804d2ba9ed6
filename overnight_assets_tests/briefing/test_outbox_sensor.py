"""outbox_sensor asks for a delivery run only when a delivery failed and Slack is configured."""

import dagster as dg

from overnight_assets.briefing.delivery import keep_in_outbox
from overnight_assets.definitions import build_defs
from overnight_assets.resources.cortex import Cortex


def evaluate(config, instance):
    defs = build_defs(config)
    sensor = defs.resolve_sensor_def("outbox_sensor")
    repository = defs.get_repository_def()
    with dg.build_sensor_context(instance=instance, repository_def=repository, resources=defs.resources) as context:
        return sensor.evaluate_tick(context)


def test_failed_delivery_is_retried_until_delivered(make_config, instance, unused_url, slack_server, monkeypatch):
    config = make_config(unused_url, slack_server.url)
    assert "No Cortex yet" in evaluate(config, instance).skip_message
    cortex = Cortex(config.paths.cortex)
    keep_in_outbox(cortex, config.paths.outbox, "2026-11-20", "text", [])
    assert evaluate(config, instance).skip_message == "Outbox empty"  # never tried yet: the nightly run will
    with cortex.connect() as db:
        db.execute("UPDATE deliveries SET attempts = 1, last_error = 'HTTP 500'")
    request = evaluate(config, instance).run_requests[0]
    assert (request.partition_key, request.run_key) == ("2026-11-20", "outbox-2026-11-20-1")
    monkeypatch.delenv("OVERNIGHT_TEST_SLACK_TOKEN")
    assert "OVERNIGHT_TEST_SLACK_TOKEN unset" in evaluate(config, instance).skip_message


def test_a_busy_cortex_skips_the_tick_instead_of_holding_the_daemon(
    make_config, instance, unused_url, slack_server, monkeypatch
):
    import overnight_assets.briefing.sensors as sensors
    from overnight_assets_tests.testkit.cortex import hold_cortex, release_cortex

    monkeypatch.setattr(sensors, "SENSOR_LOCK_WAIT_S", 0.5)
    config = make_config(unused_url, slack_server.url)
    keep_in_outbox(Cortex(config.paths.cortex), config.paths.outbox, "2026-11-20", "text", [])
    writer = hold_cortex(config.paths.cortex, read_only=False)
    try:
        skipped = evaluate(config, instance).skip_message
    finally:
        release_cortex(writer)
    assert skipped.startswith("Cortex is busy; the next tick looks again") and f"PID {writer.pid}" in skipped
