"""Config errors name the file, the key path and what was expected."""

import pytest

from overnight_assets.config import BUNDLED_DEMO_CONFIG, ConfigError, load_config

REPO_EXAMPLE = BUNDLED_DEMO_CONFIG.parents[2] / "overnight.example.yaml"


def write(tmp_path, text):
    path = tmp_path / "overnight.yaml"
    path.write_text(text)
    return path


def error_for(tmp_path, text) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text))
    return str(raised.value)


@pytest.mark.parametrize(
    "text, expected",
    [
        ('schedules: {nightly: "0 3 * *"}', "schedules.nightly: expected a 5-field cron expression such as '0 3 * * *', got '0 3 * *'"),
        ('schedules: {weekly: "61 5 * * 0"}', "schedules.weekly: expected a 5-field cron"),
        ("timezone: Europe/Atlantis", "timezone: expected an IANA timezone such as 'Europe/Bucharest', got 'Europe/Atlantis'"),
        ("llm: {modles: {triage: x}}", "llm.modles: unknown key"),
        ("colour: blue", "colour: unknown key"),
        ("llm: {timeout_s: soon}", "llm.timeout_s: input should be a valid number, unable to parse string as a number, got 'soon'"),
        ("triage: {disk: {paths: ['/'], amber_pct: 96, red_pct: 95}}", "triage.disk: expected amber_pct below red_pct"),
        ("triage: {ports: {allowed: [ssh]}}", "triage.ports.allowed: expected entries like 'tcp/22'"),
        ("llm: {on_unavailable: maybe}", "llm.on_unavailable: input should be 'fallback' or 'fail', got 'maybe'"),
        ("code_review: {repos: [{name: x}]}", "code_review.repos[0]: expected exactly one of 'path' or 'url'"),
        ("code_review: {repos: [{name: lab, path: a}, {name: lab, path: b}]}", "code_review.repos: expected each repository's name once, got 'lab' more than once"),
        ("code_review: {max_llm_reviews: -1}", "code_review.max_llm_reviews: input should be greater than or equal to 0, got -1"),
        ("code_review: {large_file_kb: big}", "code_review.large_file_kb: input should be a valid integer"),
        ("reading: {digest_size: 0}", "reading.digest_size: input should be greater than or equal to 1, got 0"),
        ("triage: {docker: {base_url: 5}}", "triage.docker.base_url: input should be a valid string, got 5"),
    ],
)
def test_bad_values_name_the_key_and_the_expectation(tmp_path, text, expected):
    message = error_for(tmp_path, text)
    assert str(tmp_path / "overnight.yaml") in message
    assert expected in message


def test_named_but_unset_environment_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("OVERNIGHT_NOT_SET", raising=False)
    message = error_for(tmp_path, "llm: {host: '${OVERNIGHT_NOT_SET}'}")
    assert "llm.host: environment variable OVERNIGHT_NOT_SET is named but not set" in message


def test_environment_variables_and_defaults_are_substituted(tmp_path, monkeypatch):
    monkeypatch.setenv("OVERNIGHT_LLM_URL", "http://10.0.0.5:11434")
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    config = load_config(write(tmp_path, "llm: {host: '${OVERNIGHT_LLM_URL}'}\nslack: {channel: '${CH:-#night}'}"))
    assert config.llm.host == "http://10.0.0.5:11434" and config.slack.channel == "#night"


def test_ollama_host_overrides_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9999")
    assert load_config(write(tmp_path, "llm: {host: http://gpu:11434}")).llm.host == "http://127.0.0.1:9999"


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    assert ":2:" in error_for(tmp_path, "timezone: UTC\nllm: {host: [}\n")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: cannot read the config file"):
        load_config(tmp_path / "nope.yaml")


def test_relative_paths_are_read_from_the_config_folder(tmp_path):
    config = load_config(write(tmp_path, "home: data\ntriage: {auth_log: {path: logs/auth.log}, disk: {paths: [.]}}"))
    assert config.home_path == tmp_path / "data"
    assert config.triage.auth_log.path == str(tmp_path / "logs" / "auth.log")


def test_null_disables_a_collector_and_empty_file_gives_defaults(tmp_path):
    assert load_config(write(tmp_path, "triage: {docker: null}")).triage.docker is None
    defaults = load_config(write(tmp_path, ""))
    assert defaults.llm.on_unavailable == "fallback" and defaults.triage.disk.red_pct == 95


def test_example_and_demo_configs_are_valid(monkeypatch):
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    example = load_config(REPO_EXAMPLE)
    assert example.timezone == "Europe/Bucharest" and example.triage.auth_log.failed_login_threshold == 10
    assert load_config(BUNDLED_DEMO_CONFIG).triage.docker is None
