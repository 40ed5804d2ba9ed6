"""A hostile Ollama answering with HTTP errors, a redirect loop or a body that never ends: every
question is unavailable at once (never held to the deadline, never filling memory), the reason is
written redacted, and the warm-up goes on to the next model when only one is missing."""

import pytest

from overnight_assets.resources.llm import ANSWER_MAX_BYTES
from overnight_assets.triage.review import TriageReview
from overnight_assets_tests.testkit.resources import llm_session

SECRET = "ghp_R8x2Lq9Zt4Vb7Nc1Md6Pf3Hs5Jk0WyQ1e2XX"


def test_a_body_that_never_ends_is_refused_at_the_size_cap_not_read_until_the_deadline(tmp_path, ollama_server):
    """It used to be read into memory for the whole deadline: 2.5 GB in 6 s on loopback."""
    ollama_server.hostile = "endless"
    llm = llm_session(tmp_path, ollama_server.url, timeout_s=30)
    assert llm.ask("triage", "system", "prompt", TriageReview) is None
    assert llm.unavailable_reason.endswith(
        f"AnswerTooLarge: an answer larger than {ANSWER_MAX_BYTES // 1_000_000} MB: stopped reading"
    )
    assert ollama_server.endless_sent < 8 * ANSWER_MAX_BYTES  # what socket buffers hold beyond the cap, not gigabytes


@pytest.mark.parametrize("hostile, said", [("http_500", "(status code: 500)"), ("http_429", "(status code: 429)")])
def test_an_error_status_is_unavailable_at_once_with_its_text_redacted(tmp_path, ollama_server, hostile, said):
    ollama_server.hostile, ollama_server.error_text = hostile, f"upstream failed, GITHUB_TOKEN={SECRET}"
    llm = llm_session(tmp_path, ollama_server.url)
    assert llm.ask("triage", "system", "prompt", TriageReview) is None
    assert llm.unavailable_reason.endswith(
        f"ResponseError: upstream failed, GITHUB_TOKEN=[redacted GitHub token] {said}"
    )
    assert len(ollama_server.chats) == 1  # an error status is no malformed answer: not asked again


def test_a_redirect_loop_is_unavailable(tmp_path, ollama_server):
    ollama_server.hostile = "redirect_loop"
    llm = llm_session(tmp_path, ollama_server.url)
    assert llm.ask("triage", "system", "prompt", TriageReview) is None
    assert llm.unavailable_reason.endswith("TooManyRedirects: Exceeded maximum allowed redirects.")


def test_a_model_not_pulled_fails_its_warm_up_alone(tmp_path, ollama_server):
    ollama_server.missing_model = "qwen3.5"
    ready = llm_session(tmp_path, ollama_server.url).warm()
    assert ready["gemma4"]["ready"] and not ready["qwen3.5"]["ready"]
    assert "model 'qwen3.5' not found" in ready["qwen3.5"]["error"]
