"""article_digest end to end: loopback sources in real formats, a real instance, the loopback Ollama."""

import json
from typing import get_args

from overnight_assets.config import Source
from overnight_assets.resources.cortex import Cortex
from overnight_assets.resources.http import FetchState
from overnight_assets_tests.testkit.feeds import Entry, Reply, at, atom, conditional, hn, reddit, rss2, trending
from overnight_assets_tests.testkit.nights import NIGHT, metadata
from overnight_assets_tests.testkit.reading_runs import many_entries, run_reading, section, source


def test_every_bad_source_has_a_clear_outcome_and_the_good_ones_are_intact(feed_server, reading_config, instance):
    good = {
        "/rss": conditional(
            rss2([Entry("Ollama tuning guide", "https://rss.example/ollama?utm_source=rss", "GGUF tips", at(NIGHT))]),
            '"r1"',
        ),
        "/atom": Reply(
            200,
            atom([Entry("Atom on ZFS", "https://atom.example/zfs", "<p>zfs</p>", at(NIGHT, "11:00"))]),
            {"Content-Type": "application/atom+xml"},
        ),
        "/r/LocalLLaMA/.rss": Reply(
            200,
            reddit(
                "LocalLLaMA",
                [
                    Entry(
                        "Quantization results",
                        "https://www.reddit.com/r/LocalLLaMA/comments/q1/",
                        "numbers",
                        at(NIGHT, "12:00"),
                    )
                ],
            ),
        ),
        "/hn": Reply(200, hn([Entry("Proxmox at home", "https://hn.example/proxmox", "", at(NIGHT, "13:00"))])),
        "/trending": Reply(200, trending([("acme/gguf-tool", "GGUF inspector")]), {"Content-Type": "text/html"}),
        "/latin1": Reply(
            200, rss2([Entry("Caf\u00e9 gguf", "https://latin.example/cafe", "", at(NIGHT))]).decode().encode("latin-1")
        ),
        "/undated": Reply(200, rss2([Entry("Undated ollama note", "https://undated.example/1")])),
    }
    bad = {
        "/malformed": Reply(
            200, b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>broken'
        ),
        "/html": Reply(
            200, b"<!DOCTYPE html><html><body>Welcome</body></html>", {"Content-Type": "text/html; charset=utf-8"}
        ),
        "/huge": Reply(200, b"<rss>" + b" " * 20_000_000 + b"</rss>"),
        "/missing": Reply(404, b"gone"),
        "/broken": Reply(500, b"oops"),
        "/slow": Reply(200, rss2([]), hold_s=30),
        "/loop": Reply(302, headers={"Location": "/loop"}),
    }
    feed_server.routes.update({**good, **bad})
    kinds = {"/trending": "github_trending"}
    config = reading_config(
        [source(path.strip("/"), feed_server, path, kinds.get(path, "feed")) for path in [*good, *bad]], timeout_s=1
    )
    run_reading(config, instance)

    outcomes = metadata(instance, "article_digest")["sources"]
    assert {o["outcome"] for o in outcomes.values()} <= set(get_args(FetchState))
    assert {name for name, o in outcomes.items() if o["outcome"] == "ok"} == {p.strip("/") for p in good}
    assert outcomes["malformed"]["error"].startswith("malformed feed (SAXParseException")
    assert outcomes["malformed"]["error"].endswith("no item could be recovered")
    assert outcomes["html"]["error"] == "an HTML page, not a feed (Content-Type text/html; charset=utf-8)"
    assert outcomes["huge"]["error"] == "20.0 MB is larger than the 1.0 MB cap"
    assert outcomes["missing"]["error"] == "HTTP 404 Not Found"
    assert outcomes["broken"]["error"] == "HTTP 500 Internal Server Error"
    assert outcomes["slow"]["error"].startswith("no answer within 1 s")
    assert outcomes["loop"]["error"] == "more than 3 redirects (a redirect loop?)"
    assert outcomes["latin1"]["notes"][0].startswith("charset:")
    assert outcomes["undated"]["notes"] == ["1 item(s) without a date: counted on the night they are first seen"]
    digest = section(config, "article_digest")
    assert digest["status"] == "AMBER" and digest["llm"] == "ok"  # a failed source is AMBER: the list is incomplete
    sources_line = digest["markdown"].splitlines()[0]
    assert sources_line.startswith("14 sources: 7 answered, 7 failed (malformed: malformed feed")
    assert "; html: an HTML page" in sources_line and "; loop: more than 3 redirects" in sources_line
    assert {o["in_window"] for name, o in outcomes.items() if name in {p.strip("/") for p in good}} == {1}


