"""Config errors name the file, the key path and what was expected."""

import pytest

from overnight_assets.config import BUNDLED_DEMO_CONFIG, ConfigError, load_config
from overnight_assets.secret_urls import with_credentials

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
        (
            'schedules: {nightly: "0 3 * *"}',
            "schedules.nightly: expected a 5-field cron expression such as '0 3 * * *', got '0 3 * *'",
        ),
        ('schedules: {weekly: "61 5 * * 0"}', "schedules.weekly: expected a 5-field cron"),
        (
            "timezone: Europe/Atlantis",
            "timezone: expected an IANA timezone such as 'Europe/Bucharest', got 'Europe/Atlantis'",
        ),
        ("llm: {modles: {triage: x}}", "llm.modles: unknown key"),
        ("colour: blue", "colour: unknown key"),
        ("llm: {timeout_s: soon}", "llm.timeout_s: input should be a valid number, got 'soon'"),
        ("triage: {disk: {paths: ['/'], amber_pct: 96, red_pct: 95}}", "triage.disk: expected amber_pct below red_pct"),
        ("triage: {ports: {allowed: [ssh]}}", "triage.ports.allowed: expected entries like 'tcp/22'"),
        ("llm: {on_unavailable: maybe}", "llm.on_unavailable: input should be 'fallback' or 'fail', got 'maybe'"),
        ("code_review: {repos: [{name: x}]}", "code_review.repos[0]: expected exactly one of 'path' or 'url'"),
        (
            "code_review: {repos: [{name: lab, path: a}, {name: lab, path: b}]}",
            "code_review.repos: expected each repository's name once, got 'lab' more than once",
        ),
        (
            "code_review: {max_llm_reviews: -1}",
            "code_review.max_llm_reviews: input should be greater than or equal to 0, got -1",
        ),
        ("code_review: {large_file_kb: big}", "code_review.large_file_kb: input should be a valid integer"),
        ("reading: {digest_size: 0}", "reading.digest_size: input should be greater than or equal to 1, got 0"),
        ("triage: {docker: {base_url: 5}}", "triage.docker.base_url: input should be a valid string, got 5"),
        ('schedules: {maintenance: "0 12 * *"}', "schedules.maintenance: expected a 5-field cron"),
        ("retention: {runs_days: 0}", "retention.runs_days: input should be greater than or equal to 1, got 0"),
        ("retention: {cache_days: soon}", "retention.cache_days: input should be a valid integer"),
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
    assert config.paths.home == tmp_path / "data"
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


