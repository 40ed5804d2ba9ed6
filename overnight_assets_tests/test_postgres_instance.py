"""Production storage: the nightly job and the gpu pool on a real PostgreSQL instance."""

import dagster as dg
import pytest
import yaml

from overnight_assets.definitions import build_defs
from overnight_assets_tests.testkit import REPO
from overnight_assets_tests.testkit.postgres import fresh_database


@pytest.fixture
def postgres_url():
    with fresh_database() as url:
        yield url


def test_nightly_job_and_gpu_pool_on_postgres(tmp_path, postgres_url, make_config, ollama_server):
    overrides = yaml.safe_load((REPO / "dagster.yaml").read_text())
    overrides.pop("run_monitoring")
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; dagster-postgres ships psycopg2
    overrides["storage"] = {
        "postgres": {"postgres_url": postgres_url.replace("postgresql://", "postgresql+psycopg2://")}
    }
    home = tmp_path / "pg_home"
    home.mkdir()
    with dg.instance_for_test(overrides=overrides, temp_dir=str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = (
            build_defs(make_config(ollama_server.url))
            .resolve_job_def("nightly")
            .execute_in_process(partition_key="2026-11-20", instance=instance)
        )
        assert result.success
        assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == 1
        event = instance.get_latest_materialization_event(dg.AssetKey("security_triage"))
        assert event.asset_materialization.metadata["status"].value == "GREEN"
