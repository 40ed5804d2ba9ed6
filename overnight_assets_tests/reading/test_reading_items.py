"""Normalization: two sources agree on what is the same item, and text is clean."""

import time
from zoneinfo import ZoneInfo

import pytest

from overnight_assets.reading.items import clean_text, from_struct_time, title_key
from overnight_assets.urls import UnusableLink, canonical_url, display_url, safe_link


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "https://Blog.Example.org:443/post/?utm_source=hn&utm_medium=rss&id=7#comments",
            "https://blog.example.org/post?id=7",
        ),
        ("http://example.org:80/a?fbclid=XYZ&b=2&a=1&ref=lobsters", "http://example.org/a?a=1&b=2"),
        ("http://127.0.0.1:8080/feed?gclid=1", "http://127.0.0.1:8080/feed"),
        ("https://example.org/", "https://example.org/"),
        ("http://arxiv.org/abs/2611.01234v3", "https://arxiv.org/abs/2611.01234"),
        ("https://arxiv.org/pdf/2611.01234v1.pdf", "https://arxiv.org/abs/2611.01234"),
        ("https://export.arxiv.org/abs/hep-th/9901001v2", "https://arxiv.org/abs/hep-th/9901001"),
    ],
)
def test_canonical_url_drops_tracking_fragments_and_default_ports(url, expected):
    assert canonical_url(url) == expected


def test_display_url_hides_credentials_and_secret_looking_parameters():
    shown = display_url("https://user:hunter2@feeds.example.org/private.rss?token=s3cr3t&page=2&api_key=k")
    assert "hunter2" not in shown and "s3cr3t" not in shown and "=k" not in shown
    assert shown.startswith("https://feeds.example.org/private.rss") and "page=2" in shown
    assert display_url("/srv/feeds/local.xml") == "/srv/feeds/local.xml"


def test_clean_text_from_html_summaries():
    html = "<p>Hello&nbsp;<b>world</b> &amp; friends</p>\n\n<script>x</script><ul><li>one</li></ul>"
    assert clean_text(html) == "Hello world & friends one"  # a script is not text
    assert clean_text("plain  text\n here") == "plain text here"
    assert clean_text(None) == ""


def test_clean_text_drops_aggregator_boilerplate_and_cuts_at_a_word():
    hn = (
        '<p>Article URL: <a href="https://x.example/a">https://x.example/a</a></p><p>Points: 42</p><p># Comments: 7</p>'
    )
    assert clean_text(hn) == ""
    reddit = '<p>Great post</p> submitted by <a href="/u/me"> /u/me </a> <a href="x">[link]</a> <a>[comments]</a>'
    assert clean_text(reddit) == "Great post"
    cut = clean_text("word " * 300, limit=50)
    assert cut.endswith(" …") and len(cut) <= 52 and "wor …" not in cut


def test_title_key_matches_titles_that_differ_only_in_case_and_punctuation():
    assert title_key("Running GGUF models: a guide!") == title_key("running gguf models - a guide")
    assert title_key("Show HN") == ""  # too short to identify an item


def test_published_time_is_in_the_configured_timezone():
    utc = time.strptime("2026-11-19 23:30:00", "%Y-%m-%d %H:%M:%S")
    local = from_struct_time(utc, ZoneInfo("Europe/Bucharest"))
    assert local.isoformat() == "2026-11-20T01:30:00+02:00"


@pytest.mark.parametrize(
    "url",
    [
        "http://h:abc/",
        "http://[::1/",
        "http://h:99999/",
        "javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "mailto:a@b.example",
        "http:///no-host",
        "http://exa mple.org/",
    ],
)
def test_a_link_that_is_not_a_sound_http_url_is_unusable(url):
    with pytest.raises(UnusableLink):
        canonical_url(url)
    assert safe_link(url) is None


def test_characters_that_would_end_a_markdown_link_are_quoted():
    assert canonical_url("https://e.example/a b/(c)<d>?q=x y)") == "https://e.example/a%20b/%28c%29%3Cd%3E?q=x+y%29"
    assert safe_link(" http://arxiv.org/pdf/x (1)") == "http://arxiv.org/pdf/x%20%281%29"
    assert canonical_url("http://[::1]:8080/feed") == "http://[::1]:8080/feed"  # an IPv6 literal keeps its brackets


def test_display_url_of_a_url_that_cannot_be_taken_apart():
    assert display_url("http://user:hunter2@[::1/feed?token=s3cr3t") == "http://[::1/feed"
    assert display_url("http://h:abc/feed") == "http://h:abc/feed"
