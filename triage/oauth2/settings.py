"""An account's OAuth2 settings: the `oauth2_*` keys, checked once at start-up, and the presets.

A preset carries what every user of a provider shares (endpoints, the IMAP scope), so a
Gmail or Microsoft 365 account needs only `oauth2_provider` and the client ID (plus, for
Google, the client secret that Google's installed-app flow sends). `custom` spells the
endpoints out. `oauth2_command` instead hands the whole job to a token helper.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from triage.config.tables import Table

PROVIDERS = ("google", "microsoft", "custom")
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,99}")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_URL_KEYS = ("oauth2_authorize_url", "oauth2_token_url", "oauth2_device_url")
_PRESET_ONLY_HERE = {"oauth2_tenant": "microsoft"}


@dataclass(frozen=True)
class OAuth2Config:
    """Where and how an account gets its access tokens (provider "": from `command`)."""

    provider: str
    client_id: str = ""
    # Google's Desktop-app "secret" is shipped with every installed app and is not
    # confidential (RFC 8252 8.5); still, it stays out of reprs and logs.
    client_secret: str = field(default="", repr=False)
    authorize_url: str = ""
    token_url: str = ""
    device_url: str = ""  # set: `triage login` uses the device flow
    scopes: tuple[str, ...] = ()
    command: str = field(default="", repr=False)  # may embed a secret, like password_command


def preset(provider: str, tenant: str = "common") -> OAuth2Config:
    """Endpoints and scopes of a known provider (no client yet)."""
    if provider == "google":
        # Google's device flow does not allow the mail scope: installed-app flow only.
        return OAuth2Config(
            "google",
            authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
            token_url="https://oauth2.googleapis.com/token",
            scopes=("https://mail.google.com/",),
        )
    base = f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0"
    return OAuth2Config(
        "microsoft",
        authorize_url=f"{base}/authorize",
        token_url=f"{base}/token",
        device_url=f"{base}/devicecode",
        scopes=("https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"),
    )


def _one_line(value: str) -> bool:
    """Unset (""), or one line of text that is not only blanks."""
    return not value or (bool(value.strip()) and value.isprintable())


def _is_endpoint(value: str) -> bool:
    """https, or plain http to this machine only (a token must not cross a network in clear)."""
    url = urllib.parse.urlsplit(value)
    if not url.hostname or url.username or url.fragment:
        return False
    return url.scheme == "https" or (url.scheme == "http" and url.hostname in _LOOPBACK)


def read_oauth2(table: Table, auth: str) -> OAuth2Config | None:
    """The account's OAuth2 settings (None with auth = "password").

    Called last for an account table. Every key is read whatever `auth` says, so a misplaced
    one gets its own error instead of "unknown key".
    """
    present = [k for k in table.data if k.startswith("oauth2_")]
    provider = table.string(
        "oauth2_provider",
        "",
        expected='"google", "microsoft" or "custom"',
        check=lambda v: not v or v in PROVIDERS,
    )
    client_id = table.string(
        "oauth2_client_id", "", expected="a client ID (one line)", check=_one_line
    )
    secret = table.string(
        "oauth2_client_secret", "", expected="a client secret (one line)", check=_one_line
    )
    tenant = table.string(
        "oauth2_tenant",
        "common",
        expected='a tenant: "common", "organizations" or your directory ID',
        check=lambda v: bool(_TENANT.fullmatch(v)),
    )
    urls = {
        key: table.string(
            key,
            "",
            expected="an https:// URL (http:// only to localhost)",
            check=lambda v: not v or _is_endpoint(v),
        )
        for key in _URL_KEYS
    }
    scopes = table.string_list(
        "oauth2_scopes",
        (),
        expected="a non-empty array of scopes",
        check=lambda v: bool(v) and " " not in v and v.isprintable(),
        allow_empty=False,
    )
    command = table.string(
        "oauth2_command", "", expected="a single-line shell command", check=_one_line
    )
    table.finish()  # a misspelt key explains itself better than the "missing" key below

    if auth != "oauth2":
        if present:
            raise table.fail(present[0], 'only used with auth = "oauth2"')
        return None
    if "password_command" in table.data:
        raise table.fail(
            "password_command",
            'not used with auth = "oauth2" (a token helper goes in oauth2_command)',
        )
    if command:
        others = [k for k in present if k != "oauth2_command"]
        if others:
            raise table.fail(
                others[0],
                "not used together with oauth2_command, which gets the access token by itself",
            )
        return OAuth2Config("", command=command)
    if not provider:
        raise table.fail(
            "oauth2_provider",
            'missing: set "google", "microsoft" or "custom" (or oauth2_command for a token helper)',
        )
    if not client_id:
        raise table.fail(
            "oauth2_client_id",
            f"missing: oauth2_provider = {provider!r} needs "
            "the client ID of your app registration (see the README)",
        )
    for key, owner in _PRESET_ONLY_HERE.items():
        if key in table.data and provider != owner:
            raise table.fail(key, f"only used with oauth2_provider = {owner!r}")
    if provider == "google" and not secret:
        raise table.fail(
            "oauth2_client_secret",
            "missing: Google's installed-app flow needs "
            "the client secret shown beside the client ID",
        )
    if provider == "microsoft" and secret:
        raise table.fail(
            "oauth2_client_secret",
            "not used with Microsoft: register the app "
            'as a public client ("Allow public client flows") instead',
        )
    if provider != "custom":
        for key in (*_URL_KEYS, "oauth2_scopes"):
            if key in table.data:
                raise table.fail(
                    key, f'set by oauth2_provider = {provider!r}; use "custom" for other endpoints'
                )
        base = preset(provider, tenant)
        return OAuth2Config(
            provider,
            client_id,
            secret,
            base.authorize_url,
            base.token_url,
            base.device_url,
            base.scopes,
        )
    if not urls["oauth2_token_url"]:
        raise table.fail(
            "oauth2_token_url", 'missing: oauth2_provider = "custom" needs the token endpoint'
        )
    if not (urls["oauth2_device_url"] or urls["oauth2_authorize_url"]):
        raise table.fail(
            "oauth2_authorize_url",
            'missing: oauth2_provider = "custom" needs '
            "an authorization endpoint, a device endpoint (oauth2_device_url), "
            "or both",
        )
    if not scopes:
        raise table.fail(
            "oauth2_scopes", 'missing: oauth2_provider = "custom" needs the scopes that allow IMAP'
        )
    return OAuth2Config(
        "custom",
        client_id,
        secret,
        urls["oauth2_authorize_url"],
        urls["oauth2_token_url"],
        urls["oauth2_device_url"],
        scopes,
    )
