"""Config loading: defaults, the example file, and one-line errors with exit code 2."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from triage import paths
from triage.cli import main
from triage.config import (
    Account,
    DaemonConfig,
    DraftsConfig,
    LabelNames,
    load_config,
    parse_config,
)
from triage.errors import ConfigError
from triage.oauth2.settings import OAuth2Config

REPO = Path(__file__).resolve().parent.parent

MINIMAL = """\
[[account]]
name = "personal"
host = "imap.example.com"
username = "me@example.com"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- valid files


def test_minimal_config_gets_the_documented_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    account = config.account("personal")
    assert account == Account(
        name="personal", host="imap.example.com", username="me@example.com", port=993
    )
    assert account.tls == "implicit" and account.folders == ("INBOX",)
    assert account.labels == "auto" and account.ca_file is None
    assert config.state_dir == Path(os.environ["XDG_STATE_HOME"]) / "triage"
    assert config.daemon == DaemonConfig(backfill_days=30)
    assert config.drafts.cooldown_days == 90 and config.drafts.enabled
    assert config.labels == LabelNames()
    assert config.labels.for_style("gmail").solicitation == "Triage/Solicitation"
    assert config.labels.for_style("keywords").drafted == "triage-drafted"
    assert config.source == tmp_path / "config.toml"


