"""The `[[account]]` tables: one `Account` each, the names distinct.

An account is the one section that says where to connect and how to sign in (TLS, port, CA
file, password command, OAuth2 keys through `triage.oauth2.settings`), and the only section
that is an array; it is read here so that its checks do not hide among the smaller sections.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import cast

from triage.config.tables import MISSING, Table, show, single_line
from triage.config.values import (
    AUTHS,
    DEFAULT_PORTS,
    LABEL_MODES,
    MODES,
    TLS_MODES,
    Account,
    Auth,
    LabelMode,
    Mode,
)
from triage.errors import ConfigError
from triage.oauth2.settings import read_oauth2

_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def read_accounts(top: Table, base_dir: Path, mode: Mode) -> tuple[Account, ...]:
    """Every `[[account]]` of the top-level table; `mode` is the default of their `mode`."""
    source = top.source
    raw_accounts = top._get("account", MISSING, "at least one [[account]] table")
    if not isinstance(raw_accounts, list) or not raw_accounts:
        raise top.wrong("account", "at least one [[account]] table", raw_accounts)
    accounts: list[Account] = []
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(raw_accounts, start=1):
        if not isinstance(raw, dict):
            raise top.wrong("account", "[[account]] tables", raw)
        account = _read_account(Table(source, f"account #{number}", raw), base_dir, mode)
        if account.name in first_seen:
            raise ConfigError(
                f"config error: {source}: account #{number} key 'name': expected a name no "
                f"other account uses, got {show(account.name)} "
                f"(account #{first_seen[account.name]} has it)"
            )
        first_seen[account.name] = number
        accounts.append(account)
    return tuple(accounts)


def _host(value: str) -> bool:
    return bool(value) and "://" not in value and not re.search(r"[\s/]", value)


def _read_account(table: Table, base_dir: Path, default_mode: Mode = "active") -> Account:
    name = table.string(
        "name",
        expected="a name of letters, digits, '.', '_' or '-' (used as `triage login NAME`)",
        check=lambda v: bool(_ACCOUNT_NAME.fullmatch(v)),
    )
    table.where = f"account {name!r}"
    host = table.string("host", expected="a host name such as imap.example.com", check=_host)
    username = table.string(
        "username",
        expected="a non-empty string",
        check=lambda v: bool(v.strip()) and single_line(v),
    )
    allow_insecure = table.boolean("allow_insecure", False)
    tls_expected = '"implicit" or "starttls" (or "none" together with allow_insecure = true)'
    tls = table.string("tls", "implicit", expected=tls_expected)
    if tls not in TLS_MODES or (tls == "none" and not allow_insecure):
        raise table.wrong("tls", tls_expected, tls)
    port = table.integer("port", DEFAULT_PORTS[tls], minimum=1, maximum=65535)
    ca_file = table.path("ca_file", base_dir, must_be_file=True)
    password_command = table.string(
        "password_command", "", expected="a single-line shell command", check=single_line
    )
    folders = table.string_list(
        "folders",
        ("INBOX",),
        expected="a non-empty array of distinct folder names",
        check=lambda v: bool(v) and single_line(v),
        allow_empty=False,
    )
    labels = table.choice("labels", LABEL_MODES, "auto")
    mode = table.choice("mode", MODES, default_mode)
    auth = table.choice("auth", AUTHS, "password")
    oauth2 = read_oauth2(table, auth)
    table.finish()
    return Account(
        name=name,
        host=host,
        username=username,
        port=port,
        tls=tls,
        ca_file=ca_file,
        password_command=password_command,
        folders=folders,
        labels=cast(LabelMode, labels),
        allow_insecure=allow_insecure,
        mode=cast(Mode, mode),
        auth=cast(Auth, auth),
        oauth2=oauth2,
    )