# Issue 7: values the validator accepted and a later step failed on. Each names the key and what was expected.
@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "llm: {host: 'http://127.0.0.1:99999'}",
            "llm.host: expected an http(s) URL such as 'http://127.0.0.1:11434', got 'http://127.0.0.1:99999': the port must be a number from 1 to 65535",
        ),
        (
            "llm: {host: 'http://127.0.0.1:0'}",
            "llm.host: expected an http(s) URL such as 'http://127.0.0.1:11434', got 'http://127.0.0.1:0': the port must be",
        ),
        ("llm: {host: 'http://gpu:eleven/'}", "got 'http://gpu:eleven/': the port must be a number from 1 to 65535"),
        (
            "llm: {host: 'localhost:11434'}",
            "llm.host: expected an http(s) URL such as 'http://127.0.0.1:11434', got 'localhost:11434': it does not start with http:// or https://",
        ),
        ("llm: {host: 'ftp://gpu:21'}", "got 'ftp://gpu:21': it does not start with http:// or https://"),
        (
            "llm: {host: 'http://:11434'}",
            "llm.host: expected an http(s) URL such as 'http://127.0.0.1:11434', got 'http://:11434': it names no host",
        ),
        ("llm: {host: 'http://gpu box:11434'}", "got 'http://gpu box:11434': a URL has no spaces"),
        ("llm: {host: 'http://[::1:11434'}", "got 'http://[::1:11434': Invalid IPv6 URL"),
        (
            "slack: {base_url: 'slack.com/api/'}",
            "slack.base_url: expected an http(s) URL such as 'https://slack.com/api/', got 'slack.com/api/'",
        ),
        (
            "reading: {arxiv: {api_url: 'http://mirror:abc/api/query'}}",
            "reading.arxiv.api_url: expected an http(s) URL such as 'https://export.arxiv.org/api/query', got 'http://mirror:abc/api/query': the port",
        ),
        (
            "reading: {sources: [{name: x, url: 'ftp://feeds.lan/rss'}]}",
            "reading.sources[0].url: expected an http(s) URL or a file path, got 'ftp://feeds.lan/rss'",
        ),
        (
            "reading: {sources: [{name: x, url: 'http://h:abc/feed'}]}",
            "reading.sources[0].url: expected an http(s) URL or a file path, got 'http://h:abc/feed': the port",
        ),
        (
            "code_review: {repos: [{name: x, url: 'ext::sh -c touch% /tmp/pwned'}]}",
            "code_review.repos[0].url: expected a repository URL git fetches (http(s)://, ssh://, git://, file:// or user@host:path)",
        ),
        (
            "code_review: {repos: [{name: x, url: 'https://git.lan:99999/x.git'}]}",
            "code_review.repos[0].url: expected a repository URL git fetches (http(s)://, ssh://, git://, file:// or user@host:path), got 'https://git.lan:99999/x.git': the port",
        ),
        ("code_review: {repos: [{name: x, url: 'file://'}]}", "got 'file://': it names no path"),
        (
            "triage: {docker: {base_url: 'tcp://10.0.0.2'}}",
            "triage.docker.base_url: expected a Docker Engine URL (unix:///path/docker.sock, tcp://host:port or http(s)://host:port), got 'tcp://10.0.0.2': a port is required",
        ),
        (
            "triage: {docker: {base_url: /var/run/docker.sock}}",
            "got '/var/run/docker.sock': it does not start with unix://, tcp://, http:// or https://",
        ),
        ("triage: {docker: {base_url: 'unix://'}}", "got 'unix://': it names no path"),
        (
            "triage: {ports: {allowed: [tcp/22, tcp/99999]}}",
            "triage.ports.allowed: expected entries like 'tcp/22' or 'udp/53' with a port from 1 to 65535, got 'tcp/99999'",
        ),
        ("triage: {ports: {allowed: [udp/0]}}", "with a port from 1 to 65535, got 'udp/0'"),
        ("llm: {timeout_s: true}", "llm.timeout_s: input should be a valid number, got True"),
        ("llm: {timeout_s: '600'}", "llm.timeout_s: input should be a valid number, got '600'"),
        ("llm: {timeout_s: .inf}", "llm.timeout_s: input should be a finite number, got inf"),
        ("reading: {digest_size: yes}", "reading.digest_size: input should be a valid integer, got True"),
        ("reading: {digest_size: 7.5}", "reading.digest_size: input should be a valid integer, got 7.5"),
        (
            "triage: {auth_log: {failed_login_threshold: '10'}}",
            "triage.auth_log.failed_login_threshold: input should be a valid integer, got '10'",
        ),
        (
            "reading: {interests: [{topic: x, weight: -1}]}",
            "reading.interests[0].weight: input should be greater than or equal to 0, got -1",
        ),
        (
            "reading: {sources: [{name: x, url: feed.xml, weight: -0.5}]}",
            "reading.sources[0].weight: input should be greater than or equal to 0, got -0.5",
        ),
        (
            "llm: {keep_alive: forever}",
            "llm.keep_alive: expected a duration Ollama accepts (a Go duration such as '30m' or '1h30m', a number of seconds, or -1 to keep the model loaded), got 'forever'",
        ),
        ("llm: {keep_alive: 2d}", "llm.keep_alive: expected a duration Ollama accepts"),
        ("llm: {keep_alive: 30 minutes}", "got '30 minutes'"),
        ("llm: {keep_alive: '1h-30m'}", "got '1h-30m'"),
        ("llm: {keep_alive: 3000000h}", "got '3000000h': longer than Ollama can hold"),
        ("llm: {keep_alive: true}", "llm.keep_alive: expected a duration Ollama accepts"),
        (
            "alerts: {briefing_by: 12:30}",  # YAML 1.1 reads it in base 60
            'alerts.briefing_by: expected a time of day in quotes such as "07:30", got the number 750 (quote it)',
        ),
        ("alerts: {briefing_by: '7:30'}", 'alerts.briefing_by: expected a time of day as "HH:MM" (24-hour)'),
        ("alerts: {briefing_by: '24:00'}", "got '24:00'"),
        ("source: elsewhere.yaml", "source: unknown key"),  # the field recording the file: was a TypeError
        ("1: one", "[1]: keys should be strings, got 1"),  # was a TypeError
    ],
)
def test_values_that_fail_later_are_refused_at_load(tmp_path, text, expected):
    message = error_for(tmp_path, text)
    assert str(tmp_path / "overnight.yaml") in message
    assert expected in message


