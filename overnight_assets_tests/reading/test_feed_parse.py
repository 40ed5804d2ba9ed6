"""Parsing: every feed format and the trending page to Items; broken documents to a clear reason."""

from zoneinfo import ZoneInfo

import pytest

from overnight_assets.reading.parse import NotAFeedError, parse_feed, parse_source, parse_trending
from overnight_assets_tests.testkit.feeds import Entry, at, atom, hn, reddit, rss2, trending

TZ = ZoneInfo("Europe/Bucharest")
ENTRIES = [
    Entry(
        "Quantization for everyone",
        "https://example.org/q?utm_source=feed",
        "<p>GGUF &amp; friends</p>",
        at("2026-11-20", "08:00"),
    ),
    Entry("Second", "https://example.org/2", "plain", at("2026-11-19", "21:30")),
]


@pytest.mark.parametrize("document", [rss2(ENTRIES), atom(ENTRIES)], ids=["rss2", "atom"])
def test_rss_and_atom_give_clean_items_in_the_timezone(document):
    parsed = parse_feed("Blog", document, "application/xml", TZ)
    first, second = parsed.items
    assert (first.title, first.url, first.source) == ("Quantization for everyone", "https://example.org/q", "Blog")
    assert first.summary == "GGUF & friends"
    assert first.published.isoformat() == "2026-11-20T10:00:00+02:00"
    assert second.published.isoformat() == "2026-11-19T23:30:00+02:00"
    assert parsed.notes == []


def test_rss_1_0_and_0_91():
    rdf = (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        b'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b'<channel rdf:about="http://x.example/"><title>X</title><link>http://x.example/</link><description>d</description></channel>'
        b'<item rdf:about="http://x.example/1"><title>RDF item</title><link>http://x.example/1</link>'
        b"<dc:date>2026-11-20T10:00:00+02:00</dc:date></item></rdf:RDF>"
    )
    (item,) = parse_feed("Slashdot", rdf, "", TZ).items
    assert (item.title, item.url, item.published.hour) == ("RDF item", "http://x.example/1", 10)
    rss091 = b'<?xml version="1.0"?><rss version="0.91"><channel><title>Old</title><link>http://o.example/</link><description>d</description><item><title>Old style</title><link>http://o.example/a</link></item></channel></rss>'
    (old,) = parse_feed("Old", rss091, "", TZ).items
    assert old.title == "Old style" and old.published is None


def test_reddit_and_hacker_news_feeds():
    (post,) = parse_feed(
        "r/LocalLLaMA",
        reddit(
            "LocalLLaMA",
            [
                Entry(
                    "Ollama tips",
                    "https://www.reddit.com/r/LocalLLaMA/comments/abc/ollama_tips/",
                    "Use keep_alive",
                    at("2026-11-20"),
                )
            ],
        ),
        "application/atom+xml",
        TZ,
    ).items
    assert (
        post.summary == "Use keep_alive" and post.url == "https://www.reddit.com/r/LocalLLaMA/comments/abc/ollama_tips"
    )
    (story,) = parse_feed(
        "HN", hn([Entry("Show HN: a thing", "https://thing.example/", "", at("2026-11-20"))]), "application/rss+xml", TZ
    ).items
    assert story.title == "Show HN: a thing" and story.summary == ""


def test_github_trending_page():
    parsed = parse_trending(
        "Trending", trending([("ollama/ollama", "Get up and running with LLMs"), ("acme/zfs-tools", "ZFS helpers")]), TZ
    )
    first, second = parsed.items
    assert first.url == "https://github.com/ollama/ollama" and first.title == "ollama / ollama"
    assert first.summary == "Get up and running with LLMs" and first.published is None
    assert first.extra == {"repository": "ollama/ollama", "language": "Python", "stars": "12 stars today"}
    assert second.url == "https://github.com/acme/zfs-tools"
    assert (
        parse_source("github_trending", "T", trending([("a/b", "c")]), "text/html", TZ).items[0].url
        == "https://github.com/a/b"
    )


def test_a_page_without_trending_rows_is_not_taken_for_one():
    with pytest.raises(NotAFeedError, match="not a GitHub trending page"):
        parse_trending("Trending", b"<html><body><h1>Sign in</h1></body></html>", TZ)


def test_malformed_xml_keeps_what_can_be_recovered_and_says_so():
    document = rss2(ENTRIES)
    broken = document[: document.index(b"<title>Second") + 10]  # cut inside the last item's title
    parsed = parse_feed("Broken", broken, "application/rss+xml", TZ)
    assert [item.url for item in parsed.items] == ["https://example.org/q"]
    assert any(
        note.startswith("malformed feed (SAXParseException") and "1 item(s) recovered" in note for note in parsed.notes
    )


def test_malformed_xml_with_nothing_to_recover_is_not_a_feed():
    with pytest.raises(NotAFeedError, match=r"malformed feed \(SAXParseException: .*\); no item could be recovered"):
        parse_feed(
            "Broken", b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>cut', "", TZ
        )


def test_an_html_page_where_a_feed_was_expected():
    page = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Welcome</p></body></html>"
    with pytest.raises(NotAFeedError, match=r"an HTML page, not a feed \(Content-Type text/html; charset=utf-8\)"):
        parse_feed("Site", page, "text/html; charset=utf-8", TZ)
    with pytest.raises(NotAFeedError, match="an HTML page"):
        parse_feed("Site", page, "", TZ)


