"""arxiv_finds: the `arxiv` package against a loopback arXiv API serving its Atom format."""

from typing import get_args
from urllib.parse import parse_qs, urlsplit

from overnight_assets.resources.cortex import Cortex
from overnight_assets_tests.testkit.feeds import Entry, Paper, Reply, arxiv_feed, at, rss2, scripted
from overnight_assets_tests.testkit.nights import NIGHT, metadata
from overnight_assets_tests.testkit.reading_runs import run_reading, section

QUERY = "cat:cs.LG AND abs:quantization"
PAPERS = [
    Paper(
        "2611.00001", "GGUF quantization at 2 bits", "We quantize  models\n to 2 bits with ollama.", at(NIGHT, "09:00")
    ),
    Paper(
        "2611.00002",
        "Proxmox for ML clusters",
        "A homelab study.",
        at(NIGHT, "15:00"),
        authors=("A", "B", "C", "D", "E"),
    ),
    Paper("2611.00003", "Submitted the day before", "Outside the window.", at("2026-11-19", "20:00")),
]


def arxiv_config(reading_config, feed_server, queries=(QUERY,), sources=()):
    return reading_config(
        list(sources),
        reading__arxiv={
            "queries": list(queries),
            "api_url": feed_server.url("/api/query"),
            "delay_s": 0.01,
            "num_retries": 2,
            "keep": 5,
        },
    )


def test_papers_submitted_in_the_window_are_listed_and_remembered(feed_server, reading_config, instance, ollama_server):
    ollama_server.overrides = {"relevance": 6, "summary": "A paper in one line.", "why": "Quantization."}
    feed_server.routes["/api/query"] = Reply(200, arxiv_feed(PAPERS), {"Content-Type": "application/atom+xml"})
    config = arxiv_config(reading_config, feed_server)
    run_reading(config, instance)

    (request,) = feed_server.hits("/api/query")
    sent = parse_qs(urlsplit(request.path).query)
    assert sent["search_query"] == [f"({QUERY}) AND submittedDate:[202611192200 TO 202611202159]"]
    assert sent["sortBy"] == ["submittedDate"]
    finds = section(config, "arxiv_finds")
    assert finds["status"] == "GREEN" and finds["llm"] == "ok"
    first, second = finds["items"]
    assert first["title"] == "GGUF quantization at 2 bits" and first["url"] == "https://arxiv.org/abs/2611.00001"
    assert first["pdf_url"] == "http://arxiv.org/pdf/2611.00001v1" and first["categories"] == ["cs.LG", "cs.AI"]
    assert first["authors"] == ["Ada Lovelace", "Alan Turing"] and first["summary"] == "A paper in one line."
    assert "A, B, C, D et al. · cs.LG cs.AI · [PDF](http://arxiv.org/pdf/2611.00002v1)" in finds["markdown"]
    assert metadata(instance, "arxiv_finds")["queries"] == {QUERY: {"outcome": "ok", "found": 3, "in_window": 2}}
    with Cortex(config.paths.cortex).connect() as db:
        assert db.execute(
            "SELECT count(*) FROM memories WHERE kind = 'paper' AND partition_key = ?", [NIGHT]
        ).fetchone() == (2,)

    asked = len(ollama_server.chats)
    run_reading(config, instance)  # a rerun: the same finds, no new question
    assert len(ollama_server.chats) == asked and section(config, "arxiv_finds")["items"] == finds["items"]


def test_a_503_is_retried_by_the_package_then_succeeds(feed_server, reading_config, instance):
    feed_server.routes["/api/query"] = scripted(Reply(503, b"busy"), Reply(200, arxiv_feed(PAPERS[:1])))
    config = arxiv_config(reading_config, feed_server)
    run_reading(config, instance)
    assert len(feed_server.hits("/api/query")) == 2
    assert [item["title"] for item in section(config, "arxiv_finds")["items"]] == ["GGUF quantization at 2 bits"]


def test_a_failing_query_is_said_and_the_others_go_on(feed_server, reading_config, instance):
    def by_query(headers, query):
        return Reply(200, arxiv_feed(PAPERS[:1])) if "good" in query["search_query"][0] else Reply(500, b"")

    feed_server.routes["/api/query"] = by_query
    config = arxiv_config(reading_config, feed_server, queries=("abs:good", "abs:bad"))
    run_reading(config, instance)
    finds = section(config, "arxiv_finds")
    assert finds["status"] == "AMBER" and len(finds["items"]) == 1  # a failed query is AMBER: the finds are incomplete
    expected = f"{feed_server.url('/api/query')} answered HTTP 500 on each of 3 tries"
    assert metadata(instance, "arxiv_finds")["queries"]["abs:bad"] == {"outcome": "failed", "error": expected}
    assert finds["markdown"].startswith(f"2 queries: 1 answered, 1 failed (abs:bad: {expected}).\n")