@pytest.mark.parametrize(
    "text, check",
    [
        ("llm: {host: 'https://ollama.lan/proxy/'}", lambda c: c.llm.host == "https://ollama.lan/proxy/"),
        ("llm: {host: 'http://[::1]:11434'}", lambda c: c.llm.host == "http://[::1]:11434"),
        (
            "code_review: {repos: [{name: a, url: 'git@github.com:me/dotfiles.git'}, {name: b, url: 'ssh://git@git.lan:2222/x.git'},"
            " {name: c, url: 'git://git.lan/x.git'}, {name: d, url: 'file:///srv/git/x.git'}, {name: e, url: 'gitea.lan:me/x.git'}]}",
            lambda c: [r.url for r in c.code_review.repos][0] == "git@github.com:me/dotfiles.git",
        ),
        (
            "triage: {docker: {base_url: 'tcp://10.0.0.2:2375'}}",
            lambda c: c.triage.docker.base_url == "tcp://10.0.0.2:2375",
        ),
        (
            "triage: {docker: {base_url: 'https://docker.lan:2376'}}",
            lambda c: c.triage.docker.base_url == "https://docker.lan:2376",
        ),
        ("triage: {ports: {allowed: [tcp/1, udp/65535]}}", lambda c: c.triage.ports.allowed == ["tcp/1", "udp/65535"]),
        (
            "reading: {interests: [{topic: muted, weight: 0}], sources: [{name: x, url: feed.xml, weight: 0}]}",
            lambda c: c.reading.sources[0].weight == 0,
        ),
        ("llm: {timeout_s: 30, keep_alive: 1h30m}", lambda c: c.llm.timeout_s == 30 and c.llm.keep_alive == "1h30m"),
        ("alerts: {briefing_by: 06:45}", lambda c: c.alerts.briefing_by == "06:45"),
        ("", lambda c: c.alerts.briefing_by == "07:30"),
        (
            "retention: {runs_days: 7, feed_items_days: 365}",
            lambda c: (c.retention.runs_days, c.retention.cache_days, c.retention.feed_items_days) == (7, 30, 365),
        ),
        ("alerts: {briefing_by: '23:59'}", lambda c: c.alerts.briefing_by == "23:59"),
        ("alerts: {briefing_by: 07:30}", lambda c: c.alerts.briefing_by == "07:30"),  # a leading 0: a string
        ("alerts: {briefing_by: null}", lambda c: c.alerts.briefing_by is None),
    ],
)
def test_good_values_still_load(tmp_path, text, check):
    assert check(load_config(write(tmp_path, text)))


@pytest.mark.parametrize(
    "written, sent",
    [
        ("30m", "30m"),
        ("10s", "10s"),
        ("1.5h", "1.5h"),
        ("300ms", "300ms"),
        ("'0'", "0"),
        ("0", "0s"),
        ("'-1'", "-1s"),
        ("-1", "-1s"),
        ("-5m", "-5m"),
        ("300", "300s"),
        ("'600'", "600s"),
        ("2.5", "2s"),
    ],
)
def test_keep_alive_reaches_ollama_in_a_form_it_parses(tmp_path, written, sent):
    # Ollama reads a JSON number as seconds (negative: forever) and a string as a Go duration only:
    # the string "-1" or "300" would fail every request, so numbers travel as "<n>s"
    assert load_config(write(tmp_path, f"llm: {{keep_alive: {written}}}")).llm.keep_alive == sent


def test_numbers_from_the_environment_are_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("OVERNIGHT_TIMEOUT", "30")
    monkeypatch.setenv("OVERNIGHT_DIGEST", "12")
    config = load_config(
        write(tmp_path, "llm: {timeout_s: '${OVERNIGHT_TIMEOUT}'}\nreading: {digest_size: '${OVERNIGHT_DIGEST}'}")
    )
    assert config.llm.timeout_s == 30 and config.reading.digest_size == 12
    monkeypatch.setenv("OVERNIGHT_TIMEOUT", "true")
    assert "llm.timeout_s: input should be a valid number, got 'true'" in error_for(
        tmp_path, "llm: {timeout_s: '${OVERNIGHT_TIMEOUT}'}"
    )