def test_every_source_failing_is_amber_and_says_why(feed_server, reading_config, instance):
    feed_server.routes["/down"] = Reply(503, b"")
    config = reading_config([source("Down", feed_server, "/down"), source("Gone", feed_server, "/gone")])
    run_reading(config, instance)
    digest = section(config, "article_digest")
    assert digest["status"] == "AMBER" and digest["items"] == []
    assert digest["markdown"].splitlines() == [
        "Every source failed (2 of 2): no reading list tonight.",
        "- Down: HTTP 503 Service Unavailable",
        "- Gone: HTTP 404 Not Found",
    ]


def test_an_unchanged_feed_is_not_downloaded_or_parsed_again_yet_its_items_count(feed_server, reading_config, instance):
    entries = [
        Entry("Night one: ollama", "https://n.example/1", "", at("2026-11-20")),
        Entry("Night two: gguf", "https://n.example/2", "", at("2026-11-21")),
    ]
    feed_server.routes["/feed"] = conditional(rss2(entries), '"same"')
    config = reading_config([source("Feed", feed_server, "/feed")])
    run_reading(config, instance, "2026-11-20")
    run_reading(config, instance, "2026-11-21")
    first, second = feed_server.hits("/feed")
    assert "if-none-match" not in first.headers and second.headers["if-none-match"] == '"same"'
    outcome = metadata(instance, "article_digest", "2026-11-21")["sources"]["Feed"]
    assert (outcome["outcome"], outcome["in_window"], outcome["new"]) == ("not_modified", 1, 1)
    assert [item["title"] for item in section(config, "article_digest", "2026-11-21")["items"]] == ["Night two: gguf"]
    assert section(config, "article_digest", "2026-11-21")["markdown"].startswith("1 source: 1 not modified.\n")


def test_dedup_across_two_sources_and_two_nights(feed_server, reading_config, instance):
    story = "https://story.example/ollama-release"
    feed_server.routes["/a"] = Reply(
        200, rss2([Entry("Ollama release", story + "?utm_source=a", "", at("2026-11-20"))])
    )
    feed_server.routes["/b"] = Reply(
        200, atom([Entry("Ollama release!", story + "#top", "gguf", at("2026-11-20", "09:00"))])
    )
    config = reading_config([source("A", feed_server, "/a"), source("B", feed_server, "/b")])
    run_reading(config, instance, "2026-11-20")
    assert [(i["title"], i["url"]) for i in section(config, "article_digest", "2026-11-20")["items"]] == [
        ("Ollama release!", story)
    ]
    assert metadata(instance, "article_digest", "2026-11-20")["dropped"] == {"duplicate": 1, "already_known": 0}

    # the next night B carries the same story again (re-dated) beside a new one
    feed_server.routes["/b"] = Reply(
        200,
        atom(
            [
                Entry("Ollama release", story, "", at("2026-11-21")),
                Entry("New gguf tool", "https://new.example/", "", at("2026-11-21")),
            ]
        ),
    )
    run_reading(config, instance, "2026-11-21")
    assert [i["title"] for i in section(config, "article_digest", "2026-11-21")["items"]] == ["New gguf tool"]
    assert metadata(instance, "article_digest", "2026-11-21")["dropped"] == {"duplicate": 0, "already_known": 1}


def test_the_llm_sees_at_most_twice_the_digest_size_and_a_rerun_asks_nothing(
    feed_server, reading_config, instance, ollama_server
):
    ollama_server.overrides = {"relevance": 7, "summary": "A one-line summary.", "why": "On topic."}
    feed_server.routes["/many"] = Reply(200, rss2(many_entries(60)))
    config = reading_config([source("Many", feed_server, "/many")], digest_size=4)
    run_reading(config, instance)
    assert len(ollama_server.chats) == 8
    asked = [json.dumps(chat["messages"]) for chat in ollama_server.chats]
    assert all("<<<DATA item>>>" in text for text in asked)
    first = section(config, "article_digest")
    assert len(first["items"]) == 4 and first["items"][0]["summary"] == "A one-line summary."
    assert first["items"][0]["why"].startswith("On topic; matches") and first["items"][0]["relevance"] == 7
    meta = metadata(instance, "article_digest")
    assert (meta["llm_calls"], meta["llm_cache_hits"], meta["llm_candidates"], meta["new"]) == (8, 0, 8, 60)

    run_reading(config, instance)
    assert len(ollama_server.chats) == 8
    assert metadata(instance, "article_digest")["llm_cache_hits"] == 8
    assert section(config, "article_digest")["items"] == first["items"]
    with Cortex(config.paths.cortex).connect() as db:
        rows = db.execute(
            "SELECT kind, source, title, body, partition_key FROM memories WHERE kind = 'article' ORDER BY id"
        ).fetchall()
        anchors = db.execute("SELECT kind, title FROM memories WHERE kind <> 'article' ORDER BY id").fetchall()
        edges = db.execute("SELECT kind, count(*) FROM edges GROUP BY kind ORDER BY kind").fetchall()
    assert len(rows) == 4 and rows[0] == ("article", "Many", first["items"][0]["title"], "A one-line summary.", NIGHT)
    # the path that led to each pick: read from its source, matching an interest the source also serves
    assert anchors == [("source", "Many"), ("topic", "local LLM inference")]
    assert edges == [("derived_from", 4), ("same_topic", 4 + 1)]
    assert all(isinstance(item["memory_id"], int) for item in first["items"])


