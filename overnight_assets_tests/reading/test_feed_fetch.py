"""Fetching: concurrent, capped, timed out, conditional, redirects bounded; every failure an outcome."""

from typing import get_args

from overnight_assets.config import FetchConfig
from overnight_assets.resources.http import FetchState, Validators, fetch_all
from overnight_assets_tests.testkit.feeds import Entry, Reply, at, conditional, rss2

SETTINGS = FetchConfig(timeout_s=0.5, max_bytes=100_000, max_redirects=3, user_agent="overnight-test/1")
FEED = rss2([Entry("One", "https://example.org/1", "first", at("2026-11-20"))])


def fetch(server, *paths, known=None, settings=SETTINGS):
    urls = [server.url(p) for p in paths]
    fetched = fetch_all(urls, known or {}, settings)
    return [fetched[url] for url in urls]


def test_a_feed_is_fetched_with_the_user_agent_and_its_validators_kept(feed_server):
    feed_server.routes["/feed"] = conditional(FEED, '"v1"')
    (result,) = fetch(feed_server, "/feed")
    assert (result.outcome, result.body) == ("ok", FEED)
    assert result.validators == Validators('"v1"', "Thu, 19 Nov 2026 10:00:00 GMT")
    assert feed_server.hits("/feed")[0].headers["user-agent"] == "overnight-test/1"


def test_an_unchanged_feed_answers_304_and_is_not_downloaded(feed_server):
    feed_server.routes["/feed"] = conditional(FEED, '"v1"')
    (result,) = fetch(feed_server, "/feed", known={feed_server.url("/feed"): Validators('"v1"', None)})
    assert (result.outcome, result.body) == ("not_modified", b"")
    assert feed_server.hits("/feed")[0].headers["if-none-match"] == '"v1"'


def test_a_fetch_ends_in_one_of_the_states_its_type_names(feed_server):
    feed_server.routes.update({"/feed": conditional(FEED, '"v1"'), "/missing": Reply(404)})
    known = {feed_server.url("/feed"): Validators('"v1"', None)}
    unchanged, missing, fresh = fetch(feed_server, "/feed", "/missing", "/feed?fresh", known=known)
    assert [unchanged.outcome, missing.outcome, fresh.outcome] == ["not_modified", "failed", "ok"]
    assert {unchanged.outcome, missing.outcome, fresh.outcome} == set(get_args(FetchState))


def test_a_304_without_a_conditional_request_is_a_failure(feed_server):
    feed_server.routes["/odd"] = Reply(304)
    (result,) = fetch(feed_server, "/odd")
    assert result.outcome == "failed" and "HTTP 304" in result.error


def test_http_errors_timeouts_and_redirect_loops_are_outcomes(feed_server):
    feed_server.routes.update(
        {
            "/missing": Reply(404, b"no"),
            "/broken": Reply(500, b"oops"),
            "/slow": Reply(200, FEED, hold_s=10),
            "/loop-a": Reply(302, headers={"Location": "/loop-b"}),
            "/loop-b": Reply(302, headers={"Location": "/loop-a"}),
            "/moved": Reply(301, headers={"Location": "/feed"}),
            "/feed": Reply(200, FEED, {"Content-Type": "application/rss+xml"}),
        }
    )
    missing, broken, slow, loop, moved = fetch(feed_server, "/missing", "/broken", "/slow", "/loop-a", "/moved")
    assert (missing.outcome, missing.error) == ("failed", "HTTP 404 Not Found")
    assert (broken.outcome, broken.error) == ("failed", "HTTP 500 Internal Server Error")
    assert slow.outcome == "failed" and "no answer within 0.5 s" in slow.error
    assert loop.outcome == "failed" and "more than 3 redirects" in loop.error
    assert (moved.outcome, moved.body) == ("ok", FEED)


def test_a_body_over_the_size_cap_is_refused_declared_or_streamed(feed_server):
    big = b"<rss>" + b"x" * 200_000
    feed_server.routes["/declared"] = Reply(200, big)
    feed_server.routes["/streamed"] = Reply(200, stream=(b"x" * 65536 for _ in range(320)))  # 20 MB, no length
    declared, streamed = fetch(feed_server, "/declared", "/streamed")
    assert declared.outcome == "failed" and "larger than the 100 kB cap" in declared.error
    assert streamed.outcome == "failed" and "larger than the 100 kB cap (stopped reading)" in streamed.error


def test_sources_are_fetched_at_the_same_time(feed_server):
    # each answer waits until all four requests have arrived: only a concurrent fetch gets them
    import threading

    arrived = threading.Barrier(4, timeout=5)

    def together(headers, query):
        arrived.wait()
        return Reply(200, FEED)

    for name in "abcd":
        feed_server.routes[f"/{name}"] = together
    results = fetch(feed_server, "/a", "/b", "/c", "/d", settings=SETTINGS.model_copy(update={"timeout_s": 10}))
    assert [r.outcome for r in results] == ["ok"] * 4