def test_ollama_host_without_a_scheme_means_what_it_means_to_ollama(tmp_path, monkeypatch):
    # Ollama's own clients read OLLAMA_HOST=0.0.0.0 as port 11434, not as http's port 80
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0")
    assert load_config(write(tmp_path, "")).llm.host == "http://0.0.0.0:11434"
    monkeypatch.setenv("OLLAMA_HOST", "https://gpu.lan")
    assert load_config(write(tmp_path, "")).llm.host == "https://gpu.lan"


def test_a_bad_ollama_host_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "gpu:99999")
    assert "llm.host (from $OLLAMA_HOST): expected an http(s) URL" in error_for(tmp_path, "")


def test_a_file_that_is_not_utf8_is_one_line_naming_file_and_offset(tmp_path):
    path = tmp_path / "overnight.yaml"
    path.write_bytes(b"timezone: UTC\nslack: {channel: '#caf\xe9'}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert (
        message == f"{path}: not UTF-8 text: byte 0xe9 at offset 36 (line 2) cannot be decoded; save the file as UTF-8"
    )


@pytest.mark.parametrize(
    "token_env",
    [
        "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx",
        "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
        "sk-live-0123456789abcdef0123",
    ],
)
def test_a_token_where_a_variable_name_belongs_is_refused_and_not_repeated(tmp_path, token_env):
    message = error_for(tmp_path, f"slack: {{token_env: '{token_env}'}}")
    assert (
        "slack.token_env: names an environment variable; this looks like a token itself: put it in the environment"
        in message
    )
    assert token_env not in message and token_env[-8:] not in message


def test_a_variable_name_with_a_typo_is_refused_without_repeating_the_value(tmp_path):
    message = error_for(tmp_path, "slack: {token_env: 'SLACK-BOT TOKEN'}")
    assert (
        "slack.token_env: names an environment variable: letters, digits and _, not starting with a digit, such as SLACK_BOT_TOKEN"
        in message
    )
    assert "SLACK-BOT TOKEN" not in message


def test_a_token_read_through_a_reference_is_refused_too(tmp_path, monkeypatch):
    monkeypatch.setenv("OVERNIGHT_TEST_TOKEN", "xoxb-1111-2222-secretsecret")
    message = error_for(tmp_path, "slack: {token_env: '${OVERNIGHT_TEST_TOKEN}'}")
    assert "this looks like a token itself" in message and "secretsecret" not in message


def test_credentials_in_urls_stay_out_of_the_config_and_its_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    text = (
        "llm: {host: 'http://ollama:hunter2pass@gpu.lan:11434'}\n"
        "reading: {sources: [{name: private, url: 'https://reader:hunter2pass@feeds.lan/rss'}],"
        " arxiv: {api_url: 'https://me:hunter2pass@arxiv-mirror.lan/api/query'}}\n"
        "code_review: {repos: [{name: lab, url: 'https://git:hunter2pass@git.lan/lab.git'}]}\n"
    )
    config = load_config(write(tmp_path, text))
    assert "hunter2pass" not in config.model_dump_json()
    assert config.llm.host == "http://***@gpu.lan:11434"
    assert with_credentials(config.llm.host) == "http://ollama:hunter2pass@gpu.lan:11434"
    assert with_credentials(config.reading.sources[0].url) == "https://reader:hunter2pass@feeds.lan/rss"
    assert with_credentials(config.reading.arxiv.api_url) == "https://me:hunter2pass@arxiv-mirror.lan/api/query"
    assert with_credentials(config.code_review.repos[0].url) == "https://git:hunter2pass@git.lan/lab.git"

    monkeypatch.setenv("OLLAMA_HOST", "http://ollama:hunter2pass@gpu.lan:11435")
    assert load_config(write(tmp_path, "")).llm.host == "http://***@gpu.lan:11435"
    monkeypatch.setenv("OLLAMA_HOST", "http://ollama:hunter2pass@gpu.lan:99999")
    message = error_for(tmp_path, "")
    assert "got 'http://***@gpu.lan:99999': the port" in message and "hunter2pass" not in message