def test_when_every_query_fails_the_section_is_amber(feed_server, reading_config, instance):
    feed_server.routes["/api/query"] = Reply(503, b"")
    config = arxiv_config(reading_config, feed_server)
    run_reading(config, instance)
    finds = section(config, "arxiv_finds")
    assert finds["status"] == "AMBER" and "answered HTTP 503 on each of 3 tries" in finds["markdown"]
    assert len(feed_server.hits("/api/query")) == 3


def test_papers_in_the_digest_or_in_cortex_are_skipped(feed_server, reading_config, instance):
    feed_server.routes["/feed"] = Reply(
        200,
        rss2([Entry("A GGUF quantization paper", "https://arxiv.org/pdf/2611.00001v2.pdf", "ollama gguf", at(NIGHT))]),
    )
    feed_server.routes["/api/query"] = Reply(200, arxiv_feed(PAPERS))
    config = arxiv_config(reading_config, feed_server, sources=[{"name": "Feed", "url": feed_server.url("/feed")}])
    Cortex(config.paths.cortex).remember(
        [{"kind": "note", "source": "elsewhere", "url": "https://arxiv.org/abs/2611.00002", "title": "Seen before"}],
        partition_key="2026-11-01",
    )
    run_reading(config, instance)
    assert [item["url"] for item in section(config, "article_digest")["items"]] == ["https://arxiv.org/abs/2611.00001"]
    finds = section(config, "arxiv_finds")
    assert (
        finds["items"] == []
        and "Nothing new tonight (2 papers submitted in the window, 0 not seen before)." in finds["markdown"]
    )
    assert metadata(instance, "arxiv_finds")["dropped"] == {"duplicate": 0, "already_known": 2}


def test_no_queries_no_request(feed_server, reading_config, instance):
    config = reading_config([])
    run_reading(config, instance)
    finds = section(config, "arxiv_finds")
    assert (
        finds["status"] == "NOT CONFIGURED"
        and finds["markdown"] == "No arXiv queries configured (`reading.arxiv.queries`)."
    )
    assert feed_server.requests == []


def test_a_paper_with_an_unusable_link_is_skipped_and_an_unusable_pdf_link_dropped(
    feed_server, reading_config, instance
):
    broken = Paper(
        "2611.00009", "Broken link", "quantization", at(NIGHT, "10:00"), abs_url="http://arxiv.org:abc/abs/2611.00009v1"
    )
    scripted_pdf = Paper(
        "2611.00008", "GGUF with a script for a PDF", "gguf ollama", at(NIGHT, "11:00"), pdf_url="javascript:alert(1)"
    )
    feed_server.routes["/api/query"] = Reply(200, arxiv_feed([PAPERS[0], broken, scripted_pdf]))
    config = arxiv_config(reading_config, feed_server)
    run_reading(config, instance)

    outcome = metadata(instance, "arxiv_finds")["queries"][QUERY]
    assert outcome == {"outcome": "ok", "found": 3, "in_window": 2, "notes": ["1 entry with an unusable link skipped"]}
    finds = section(config, "arxiv_finds")
    assert sorted(item["url"] for item in finds["items"]) == [
        "https://arxiv.org/abs/2611.00001",
        "https://arxiv.org/abs/2611.00008",
    ]
    assert "javascript:" not in finds["markdown"] and "[PDF](https://arxiv.org/abs/2611.00008)" in finds["markdown"]


def test_a_mirror_that_trickles_forever_fails_its_query_at_the_deadline_and_the_next_query_runs(feed_server):
    """requests' timeout is per read: a byte every 50 ms held arxiv_finds, inside the gpu pool, for good."""
    import threading

    from overnight_assets.config import ArxivConfig
    from overnight_assets.partitions import Night, daily_partitions
    from overnight_assets.reading.papers import QueryState, find_papers
    from overnight_assets_tests.testkit.feeds import trickle

    def answer(headers, query):
        if "slow" in query["search_query"][0]:
            return Reply(200, stream=trickle(feed_server, arxiv_feed(PAPERS)[:200], forever=b" "))
        return Reply(200, arxiv_feed(PAPERS[:1]))

    feed_server.routes["/api/query"] = answer
    config = ArxivConfig(
        queries=["abs:slow", "abs:gguf"],
        api_url=feed_server.url("/api/query"),
        delay_s=0.01,
        num_retries=0,
        max_results=10,
    )
    found = {}
    night = Night.of_partition(daily_partitions("Europe/Bucharest"), "2026-11-20")
    worker = threading.Thread(
        target=lambda: found.update(result=find_papers(config, night, timeout_s=0.5)), daemon=True
    )
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "a trickling mirror held the query past its deadline"
    outcomes = found["result"].outcomes
    assert {o["outcome"] for o in outcomes.values()} == set(get_args(QueryState))
    assert outcomes["abs:slow"] == {
        "outcome": "failed",
        "error": f"{feed_server.url('/api/query')} gave no complete answer within 0.51 s (the query's total deadline)",
    }
    assert outcomes["abs:gguf"]["outcome"] == "ok" and [paper.title for paper in found["result"].papers] == [
        PAPERS[0].title
    ]
