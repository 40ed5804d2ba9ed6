"""ecosystem_watch against PyPI's JSON, npm's registry and GitHub's release feeds served from 127.0.0.1."""

import pytest

from overnight_assets.weekly.watch import watch
from overnight_assets_tests.testkit.feeds import Reply, at
from overnight_assets_tests.testkit.registries import npm_json, pypi_json, releases_atom

GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"  # a token planted in release notes
DAGSTER = {"1.13.27": "2026-10-01T10:00:00Z", "1.14.0": "2026-11-12T10:00:00Z", "1.14.1rc0": "2026-11-18T10:00:00Z",
           "1.14.1": "2026-11-19T10:00:00.123456Z"}  # fmt: skip
NOTES = (
    "<h2>Asset health in the UI</h2><p>Long text.</p><h2>Backfills resume after a crash</h2>"
    f"<h3>Deprecations</h3><p>token {GITHUB_TOKEN}</p>"
)


def serve_dagster(server):
    server.routes["/pypi/dagster/json"] = Reply(
        200, pypi_json("dagster", DAGSTER), {"Content-Type": "application/json"}
    )
    server.routes["/dagster-io/dagster/releases.atom"] = Reply(
        200,
        releases_atom(
            "dagster-io/dagster",
            [
                ("1.14.1", at("2026-11-19"), f"<p>Fixes a leak.</p><p>Leaked {GITHUB_TOKEN} in a note</p>"),
                ("1.14.0", at("2026-11-12"), NOTES),
                ("1.13.27", at("2026-10-01"), "<p>Old.</p>"),
            ],
        ),  # fmt: skip
        {"Content-Type": "application/atom+xml"},
    )


def test_newer_releases_against_a_pinned_version_with_their_headlines(weekly_config, registry_server, unused_url):
    serve_dagster(registry_server)
    registry_server.routes["/npm/left-pad"] = Reply(
        200, npm_json("left-pad", {"1.0.0": "2020-01-01T00:00:00Z", "1.3.0": "2026-11-17T00:00:00Z"})
    )
    config = weekly_config(unused_url, [
        {"name": "dagster", "pypi": "dagster", "github": "dagster-io/dagster", "version": "1.13.27"},
        {"name": "left-pad", "npm": "left-pad", "version": "1.0.0"},
    ])  # fmt: skip
    dagster, left_pad = (project.to_dict() for project in watch(config.weekly))
    assert (dagster["in_use"], dagster["in_use_from"], dagster["latest"]) == ("1.13.27", "pin", "1.14.1")
    assert [r["version"] for r in dagster["newer"]] == ["1.14.1", "1.14.0"]  # the release candidate is no upgrade
    newest, previous = dagster["newer"]
    assert newest["published"] == "2026-11-19T10:00:00.123456+00:00"  # PyPI's date, GitHub's notes
    assert newest["url"] == "https://github.com/dagster-io/dagster/releases/tag/1.14.1"
    assert previous["headlines"] == ["Asset health in the UI", "Backfills resume after a crash", "Deprecations"]
    assert newest["headlines"][0] == "Fixes a leak." and GITHUB_TOKEN not in str(dagster)
    assert {kind: o["outcome"] for kind, o in dagster["sources"].items()} == {"pypi": "ok", "github": "ok"}
    assert [r["version"] for r in left_pad["newer"]] == ["1.3.0"]


def test_the_installed_version_is_the_one_in_use(weekly_config, registry_server, unused_url):
    registry_server.routes["/pypi/pydantic/json"] = Reply(200, pypi_json("pydantic", {"1.0": "2019-01-01T00:00:00Z"}))
    (project,) = watch(weekly_config(unused_url, [{"name": "pydantic", "pypi": "pydantic"}]).weekly)
    from importlib.metadata import version

    assert (project.in_use, project.in_use_from, project.newer) == (version("pydantic"), "installed", [])