@pytest.mark.parametrize(
    "text, expected",
    [
        ("llm: {host: 'http://u:hunter2pass@127.0.0.1:99999'}", "got 'http://***@127.0.0.1:99999'"),
        (
            "code_review: {repos: [{name: x, url: 'https://u:hunter2pass@git.lan:0/x.git'}]}",
            "got 'https://***@git.lan:0/x.git'",
        ),
        ("reading: {sources: [{name: x, url: 'gopher://u:hunter2pass@feeds.lan/'}]}", "got 'gopher://***@feeds.lan/'"),
        # slack_sdk and the Docker SDK take no user:password in their URLs: refused, and not repeated
        (
            "slack: {base_url: 'https://u:hunter2pass@slack.lan/api/'}",
            "slack.base_url: expected an http(s) URL such as 'https://slack.com/api/', got 'https://***@slack.lan/api/': this client takes no user:password in its URL",
        ),
        (
            "triage: {docker: {base_url: 'tcp://u:hunter2pass@10.0.0.2:2375'}}",
            "got 'tcp://***@10.0.0.2:2375': this client takes no user:password in its URL",
        ),
        (
            "memory: {retention_days: 'https://u:hunter2pass@npm.lan/x'}",
            "memory.retention_days: input should be a valid integer, got 'https://***@npm.lan/x'",
        ),
    ],
)
def test_validation_errors_never_print_a_password(tmp_path, text, expected):
    message = error_for(tmp_path, text)
    assert expected in message and "hunter2pass" not in message


def test_path_and_url_keys_are_found_by_their_type_in_the_schema():
    from overnight_assets.config import OvernightConfig
    from overnight_assets.config.keys import PATH, URL, marked_keys

    assert set(marked_keys(OvernightConfig, PATH)) == {
        ("home",),
        ("triage", "auth_log", "path"),
        ("triage", "ports", "proc_net"),
        ("triage", "integrity", "paths", "*"),
        ("triage", "disk", "paths", "*"),
        ("reading", "sources", "*", "url"),  # a feed's url is a path when it has no "://"
        ("code_review", "repos", "*", "path"),
    }
    assert set(marked_keys(OvernightConfig, URL)) == {
        ("llm", "host"),
        ("slack", "base_url"),
        ("memory", "server_url"),
        ("triage", "docker", "base_url"),
        ("reading", "sources", "*", "url"),
        ("reading", "arxiv", "api_url"),
        ("code_review", "repos", "*", "url"),
        ("weekly", "pypi_url"),
        ("weekly", "npm_url"),
        ("weekly", "github_url"),
    }


def test_a_path_key_is_found_however_deep_it_sits():
    from pydantic import BaseModel

    from overnight_assets.config.keys import PATH, marked_keys
    from overnight_assets.config.values import ConfigPath

    class Inner(BaseModel):
        paths: list[ConfigPath] = []
        name: str = ""

    class Outer(BaseModel):
        shelves: list[Inner | None] = []
        by_name: dict[str, ConfigPath] = {}
        spare: ConfigPath | None = None

    assert marked_keys(Outer, PATH) == (("shelves", "*", "paths", "*"), ("by_name", "*"), ("spare",))


def test_relative_paths_in_lists_are_read_from_the_config_folder(tmp_path):
    config = load_config(
        write(
            tmp_path,
            "triage: {integrity: {paths: ['watched/**', /etc/ssh/sshd_config]}, disk: {paths: [data]}}\n"
            "code_review: {repos: [{name: lab, path: code/lab}, {name: far, url: 'https://git.lan/far.git'}]}\n"
            "reading: {sources: [{name: local, url: feeds/a.xml}, {name: web, url: 'https://feeds.lan/rss'}]}",
        )
    )
    assert config.triage.integrity.paths == [str(tmp_path / "watched" / "**"), "/etc/ssh/sshd_config"]
    assert config.triage.disk.paths == [str(tmp_path / "data")]
    assert [repo.path for repo in config.code_review.repos] == [str(tmp_path / "code" / "lab"), None]
    assert [source.url for source in config.reading.sources] == [
        str(tmp_path / "feeds" / "a.xml"),
        "https://feeds.lan/rss",
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Colour: blue", "\n  Colour: unknown key"),
        ("triage: {docker: {Base_URL: 'unix:///run/docker.sock'}}", "\n  triage.docker.Base_URL: unknown key"),
        (
            "code_review: {repos: [{name: lab, path: lab, Branch: main}]}",
            "\n  code_review.repos[0].Branch: unknown key",
        ),
        ("LLM: {host: 'http://gpu:11434'}", "\n  LLM: unknown key"),
    ],
)
def test_an_unknown_key_is_named_as_written_even_with_a_capital(tmp_path, text, expected):
    assert expected in error_for(tmp_path, text)


