"""new_commits_sensor against a real repository and a real instance."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from overnight_assets.definitions import build_defs


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

    repo.commit("New work", {"new.py": "x = 1\n"})
    repo.branch("topic")
    repo.commit("Topic work", {"topic.py": "y = 2\n"})
    fresh = evaluate(defs, instance, quiet.cursor or first.cursor)
    [request] = fresh.run_requests
    assert request.partition_key == datetime.now(ZoneInfo("Europe/Bucharest")).date().isoformat()
    assert request.tags["overnight/moved"] == "homelab/main, homelab/topic"
    assert request.asset_selection is None  # the code_review job's own selection

    after = evaluate(defs, instance, fresh.cursor)
    assert not after.run_requests and after.skip_message == "No new commits"


def test_never_more_than_one_review_run_in_flight(watched, instance):
    repo, defs = watched
    cursor = evaluate(defs, instance, None).cursor
    job = defs.resolve_job_def("code_review")
    run = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED)
    repo.commit("New work", {"new.py": "x = 1\n"})

    held = evaluate(defs, instance, cursor)
    assert not held.run_requests and "still in flight" in held.skip_message
    assert (held.cursor or cursor) == cursor  # not advanced: the commits are asked for again later

    instance.report_run_failed(run)
    [request] = evaluate(defs, instance, held.cursor or cursor).run_requests
    assert request.run_key.startswith("commits-")


def test_a_repository_that_disappears_keeps_its_tips_and_the_others_count(make_config, make_repo, unused_url, instance, tmp_path):
    kept, doomed = make_repo("kept"), make_repo("doomed")
    repos = [{"name": "kept", "path": str(kept.path)}, {"name": "doomed", "path": str(doomed.path)}]
    defs = build_defs(make_config(unused_url, code_review__repos=repos))
    cursor = evaluate(defs, instance, None).cursor
    (doomed.path / ".git").rename(tmp_path / "moved-away")
    kept.commit("New work", {"new.py": "x = 1\n"})
    result = evaluate(defs, instance, cursor)
    assert [r.tags["overnight/moved"] for r in result.run_requests] == ["kept/main"]
    assert '"doomed"' in result.cursor