def test_a_backfill_of_seven_nights_asks_nothing_about_items_already_judged(
    feed_server, reading_config, instance, ollama_server
):
    nights = [f"2026-11-{day}" for day in range(14, 21)]
    feed_server.routes["/week"] = conditional(
        rss2([entry for night in nights for entry in many_entries(5, night)]), '"week"'
    )
    config = reading_config([source("Week", feed_server, "/week")], digest_size=2)
    for night in nights:
        run_reading(config, instance, night, assets=["article_digest"])
    judged = len(ollama_server.chats)
    assert judged == 7 * 4
    for night in nights:  # the backfill
        run_reading(config, instance, night, assets=["article_digest"])
    assert len(ollama_server.chats) == judged
    assert len(feed_server.hits("/week")) == 14  # each a conditional GET answered 304 after the first


def test_without_the_llm_the_ranking_stands_with_the_feeds_summaries_and_says_so(
    feed_server, reading_config, instance, unused_url
):
    entries = [
        Entry("GGUF quantization explained", "https://q.example/", "The feed's own words.", at(NIGHT)),
        Entry("Celebrity gossip", "https://gossip.example/", "Nothing on any interest.", at(NIGHT, "11:00")),
    ]
    feed_server.routes["/feed"] = Reply(200, rss2(entries))
    config = reading_config([source("Feed", feed_server, "/feed")], llm_url=unused_url)
    run_reading(config, instance)
    digest = section(config, "article_digest")
    assert digest["llm"] == "unavailable" and digest["items"][0]["summary"] == "The feed's own words."
    assert (
        len(digest["items"]) == 1 and digest["items"][0]["score"] > 0
    )  # no pick with score 0; the score stays in the data
    assert digest["items"][0]["why"] == "matches gguf, quantization (local LLM inference)"
    assert digest["markdown"].splitlines()[1:6] == [
        "1 worth reading out of 2 new items.",
        "",
        "1. [GGUF quantization explained](https://q.example/) (Feed)",  # no internal score shown
        "   The feed's own words.",
        "   _Why: matches gguf, quantization (local LLM inference)._",
    ]
    assert "_llm: unavailable; ranked by interest keywords, with the feeds' own summaries._" in digest["markdown"]
    assert metadata(instance, "article_digest")["llm"] == "unavailable"


def test_an_unusable_url_fails_its_source_or_skips_its_entry_never_the_digest(feed_server, reading_config, instance):
    links = ["https://good.example/ollama (gguf)", "javascript:alert(1)", "http://h:abc/", "http://[::1/"]
    feed_server.routes["/feed"] = Reply(
        200, rss2([Entry(f"Ollama tip {n}", link, "gguf", at(NIGHT)) for n, link in enumerate(links)])
    )
    # The loader refuses these URLs (test_config); one that reaches the fetcher anyway still fails only its source.
    broken = [
        Source.model_construct(name="Bad port", kind="feed", url="http://h:abc/feed", weight=1.0),
        Source.model_construct(name="Broken IPv6", kind="feed", url="http://[::1/feed", weight=1.0),
    ]
    config = reading_config([source("Feed", feed_server, "/feed")])
    config = config.model_copy(
        update={"reading": config.reading.model_copy(update={"sources": [*config.reading.sources, *broken]})}
    )
    run_reading(config, instance, assets=["article_digest"])

    outcomes = metadata(instance, "article_digest")["sources"]
    assert outcomes["Feed"]["notes"] == ["3 entries with an unusable link skipped"]
    assert (
        outcomes["Bad port"]["error"]
        == "unusable URL http://h:abc/feed: Port could not be cast to integer value as 'abc'"
    )
    assert outcomes["Broken IPv6"]["error"] == "unusable URL http://[::1/feed: Invalid IPv6 URL"
    digest = section(config, "article_digest")
    assert [item["url"] for item in digest["items"]] == ["https://good.example/ollama%20%28gguf%29"]
    assert "1. [Ollama tip 0](https://good.example/ollama%20%28gguf%29) (Feed" in digest["markdown"]
    assert "javascript:" not in digest["markdown"]
