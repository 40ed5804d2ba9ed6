"""The reading tests' loopback boundary: one server for feeds, trending pages and the arXiv API."""

import pytest

from overnight_assets_tests.testkit.reading_runs import INTERESTS


@pytest.fixture
def reading_config(make_config, ollama_server):
    """A config whose reading list is the given sources; the LLM is the loopback Ollama."""

    def make(sources: list[dict], llm_url: str | None = None, digest_size: int = 3, timeout_s: float = 2, **overrides):
        return make_config(
            llm_url or ollama_server.url,
            reading__sources=sources,
            reading__interests=INTERESTS,
            reading__digest_size=digest_size,
            reading__fetch={"timeout_s": timeout_s, "max_bytes": 1_000_000, "max_redirects": 3},
            **overrides,
        )

    return make