def test_a_project_not_installed_and_not_pinned_says_so(weekly_config, registry_server, unused_url):
    registry_server.routes["/pypi/not-here-pkg/json"] = Reply(
        200, pypi_json("not-here-pkg", {"2.0": "2026-11-01T00:00:00Z"})
    )
    (project,) = watch(weekly_config(unused_url, [{"name": "not-here-pkg", "pypi": "not-here-pkg"}]).weekly)
    assert (project.in_use, project.latest, project.newer) == (None, "2.0", [])
    assert "version in use unknown" in project.note


@pytest.mark.parametrize(
    "reply, why",
    [
        (Reply(200, b"<html><body>Service Unavailable</body></html>", {"Content-Type": "text/html"}), "not JSON"),
        (Reply(200, b'["a", "list"]'), "not a JSON object"),
        (Reply(200, b"<html><body>Sign in again, " + GITHUB_TOKEN.encode()), "not JSON"),  # the token across the cut
        (Reply(200, b'{"info": {}, "releases": [{"1.15.0": []}]}'), "not PyPI's JSON"),
        (Reply(200, b'{"info": "x", "releases": []}'), "not PyPI's JSON"),
        (Reply(200, b'{"info": {}, "releases": {"1.0": "files?"}}'), "no list"),
        (Reply(503, b"down", {"Retry-After": "3600"}), "HTTP 503"),
        (Reply(429, b"slow down"), "HTTP 429"),
        (Reply(200, b"{}", hold_s=30), "no answer within 0.5 s"),
    ],
)
def test_a_hostile_registry_fails_its_source_only(weekly_config, registry_server, unused_url, reply, why):
    serve_dagster(registry_server)
    registry_server.routes["/pypi/dagster/json"] = reply
    registry_server.routes["/pypi/other/json"] = Reply(
        200, pypi_json("other", {"1.0": "2026-01-01T00:00:00Z", "1.1": "2026-11-18T00:00:00Z"})
    )
    config = weekly_config(unused_url, [
        {"name": "dagster", "pypi": "dagster", "github": "dagster-io/dagster", "version": "1.13.27"},
        {"name": "other", "pypi": "other", "version": "1.0"},
    ], timeout_s=0.5)  # fmt: skip
    dagster, other = watch(config.weekly)
    assert dagster.sources["pypi"]["outcome"] == "failed" and why in dagster.sources["pypi"]["error"]
    assert GITHUB_TOKEN[:8] not in str(dagster.sources)  # no part of a secret, even one cut short
    assert dagster.sources["github"]["outcome"] == "ok"  # the release feed still tells what is newer
    assert [release.version for release in dagster.newer] == ["1.14.1", "1.14.0"]
    assert [release.version for release in other.newer] == ["1.1"]


def test_a_release_feed_that_is_no_feed_and_a_missing_project_are_recorded(weekly_config, registry_server, unused_url):
    registry_server.routes["/o/r/releases.atom"] = Reply(
        200, b"<html><body>Sign in</body></html>", {"Content-Type": "text/html"}
    )
    config = weekly_config(unused_url, [{"name": "r", "github": "o/r", "pypi": "gone", "version": "1.0"}])
    (project,) = watch(config.weekly)
    assert project.sources["github"]["outcome"] == "failed" and "not an Atom feed" in project.sources["github"]["error"]
    assert project.sources["pypi"]["error"].startswith("HTTP 404")
    assert project.newer == [] and project.latest is None


def test_versions_that_name_no_version_are_left_out_and_the_rest_compared(weekly_config, registry_server, unused_url):
    registry_server.routes["/npm/tool"] = Reply(
        200,
        npm_json("tool", {"1.0.0": "2026-01-01T00:00:00Z", "1.0-final": "2026-11-02T00:00:00Z",
                          "latest": "2026-11-03T00:00:00Z", "1.2.0": "not a date"}),
    )  # fmt: skip
    (project,) = watch(weekly_config(unused_url, [{"name": "tool", "npm": "tool", "version": "1.0.0"}]).weekly)
    assert project.sources["npm"]["outcome"] == "ok"
    assert [(release.version, release.published) for release in project.newer] == [("1.2.0", None)]
    (pinned,) = watch(weekly_config(unused_url, [{"name": "tool", "npm": "tool", "version": "latest"}]).weekly)
    assert pinned.newer == [] and "'latest' is no version number" in pinned.note