def test_union_branch_labels_pydantic_adds_are_not_taken_for_keys():
    from pydantic import ValidationError

    from overnight_assets.config import DockerCollector, Repo
    from overnight_assets.config.keys import user_key_path
    from overnight_assets.config.schema import _Strict

    class Shelf(_Strict):
        either: DockerCollector | Repo | None = None
        several: list[Repo | int] = []
        Plain: DockerCollector | None = None

    with pytest.raises(ValidationError) as raised:
        Shelf.model_validate(
            {"either": {"Base_url": 1}, "several": [{"Name": "x"}], "Plain": {"Base_url": 1}, "Extra": 1}
        )
    locs = [problem["loc"] for problem in raised.value.errors()]
    assert ("either", "DockerCollector", "Base_url") in locs  # pydantic's label, then the user's key
    assert sorted({user_key_path(Shelf, loc) for loc in locs}, key=str) == sorted(
        {
            ("either", "Base_url"),
            ("either", "name"),  # missing in the Repo branch
            ("several", 0),  # not an int
            ("several", 0, "name"),
            ("several", 0, "Name"),
            ("Plain", "Base_url"),
            ("Extra",),
        },
        key=str,
    )


def test_the_paths_under_home_are_the_documented_ones(tmp_path):
    from pathlib import Path

    from overnight_assets.config import OvernightConfig, Paths

    paths = load_config(write(tmp_path, "home: data")).paths
    home = tmp_path / "data"
    assert paths == Paths(home)
    assert paths.cortex == home / "cortex.duckdb"
    assert paths.briefing("2026-11-20") == home / "briefings" / "2026-11-20.md"
    assert paths.outbox == home / "outbox"
    assert (paths.repos, paths.assets, paths.demo_inputs) == (home / "repos", home / "assets", home / "demo-inputs")
    assert OvernightConfig(home="~/night").paths.home == Path.home() / "night"


def test_the_resources_use_the_configured_paths(tmp_path):
    from overnight_assets.resources.dagster_resources import build_resources

    config = load_config(write(tmp_path, "home: data"))
    resources = build_resources(config)
    assert resources["cortex"].path == str(config.paths.cortex) == str(tmp_path / "data" / "cortex.duckdb")
    assert resources["io_manager"].base_dir == str(config.paths.assets)


# Issue 10: the first night is the file's, a real date, at most tomorrow in the configured timezone.
@pytest.mark.parametrize(
    "text, expected",
    [
        ("first_night: 2026-11-31", "not valid YAML: day is out of range for month (a date is written YYYY-MM-DD)"),
        (
            "first_night: '2026-11-31'",
            "first_night: expected a date as YYYY-MM-DD such as 2026-11-01, got '2026-11-31'",
        ),
        ("first_night: 20-11-2026", "first_night: expected a date as YYYY-MM-DD"),
        (
            "first_night: 2026-11-01 10:00:00",
            "first_night: expected a date as YYYY-MM-DD such as 2026-11-01, got 2026-11-01 10:00:00",
        ),
        ("first_night: 2099-01-01", "first_night: expected a night no later than tomorrow in UTC"),
        ("schedules: {grace_hours: 0}", "schedules.grace_hours: input should be greater than 0, got 0"),
        ("schedules: {grace_hours: '4'}", "schedules.grace_hours"),
    ],
)
def test_a_bad_first_night_or_grace_is_named(tmp_path, text, expected):
    assert expected in error_for(tmp_path, text)


def test_first_night_up_to_tomorrow_in_the_timezone_loads_quoted_or_not(tmp_path, monkeypatch):
    from datetime import date, datetime, timedelta
    from zoneinfo import ZoneInfo

    tomorrow = datetime.now(ZoneInfo("Pacific/Kiritimati")).date() + timedelta(days=1)  # UTC+14: ahead of UTC
    assert (
        load_config(write(tmp_path, f"timezone: Pacific/Kiritimati\nfirst_night: {tomorrow}")).first_night == tomorrow
    )
    assert "no later than tomorrow" in error_for(tmp_path, f"first_night: {tomorrow + timedelta(days=1)}")
    monkeypatch.setenv("FIRST", "2026-11-02")
    assert load_config(write(tmp_path, "first_night: ${FIRST}")).first_night == date(2026, 11, 2)
    assert load_config(write(tmp_path, "first_night: '2026-11-03'")).first_night == date(2026, 11, 3)
    defaults = load_config(write(tmp_path, ""))
    assert (defaults.first_night, defaults.schedules.grace_hours) == (date(2026, 1, 1), 4)