def test_full_config(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    text = """\
state_dir = "state"

[[account]]
name = "work"
host = "mail.example.org"
username = "ann"
tls = "starttls"
ca_file = "ca.pem"
password_command = "pass show mail/work"
folders = ["INBOX", "Networking"]
labels = "keywords"

[[account]]
name = "lab"
host = "127.0.0.1"
port = 1143
username = "ann"
tls = "none"
allow_insecure = true

[daemon]
backfill_days = 0
idle_refresh_minutes = 0.5
poll_seconds = 5

[labels]
solicitation = "Cold"
keyword_solicitation = "$Cold"

[drafts]
enabled = false
min_confidence = 0.9
daily_cap = 3
cooldown_days = 30
signature = "-- \\nAnn"
from_name = "Ann Example"
addresses = ["Ann@Example.org", "ann@example.com"]
"""
    config = load_config(write(tmp_path, text))
    work = config.account("work")
    assert work.port == 143  # the STARTTLS default
    assert work.ca_file == ca
    assert work.folders == ("INBOX", "Networking")
    assert work.labels == "keywords"
    assert config.account("lab").tls == "none"
    assert config.state_dir == tmp_path / "state"
    assert config.daemon == DaemonConfig(0, 0.5, 5.0)
    assert config.labels.for_style("folders").solicitation == "Cold"
    assert config.labels.for_style("keywords").solicitation == "$Cold"
    assert config.drafts == DraftsConfig(
        enabled=False,
        min_confidence=0.9,
        daily_cap=3,
        cooldown_days=30,
        signature="-- \nAnn",
        from_name="Ann Example",
        addresses=("ann@example.org", "ann@example.com"),
    )


def test_state_dir_expands_home(tmp_path: Path, isolated_home: Path) -> None:
    config = load_config(write(tmp_path, 'state_dir = "~/triage-state"\n' + MINIMAL))
    assert config.state_dir == Path(os.path.expanduser("~/triage-state"))


def test_password_command_stays_out_of_reprs(tmp_path: Path) -> None:
    text = MINIMAL + 'password_command = "echo hunter2"\n'
    config = load_config(write(tmp_path, text))
    assert config.account("personal").password_command == "echo hunter2"
    assert "hunter2" not in repr(config)


def test_example_config_is_valid_and_documents_every_key() -> None:
    example = REPO / "config.example.toml"
    text = example.read_text(encoding="utf-8")
    config = parse_config(text, example)
    assert config.account("personal").host == "imap.gmail.com"
    for cls in (Account, DaemonConfig, LabelNames, DraftsConfig):
        for field in dataclasses.fields(cls):
            if field.name == "oauth2":  # its fields are the oauth2_* keys
                continue
            assert f"{field.name} =" in text, f"config.example.toml does not document {field.name}"
    for field in dataclasses.fields(OAuth2Config):
        if field.name != "provider":
            assert f"# oauth2_{field.name} =" in text, f"oauth2_{field.name} is not documented"
    assert "# oauth2_provider =" in text and "# oauth2_tenant =" in text
    assert "state_dir =" in text


# ---------------------------------------------------------------- errors via the CLI


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


ERRORS = [
    pytest.param(
        MINIMAL + 'hostname = "imap.example.com"\n',
        ["account 'personal'", "unknown key 'hostname'", "did you mean 'host'"],
        id="unknown-account-key",
    ),
    pytest.param("colour = 1\n" + MINIMAL, ["unknown key 'colour'"], id="unknown-top-level-key"),
    pytest.param(
        MINIMAL + "[daemon]\nbackfil_days = 3\n",
        ["[daemon]", "unknown key 'backfil_days'", "did you mean 'backfill_days'"],
        id="unknown-section-key",
    ),
    pytest.param(
        MINIMAL + 'port = "abc"\n',
        ["account 'personal' key 'port'", "expected an integer 1-65535", 'got "abc"'],
        id="port-string",
    ),
    pytest.param(
        MINIMAL + "port = 70000\n",
        ["key 'port'", "expected an integer 1-65535, got 70000"],
        id="port-range",
    ),
    pytest.param(MINIMAL + "port = true\n", ["key 'port'", "got true"], id="port-bool"),
    pytest.param(
        MINIMAL.replace('host = "imap.example.com"\n', ""),
        ["account 'personal'", "missing required key 'host'"],
        id="missing-host",
    ),
    pytest.param(
        MINIMAL.replace('name = "personal"\n', ""),
        ["account #1", "missing required key 'name'"],
        id="missing-name",
    ),
    # every draft would fail at run time for want of a From address (issue 13, item 14)
    pytest.param(
        MINIMAL.replace('username = "me@example.com"', 'username = "me"'),
        ["[drafts] key 'addresses'", "account 'personal' logs in as \"me\"", "enabled = false"],
        id="drafts-without-a-from-address",
    ),
    # a misspelt required key is named as the likely cause (issue 13, item 8)
    pytest.param(
        MINIMAL.replace("host =", "hostname ="),
        ["missing required key 'host'", "unknown key 'hostname' (did you mean 'host'?)"],
        id="misspelt-host",
    ),
    pytest.param(
        MINIMAL.replace("[[account]]", "[[acount]]"),
        ["missing required key 'account'", "unknown key 'acount' (did you mean 'account'?)"],
        id="misspelt-account-table",
    ),
    pytest.param(
        MINIMAL + 'tls = "none"\n',
        ["key 'tls'", "allow_insecure = true", 'got "none"'],
        id="tls-none-without-allow-insecure",
    ),
    pytest.param(
        MINIMAL + 'tls = "ssl"\n', ["key 'tls'", '"implicit" or "starttls"'], id="tls-unknown"
    ),
    pytest.param(
        MINIMAL + MINIMAL,
        ["account #2 key 'name'", 'got "personal"', "account #1"],
        id="duplicate-account-name",
    ),
    pytest.param(
        MINIMAL.replace('"personal"', '"my account"'),
        ["key 'name'", "letters, digits"],
        id="bad-account-name",
    ),
    pytest.param(
        MINIMAL.replace('"imap.example.com"', '"imaps://imap.example.com"'),
        ["key 'host'", "host name"],
        id="url-as-host",
    ),
    pytest.param(
        MINIMAL + 'labels = "tags"\n',
        ["key 'labels'", '"auto" or "gmail" or "keywords" or "folders"', 'got "tags"'],
        id="labels-mode",
    ),
    pytest.param(
        MINIMAL + 'folders = "INBOX"\n', ["key 'folders'", "array"], id="folders-not-array"
    ),
    pytest.param(MINIMAL + "folders = []\n", ["key 'folders'", "non-empty"], id="folders-empty"),
    pytest.param(
        MINIMAL + 'ca_file = "/nonexistent/ca.pem"\n',
        ["key 'ca_file'", "existing file"],
        id="ca-file-missing",
    ),
    pytest.param(
        MINIMAL + "[daemon]\nbackfill_days = -1\n",
        ["[daemon] key 'backfill_days'", "an integer >= 0", "got -1"],
        id="backfill-negative",
    ),
    pytest.param(
        MINIMAL + "[daemon]\nidle_refresh_minutes = 45\n",
        ["key 'idle_refresh_minutes'", "at most 29"],
        id="idle-refresh-over-rfc-limit",
    ),
    pytest.param(
        MINIMAL + "[drafts]\nmin_confidence = 1.5\n",
        ["[drafts] key 'min_confidence'", "0 to 1"],
        id="confidence-range",
    ),
    pytest.param(
        MINIMAL + '[drafts]\naddresses = ["me"]\n',
        ["key 'addresses'", 'got an entry "me"'],
        id="bad-address",
    ),
    pytest.param(
        MINIMAL + '[labels]\nkeyword_solicitation = "cold mail"\n',
        ["[labels] key 'keyword_solicitation'", "IMAP keyword"],
        id="keyword-with-space",
    ),
    pytest.param(
        MINIMAL + "[daemon]\n[daemon.extra]\n",
        ["[daemon]", "unknown key 'extra'"],
        id="nested-table",
    ),
    pytest.param("daemon = 3\n" + MINIMAL, ["key 'daemon'", "a table"], id="section-not-table"),
    pytest.param('state_dir = "/x"\n', ["missing required key 'account'"], id="no-account"),
    pytest.param(
        '[account]\nname = "a"\n', ["key 'account'", "[[account]]"], id="account-single-table"
    ),
    pytest.param(MINIMAL + "port = \n", ["not valid TOML", "line 5"], id="invalid-toml"),
    *[
        pytest.param(MINIMAL + 'auth = "oauth2"\n' + extra, expected, id=f"oauth2-{name}")
        for name, extra, expected in [
            ("no-provider", "", ["key 'oauth2_provider'", "missing", "oauth2_command"]),
            (
                "typo",
                'oauth2_provider = "google"\noauth2_clientid = "x"\n',
                ["unknown key 'oauth2_clientid'", "did you mean 'oauth2_client_id'"],
            ),
            (
                "no-client-id",
                'oauth2_provider = "microsoft"\n',
                ["key 'oauth2_client_id'", "missing", "client ID"],
            ),
            (
                "unknown-provider",
                'oauth2_provider = "yahoo"\n',
                ["key 'oauth2_provider'", 'expected "google", "microsoft" or "custom"', '"yahoo"'],
            ),
            (
                "google-without-secret",
                'oauth2_provider = "google"\noauth2_client_id = "x"\n',
                ["key 'oauth2_client_secret'", "missing"],
            ),
            (
                "microsoft-with-secret",
                'oauth2_provider = "microsoft"\noauth2_client_id = "x"\n'
                'oauth2_client_secret = "s"\n',
                ["key 'oauth2_client_secret'", "public client"],
            ),
            (
                "preset-with-endpoint",
                'oauth2_provider = "microsoft"\noauth2_client_id = "x"\n'
                'oauth2_token_url = "https://example.org/token"\n',
                ["key 'oauth2_token_url'", "set by oauth2_provider = 'microsoft'", '"custom"'],
            ),
            (
                "tenant-not-microsoft",
                'oauth2_provider = "google"\noauth2_client_id = "x"\n'
                'oauth2_client_secret = "s"\noauth2_tenant = "contoso"\n',
                ["key 'oauth2_tenant'", "only used with oauth2_provider = 'microsoft'"],
            ),
            (
                "custom-no-token-url",
                'oauth2_provider = "custom"\noauth2_client_id = "x"\n',
                ["key 'oauth2_token_url'", "missing"],
            ),
            (
                "custom-no-flow",
                'oauth2_provider = "custom"\noauth2_client_id = "x"\n'
                'oauth2_token_url = "https://example.org/token"\n',
                ["key 'oauth2_authorize_url'", "oauth2_device_url"],
            ),
            (
                "custom-no-scopes",
                'oauth2_provider = "custom"\noauth2_client_id = "x"\n'
                'oauth2_token_url = "https://example.org/token"\n'
                'oauth2_device_url = "https://example.org/device"\n',
                ["key 'oauth2_scopes'", "missing"],
            ),
            (
                "http-endpoint",
                'oauth2_provider = "custom"\noauth2_client_id = "x"\n'
                'oauth2_token_url = "http://example.org/token"\n',
                ["key 'oauth2_token_url'", "https://", '"http://example.org/token"'],
            ),
            (
                "with-password-command",
                'password_command = "pass x"\n',
                ["key 'password_command'", "oauth2_command"],
            ),
            (
                "command-and-provider",
                'oauth2_command = "x"\noauth2_provider = "google"\n',
                ["key 'oauth2_provider'", "not used together with oauth2_command"],
            ),
        ]
    ],
    pytest.param(
        MINIMAL + 'oauth2_provider = "google"\n',
        ["key 'oauth2_provider'", 'only used with auth = "oauth2"'],
        id="oauth2-key-with-password-auth",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ERRORS)
def test_config_errors_are_one_line_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: list[str]
) -> None:
    path = write(tmp_path, text)
    code, out, err = run_cli(["login", "personal", "--config", str(path)], capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("triage: config error: ")
    assert str(path) in line
    for part in expected:
        assert part in line, f"{part!r} not in {line!r}"
    assert "Traceback" not in err


def test_missing_default_config_names_the_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["login", "personal"], capsys)
    assert code == 2
    assert str(paths.default_config_path()) in err
    assert "`triage config init` writes a commented example" in err  # no checkout needed
    assert "--config" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_explicit_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.toml"
    code, _, err = run_cli(["login", "personal", "--config", str(missing)], capsys)
    assert code == 2
    assert str(missing) in err and f"`triage config init --config {missing}`" in err


def test_unknown_account_lists_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, MINIMAL)
    code, _, err = run_cli(["login", "work", "--config", str(path)], capsys)
    assert code == 2
    assert "no account named 'work'" in err and "personal" in err


