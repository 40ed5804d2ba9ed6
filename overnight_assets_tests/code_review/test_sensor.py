"""new_commits_sensor against real repositories and a real instance."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from overnight_assets.definitions import build_defs

TZ = ZoneInfo("Europe/Bucharest")


def today() -> str:
    return datetime.now(TZ).date().isoformat()


@pytest.fixture
def watched(make_config, make_repo, unused_url):
    repo = make_repo()
    defs = build_defs(make_config(unused_url, code_review__repos=[{"name": "homelab", "path": str(repo.path)}]))
    return repo, defs


def evaluate(defs, instance, cursor):
    sensor = defs.resolve_sensor_def("new_commits_sensor")
    with dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=defs.get_repository_def()) as context:
        return sensor.evaluate_tick(context)


def test_one_request_per_batch_of_new_commits_with_the_cursor_carried(watched, instance):
    repo, defs = watched
    first = evaluate(defs, instance, None)
    assert not first.run_requests and "First look" in first.skip_message and first.cursor

    quiet = evaluate(defs, instance, first.cursor)
    assert not quiet.run_requests and quiet.skip_message == "No new commits"

    now = datetime.now(TZ)
    repo.commit("New work", {"new.py": "x = 1\n"}, at=now)
    repo.branch("topic")
    repo.commit("Topic work", {"topic.py": "y = 2\n"}, at=now)
    fresh = evaluate(defs, instance, quiet.cursor)
    [request] = fresh.run_requests
    assert request.partition_key == today()
    assert request.tags["overnight/moved"] == "homelab/main, homelab/topic"
    assert request.asset_selection is None  # the code_review job's own selection

    after = evaluate(defs, instance, fresh.cursor)
    assert not after.run_requests and after.skip_message == "No new commits"


def test_a_commit_pushed_after_its_night_is_reviewed_in_that_night(watched, instance):
    repo, defs = watched
    cursor = evaluate(defs, instance, None).cursor
    last_night = datetime.now(TZ).replace(hour=22, minute=0, second=0, microsecond=0) - timedelta(days=1)
    repo.commit("Made last night, pushed this morning", {"late.py": "z = 3\n"}, at=last_night)
    [request] = evaluate(defs, instance, cursor).run_requests
    assert request.partition_key == last_night.date().isoformat()


def test_never_more_than_one_review_run_in_flight_and_nothing_dropped(watched, instance):
    repo, defs = watched
    cursor = evaluate(defs, instance, None).cursor
    run = instance.create_run_for_job(defs.resolve_job_def("code_review"), status=dg.DagsterRunStatus.STARTED)
    repo.commit("New work", {"new.py": "x = 1\n"}, at=datetime.now(TZ))

    held = evaluate(defs, instance, cursor)
    assert not held.run_requests and "still in flight" in held.skip_message
    assert list(json.loads(held.cursor)["pending"]) == [today()]  # kept for later, not lost

    instance.report_run_failed(run)
    [request] = evaluate(defs, instance, held.cursor).run_requests  # no new commit since: still asked
    assert request.partition_key == today() and request.run_key.startswith(f"commits-{today()}-")


def test_old_history_and_a_new_repository_queue_nothing(make_config, make_repo, unused_url, instance, tmp_path):
    kept = make_repo("kept")
    repos = [{"name": "kept", "path": str(kept.path)}]
    cursor = evaluate(build_defs(make_config(unused_url, code_review__repos=repos)), instance, None).cursor
    kept.commit("An old commit pushed late", {"old.py": "o = 1\n"}, at=datetime.now(TZ) - timedelta(days=30))
    added = make_repo("added")
    added.commit("Fresh in a repository the sensor has not seen", {"a.py": "a = 1\n"}, at=datetime.now(TZ))
    defs = build_defs(make_config(unused_url, code_review__repos=[*repos, {"name": "added", "path": str(added.path)}]))
    result = evaluate(defs, instance, cursor)
    assert not result.run_requests and set(json.loads(result.cursor)["tips"]) == {"kept", "added"}


def test_a_repository_that_disappears_keeps_its_tips_and_the_others_count(
    make_config, make_repo, unused_url, instance, tmp_path
):
    kept, doomed = make_repo("kept"), make_repo("doomed")
    repos = [{"name": "kept", "path": str(kept.path)}, {"name": "doomed", "path": str(doomed.path)}]
    defs = build_defs(make_config(unused_url, code_review__repos=repos))
    cursor = evaluate(defs, instance, None).cursor
    (doomed.path / ".git").rename(tmp_path / "moved-away")
    kept.commit("New work", {"new.py": "x = 1\n"}, at=datetime.now(TZ))
    result = evaluate(defs, instance, cursor)
    assert [r.tags["overnight/moved"] for r in result.run_requests] == ["kept/main"]
    assert "doomed" in json.loads(result.cursor)["tips"]