def test_garbage_and_empty_documents_are_not_feeds():
    with pytest.raises(NotAFeedError, match="an empty document"):
        parse_feed("Empty", b"", "application/rss+xml", TZ)
    with pytest.raises(NotAFeedError, match="not an RSS or Atom feed"):
        parse_feed("Binary", bytes(range(256)) * 4, "application/octet-stream", TZ)


def test_a_body_that_names_a_local_file_is_read_as_data_not_opened(tmp_path):
    secret = tmp_path / "secret.xml"
    secret.write_bytes(rss2([Entry("Secret", "https://secret.example/", "", at("2026-11-20"))]))
    with pytest.raises(NotAFeedError):
        parse_feed("Evil", str(secret).encode(), "text/plain", TZ)


def test_non_utf8_bytes_are_read_with_a_note():
    latin1 = (
        rss2([Entry("Caf\u00e9 ollama", "https://cafe.example/", "cr\u00e8me", at("2026-11-20"))])
        .decode()
        .encode("latin-1")
    )
    parsed = parse_feed("Cafe", latin1, "application/rss+xml", TZ)
    assert parsed.items[0].title == "Caf\u00e9 ollama" and parsed.items[0].summary == "cr\u00e8me"
    assert any(note.startswith("charset:") for note in parsed.notes)


def test_a_feed_with_no_dates_gives_undated_items_and_says_how_they_count():
    parsed = parse_feed(
        "Undated",
        rss2([Entry("No date", "https://nodate.example/1"), Entry("Nor this", "https://nodate.example/2")]),
        "",
        TZ,
    )
    assert [item.published for item in parsed.items] == [None, None]
    assert "2 item(s) without a date: counted on the night they are first seen" in parsed.notes


UNUSABLE_LINKS = ["http://h:abc/", "http://[::1/", "javascript:alert(1)", "data:text/html,<b>x</b>"]


@pytest.mark.parametrize("make", [rss2, atom], ids=["rss2", "atom"])
def test_an_entry_with_an_unusable_link_is_skipped_and_counted_not_the_feed(make):
    links = ["https://good.example/1", *UNUSABLE_LINKS, "https://e.example/a (b)<c>"]
    document = make([Entry(f"Entry number {n}", link, "", at("2026-11-20")) for n, link in enumerate(links)])
    parsed = parse_feed("Blog", document, "application/xml", TZ)
    assert [item.url for item in parsed.items] == ["https://good.example/1", "https://e.example/a%20%28b%29%3Cc%3E"]
    assert parsed.notes == ["4 entries with an unusable link skipped"]


def test_a_trending_row_with_an_unusable_link_is_skipped():
    parsed = parse_trending(
        "Trending", trending([("acme/tool", "fine"), ("javascript:alert(1)/x", "not a repository")]), TZ
    )
    assert [item.url for item in parsed.items] == ["https://github.com/acme/tool"]
    assert parsed.notes[1:] == ["1 entry with an unusable link skipped"]


def _rss(items: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Site</title><link>http://site.example/</link>'
        f"<description>d</description>{items}</channel></rss>"
    ).encode()


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Tokyo", "Europe/Bucharest"])
def test_a_placeholder_date_makes_its_entry_undated_and_keeps_the_feed(tz):
    # Hugo writes year 1 for undated pages; year 1 behind UTC and year 9999 ahead of it overflow
    document = _rss(
        "<item><title>About this site</title><link>http://site.example/about</link><pubDate>Mon, 01 Jan 0001 00:00:00 +0000</pubDate></item>"
        "<item><title>Far future</title><link>http://site.example/future</link><pubDate>Fri, 31 Dec 9999 23:59:59 +0000</pubDate></item>"
        "<item><title>A real post</title><link>http://site.example/post</link><pubDate>Fri, 20 Nov 2026 08:00:00 +0000</pubDate></item>"
    )
    about, future, post = parse_feed("Site", document, "application/rss+xml", ZoneInfo(tz)).items
    assert about.published is None and future.published is None
    assert post.published is not None and post.published.year == 2026


def test_any_error_in_one_entry_skips_that_entry_only():
    from overnight_assets.reading.items import keep_usable

    def make(entry):
        if entry == "bad":
            raise TypeError("an entry feedparser built oddly")
        return entry

    items, skipped = keep_usable(make, ["good", "bad", "also good"])
    assert items == ["good", "also good"] and skipped == {"that could not be read (TypeError)": 1}


def test_an_item_with_only_a_description_is_titled_from_its_first_words():
    description = "Ollama now loads GGUF models with partial offload to the GPU, which halves the time to first token on small cards."
    parsed = parse_feed(
        "Site", _rss(f"<item><description>{description}</description><link>http://site.example/d</link></item>"), "", TZ
    )
    (item,) = parsed.items
    assert item.title == "Ollama now loads GGUF models with partial offload to the GPU, which …"
    assert item.summary == description and parsed.notes == [
        "1 item(s) without a date: counted on the night they are first seen"
    ]


def test_a_feed_that_holds_no_items_says_so_and_is_no_failure():
    # read with a warning (an undefined entity) but simply empty: not "no item could be recovered"
    document = _rss("<copyright>&nbsp; me</copyright>")
    parsed = parse_feed("Empty", document, "application/rss+xml", TZ)
    assert parsed.items == [] and "no items: the feed was read and holds none" in parsed.notes