def test_config_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)


def test_config_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"state_dir = '\xff'\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_config_init_writes_the_packaged_example_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13, item 13: a pip-installed user has no config.example.toml to copy."""
    path = tmp_path / "sub" / "config.toml"
    code, out, _err = run_cli(["config", "init", "--config", str(path)], capsys)
    assert code == 0 and str(path) in out
    example = (Path(__file__).resolve().parent.parent / "config.example.toml").read_bytes()
    assert path.read_bytes() == example
    path.write_text(MINIMAL)
    code, _out, err = run_cli(["config", "init", "--config", str(path)], capsys)
    assert code == 2 and "exists already" in err
    assert path.read_text() == MINIMAL


def test_config_check_prints_the_settings_in_effect_and_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, MINIMAL + 'password_command = "echo hunter2"\n')
    code, out, err = run_cli(["config", "check", "--config", str(path)], capsys)
    assert code == 0, err
    assert f"# {path}: valid" in out
    assert 'host = "imap.example.com"' in out and "port = 993" in out
    assert "min_confidence = 0.9" in out and "idle_refresh_minutes = 1.0" in out
    assert "password_command = (set, not shown)" in out
    assert "hunter2" not in out + err
    code, _out, err = run_cli(
        ["config", "check", "--config", str(write(tmp_path, "x = 1\n"))], capsys
    )
    assert code == 2 and "config error" in err


