"""The weekly tests' loopback boundary: PyPI, npm and GitHub's release feeds on one FeedServer."""

import pytest


@pytest.fixture
def registry_server(feed_server):
    return feed_server  # the shared loopback server (conftest.py), named for what it serves here


@pytest.fixture
def weekly_config(make_config, registry_server):
    """A config whose weekly registries are the loopback server; the LLM at the given URL."""

    def make(llm_url: str, watch: list[dict], timeout_s: float = 2, **overrides):
        base = registry_server.base
        return make_config(
            llm_url,
            weekly={
                "watch": watch,
                "pypi_url": base,
                "npm_url": base + "/npm",
                "github_url": base,
                "fetch": {"timeout_s": timeout_s, "max_bytes": 1_000_000, "max_redirects": 2},
            },
            **overrides,
        )

    return make