def test_a_file_path_is_read_with_the_same_cap(tmp_path):
    small, large = tmp_path / "small.xml", tmp_path / "large.xml"
    small.write_bytes(FEED)
    large.write_bytes(b"x" * 100_001)
    fetched = fetch_all([str(small), str(large), str(tmp_path / "absent.xml")], {}, SETTINGS)
    assert fetched[str(small)].body == FEED
    assert "larger than the 100 kB cap" in fetched[str(large)].error
    assert "cannot read" in fetched[str(tmp_path / "absent.xml")].error


def test_a_configured_url_that_is_no_sound_url_is_a_failed_outcome_and_the_others_are_fetched(feed_server):
    feed_server.routes["/feed"] = Reply(200, FEED)
    bad_port, broken_ipv6, bad_idna = "http://h:abc/", "http://[::1/", "http://xn--abc-.example/"
    fetched = fetch_all([bad_port, broken_ipv6, bad_idna, feed_server.url("/feed")], {}, SETTINGS)
    assert fetched[feed_server.url("/feed")].body == FEED
    assert fetched[bad_port].error == "unusable URL http://h:abc/: Port could not be cast to integer value as 'abc'"
    assert fetched[broken_ipv6].error == "unusable URL http://[::1/: Invalid IPv6 URL"
    assert fetched[bad_idna].error == "unusable URL http://xn--abc-.example/: A-label must not end with a hyphen"
    assert {fetched[url].outcome for url in (bad_port, broken_ipv6, bad_idna)} == {"failed"}


def test_a_fifo_a_device_a_directory_or_a_socket_as_a_file_source_fails_alone_and_does_not_hang(tmp_path):
    # opening a FIFO with no writer blocks forever and /dev/zero never ends: both used to hang the gpu pool
    import os
    import socket
    import threading

    fifo, folder, feed = tmp_path / "feed.fifo", tmp_path / "folder", tmp_path / "feed.xml"
    os.mkfifo(fifo)
    folder.mkdir()
    feed.write_bytes(FEED)
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(tmp_path / "feed.sock"))
    sources = [str(fifo), "/dev/zero", str(folder), str(tmp_path / "feed.sock"), str(feed)]
    fetched = {}
    worker = threading.Thread(target=lambda: fetched.update(fetch_all(sources, {}, SETTINGS)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    try:
        assert not worker.is_alive(), "fetch_all hung on a file source that is not a regular file"
    finally:
        _release_fifo(fifo)
        listening.close()
    assert fetched[str(feed)].body == FEED
    assert {source: fetched[source].error for source in sources[:4]} == {
        str(fifo): f"cannot read {fifo}: not a regular file (a FIFO)",
        "/dev/zero": "cannot read /dev/zero: not a regular file (a character device)",
        str(folder): f"cannot read {folder}: not a regular file (a directory)",
        str(tmp_path / "feed.sock"): f"cannot read {tmp_path / 'feed.sock'}: not a regular file (a socket)",
    }


def _release_fifo(fifo):
    """Unblock a reader stuck opening the FIFO (only when the code under test is broken)."""
    import os

    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:  # ENXIO: nobody is reading, nothing to release
        pass


def test_a_feed_that_trickles_forever_fails_at_the_total_deadline(feed_server):
    """httpx's timeout is per read: a byte every 50 ms, in the headers or the body, never trips it."""
    import threading

    from overnight_assets_tests.testkit.feeds import trickle

    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nX-Slow: "
    feed_server.routes["/headers"] = Reply(raw=trickle(feed_server, head, forever=b"x"))  # a header line without end
    feed_server.routes["/body"] = Reply(200, stream=trickle(feed_server, FEED[:60], forever=b" "))  # a body without end
    settings = SETTINGS.model_copy(update={"timeout_s": 1})
    fetched = {}
    worker = threading.Thread(
        target=lambda: fetched.update(
            zip(("headers", "body"), fetch(feed_server, "/headers", "/body", settings=settings), strict=True)
        ),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "a trickling source held the fetch past its deadline"
    for name in ("headers", "body"):
        assert (
            fetched[name].outcome == "failed"
            and fetched[name].error == "no answer within 1 s (cut off at the total deadline)"
        ), fetched[name]


def test_a_reason_phrase_quoting_a_secret_is_redacted_in_the_outcome(feed_server):
    feed_server.routes["/busy"] = Reply(
        raw=iter([b"HTTP/1.1 503 Busy, api_key=k3yPf3HsJ42x\r\nContent-Length: 0\r\n\r\n"])
    )
    (busy,) = fetch(feed_server, "/busy")
    assert (busy.outcome, busy.error) == ("failed", "HTTP 503 Busy, api_key=[redacted API key]")
