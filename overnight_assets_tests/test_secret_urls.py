"""Credentials in URLs: the redacted form travels, the real one is kept in this process only."""

from overnight_assets.secret_urls import keep_credentials, redact_text, redact_url, with_credentials


def test_a_url_with_credentials_is_redacted_and_kept():
    url = "http://ollama:s3cret-pass@10.0.0.5:11434/"
    safe = keep_credentials(url)
    assert safe == "http://***@10.0.0.5:11434/" and "s3cret" not in safe
    assert with_credentials(safe) == url


def test_a_url_without_credentials_passes_unchanged():
    assert keep_credentials("http://127.0.0.1:11434") == "http://127.0.0.1:11434"
    assert with_credentials("http://127.0.0.1:11434") == "http://127.0.0.1:11434"
    assert keep_credentials(None) is None and with_credentials(None) is None
    assert redact_url("https://user@example.org/feed") == "https://***@example.org/feed"


def test_credentials_in_free_text_are_redacted():
    text = "ConnectError: cannot reach http://u:p4ss@host:1/api/chat and https://t0ken@git.lan/x.git"
    cleaned = redact_text(text)
    assert "p4ss" not in cleaned and "t0ken" not in cleaned
    assert "http://***@host:1/api/chat" in cleaned and "https://***@git.lan/x.git" in cleaned
