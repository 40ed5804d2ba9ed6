"""redact_secrets and find_secrets: every kind found and hidden, what is not a secret left alone."""

from __future__ import annotations

import subprocess
import sys

import pytest

from overnight_assets.redaction import KINDS, LINE_BREAKS, find_secrets, placeholder, redact_secrets, scan_secrets

# kind -> (text holding the secret, the value that must not survive)
PLANTED = {
    "AWS access key id": ("export AWS_ACCESS_KEY_ID=AKIAQ7RT2ZX9WP4MLEAK", "AKIAQ7RT2ZX9WP4MLEAK"),
    "AWS secret access key": (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    "GitHub token": (
        "git push https://ghp_R8x2Lq9Zt4Vb7Nc1Md6Pf3Hs5Jk0WyQ1e2r3@github.com",
        "ghp_R8x2Lq9Zt4Vb7Nc1Md6Pf3Hs5Jk0WyQ1e2r3",
    ),
    "Slack token": ("SLACK=xoxb-2048-4096-Z8t4Vb7Nc1Md", "xoxb-2048-4096-Z8t4Vb7Nc1Md"),
    "Slack webhook": ("curl https://hooks.slack.com/services/T0AB/B0CD/Zt4Vb7Nc1Md6Pf3H", "Zt4Vb7Nc1Md6Pf3H"),
    "Google API key": ("key=AIzaSyD3fGh5Jk7Lm9Np1Qr3St5Uv7Wx9Yz1Ab3", "AIzaSyD3fGh5Jk7Lm9Np1Qr3St5Uv7Wx9Yz1Ab3"),
    "Google OAuth token": ("Authorization: Bearer ya29.a0AfH6SMBx3Zt4Vb7Nc1Md6Pf", "ya29.a0AfH6SMBx3Zt4Vb7Nc1Md6Pf"),
    "password in a URL": ("DATABASE=postgres://app:Pw9x!zQ@db.lan:5432/app", "Pw9x!zQ"),
    "private key block": (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Zt4Vb7\n-----END RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEA3Zt4Vb7",
    ),
    "password": ("DB_PASSWORD=hunter22", "hunter22"),
    "token": ('{"token": "t0kZt4Vb7"}', "t0kZt4Vb7"),
    "secret": ("SECRET_KEY: 's3cNc1Md6'", "s3cNc1Md6"),
    "API key": ("api-key => k3yPf3HsJ", "k3yPf3HsJ"),
}


def test_every_kind_is_planted_here():
    assert set(PLANTED) == set(KINDS)


@pytest.mark.parametrize("kind", PLANTED)
def test_each_kind_is_found_and_replaced_by_its_kind(kind):
    text, value = PLANTED[kind]
    redacted, found = scan_secrets(text)
    assert found == [kind]
    assert value not in redacted and placeholder(kind) in redacted
    assert find_secrets(text) == [kind] and redact_secrets(text) == redacted
    assert scan_secrets(redacted) == (redacted, [])  # redacting twice changes nothing


@pytest.mark.parametrize(
    "text, value",
    [
        ("password=hunter22", "hunter22"),  # =, unquoted
        ("password: hunter22", "hunter22"),  # :, unquoted
        ('password = "correct horse"', "correct horse"),  # quoted, any shape
        ("token: 'x'", "'x'"),
        ('"api_key":"k3yPf3HsJ"', "k3yPf3HsJ"),  # JSON
        ('{\\"password\\": \\"hunter22\\"}', "hunter22"),  # JSON inside a JSON string
        ("mysql -u root --password=S3cr3t!pw db", "S3cr3t!pw"),
        ("https://example.org/feed?token=ab12cd34ef&page=2", "ab12cd34ef"),
        ('TOKEN: "t0kZt4Vb7', "t0kZt4Vb7"),  # git trims the closing quote of an author email
        ("secret=correcthorsebatterystaple", "correcthorsebatterystaple"),  # long enough without digits
    ],
)
def test_generic_assignments_in_every_form(text, value):
    assert value not in redact_secrets(text)


@pytest.mark.parametrize(
    "text",
    [
        "Fix token: it expired",  # prose
        "auth: retry when the refresh token: expired",
        "token = get_token()",  # a call
        "password = request.form['password']",
        "password = args.password",  # a reference that names the key again
        "def login(password: str, token: Optional[str] = None):",
        "if token == expected_token:",
        "max_tokens=4096 and max_token=100000",  # numbers
        'password: "${DB_PASSWORD}"',  # placeholders
        "token: {{ secrets.GITHUB_TOKEN }}",
        'api_key = "<your key here>"',
        "password: ********",
        'label = "Enter your password"',
        "secret_file=/run/secrets/db",  # a path
        "ssh://git@github.com/owner/repo.git",  # a user, no password
        "the AKIA prefix alone, ghp_short, xoxb-",
    ],
)
def test_what_is_not_a_secret_is_left_alone(text):
    assert scan_secrets(text) == (text, [])


def test_a_key_block_keeps_every_line_and_diff_marker():
    diff = "\n".join(
        [
            "@@ -0,0 +1,5 @@",
            "+-----BEGIN OPENSSH PRIVATE KEY-----",
            "+b3BlbnNzaC1rZXktdjEAAAAA",
            "+  indentedAAAA",
            "+-----END OPENSSH PRIVATE KEY-----",
            "+after = 1",
        ]
    )
    key = placeholder("private key block")
    assert redact_secrets(diff).splitlines() == [
        "@@ -0,0 +1,5 @@",
        f"+{key}",
        f"+{key}",
        f"+  {key}",
        f"+{key}",
        "+after = 1",
    ]


def test_a_key_block_without_its_end_is_hidden_to_the_end():
    text = 'before\nkey = """-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg\nMore4Zt\n'
    assert redact_secrets(text).splitlines()[1:] == [
        'key = """' + placeholder("private key block"),
        placeholder("private key block"),
        placeholder("private key block"),
    ]


def test_a_one_line_key_keeps_what_follows_it():
    text = 'KEY="-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADAN\\n-----END PRIVATE KEY-----\\n" # from vault'
    assert redact_secrets(text) == f'KEY="{placeholder("private key block")}\\n" # from vault'


@pytest.mark.parametrize("line_break", list(LINE_BREAKS) + ["\r\n"])
def test_redaction_never_moves_a_line(line_break):
    """The diff parser reads line numbers from the raw patch and text from the redacted one."""
    text = line_break.join(
        [
            'password = "hunter22',
            "-----BEGIN RSA PRIVATE KEY-----",
            "MIIEpAIB",
            "-----END RSA PRIVATE KEY-----",
            'token: "t0k9Zt4"',
            "x",
        ]
    )
    redacted = redact_secrets(text)
    assert len(redacted.splitlines()) == len(text.splitlines()) == 6
    assert "hunter22" not in redacted and "MIIEpAIB" not in redacted and "t0k9Zt4" not in redacted


def test_several_secrets_on_one_line_are_all_hidden():
    text = "AKIAQ7RT2ZX9WP4MLEAK and password=hunter22 and AKIAQ7RT2ZX9WP4MLEA2"
    redacted, found = scan_secrets(text)
    assert found == ["AWS access key id", "password"]
    assert redacted == "[redacted AWS access key id] and password=[redacted password] and [redacted AWS access key id]"


def test_the_module_is_ground_floor_without_dagster():
    code = "import sys, overnight_assets.redaction; print('dagster' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
