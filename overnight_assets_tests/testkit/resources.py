"""The project's own resources as the resource tests build them: an LLM session with its Cortex,
and a message kept in the Slack outbox with its delivery row."""

from overnight_assets.briefing.delivery import keep_in_outbox
from overnight_assets.resources.cortex import Cortex
from overnight_assets.resources.dagster_resources import CortexResource, LLMResource

MODELS = {"triage": "qwen3.5", "summarize": "gemma4", "review": "qwen3.5"}
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]


def llm_session(tmp_path, host, on_unavailable="fallback", timeout_s=5.0):
    cortex = CortexResource(path=str(tmp_path / "cortex.duckdb"))
    resource = LLMResource(host=host, models=MODELS, timeout_s=timeout_s, on_unavailable=on_unavailable, cortex=cortex)
    return resource.session()


def keep_message(tmp_path, partition, text="text") -> Cortex:
    """The night's message kept in the outbox under tmp_path, as morning_delivery keeps it."""
    cortex = Cortex(tmp_path / "cortex.duckdb")
    keep_in_outbox(cortex, tmp_path / "outbox", partition, text, BLOCKS)
    return cortex


def delivery_row(cortex, partition):
    """(pending, ts, intent recorded, claimed_by) of the partition's delivery."""
    with cortex.connect() as db:
        return db.execute(
            "SELECT pending, ts, intent_at IS NOT NULL, claimed_by FROM deliveries WHERE partition_key = ?", [partition]
        ).fetchone()