@pytest.mark.parametrize(
    "keys",
    [
        'oauth2_provider = "google"\noauth2_client_id = "cid"\n'
        'oauth2_client_secret = "GOCSPX-hunter2"\n',
        'oauth2_command = "echo hunter2"\n',
    ],
)
def test_config_check_shows_oauth2_keys_but_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keys: str
) -> None:
    path = write(tmp_path, MINIMAL + 'auth = "oauth2"\n' + keys)
    code, out, err = run_cli(["config", "check", "--config", str(path)], capsys)
    assert code == 0, err
    assert 'auth = "oauth2"' in out and "= (set, not shown)" in out
    assert "hunter2" not in out + err
    assert ('oauth2_scopes = ["https://mail.google.com/"]' in out) == ("google" in keys)


def test_oauth2_presets_carry_endpoints_and_scopes() -> None:
    microsoft = parse_config(
        MINIMAL + 'auth = "oauth2"\noauth2_provider = "microsoft"\noauth2_client_id = "c"\n'
        'oauth2_tenant = "contoso.onmicrosoft.com"\n',
        Path("/c.toml"),
    ).account("personal")
    assert microsoft.auth == "oauth2" and microsoft.oauth2 is not None
    assert microsoft.oauth2.device_url == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode"
    )
    assert microsoft.oauth2.scopes == (
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "offline_access",
    )
    google = parse_config(
        MINIMAL + 'auth = "oauth2"\noauth2_provider = "google"\noauth2_client_id = "c"\n'
        'oauth2_client_secret = "GOCSPX-s3cret"\n',
        Path("/c.toml"),
    ).account("personal")
    assert google.oauth2 is not None and google.oauth2.device_url == ""  # browser flow
    assert google.oauth2.scopes == ("https://mail.google.com/",)
    assert "GOCSPX-s3cret" not in repr(google)
    assert parse_config(MINIMAL, Path("/c.toml")).account("personal").oauth2 is None
