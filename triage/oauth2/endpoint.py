"""The one HTTP exchange OAuth2 needs: POST a form, get JSON back (RFC 6749 3.2, RFC 8628 3.1).

urllib from the standard library does this well enough; an HTTP library would add a
dependency for one request shape. Certificates are verified by urllib's default context.

Errors become the project's own, with the provider's `error` code and description but never
the request (it carries refresh tokens, codes and the client secret):

- `OAuth2Error`: the provider answered with an OAuth2 error (`invalid_grant`, ...)
- `ConnectionLostError`: the network failed, or the provider had a 5xx moment: try again later
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from triage.errors import ConnectionLostError, CredentialError

TIMEOUT = 30.0  # seconds per request
_USER_AGENT = "triage-imap (OAuth2; urllib)"


class OAuth2Error(CredentialError):
    """The provider refused a request; `code` is its OAuth2 error code."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def post_form(url: str, form: dict[str, str], *, timeout: float = TIMEOUT) -> dict[str, Any]:
    """The JSON object the endpoint answers with; OAuth2Error or ConnectionLostError if none."""
    host = urllib.parse.urlsplit(url).netloc
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(form).encode("ascii"),
        method="POST",
        headers={
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return _json(response.read(), host)
    except urllib.error.HTTPError as exc:
        with exc:
            body = exc.read()
        if exc.code >= 500:
            raise ConnectionLostError(f"{host} had a server error (HTTP {exc.code})") from None
        answer = _json(body, host, status=exc.code)
        code = str(answer.get("error") or f"HTTP {exc.code}")
        # the first line only: Microsoft appends trace and correlation IDs on further lines
        description = str(answer.get("error_description") or "").strip().splitlines()
        detail = f": {_printable(description[0])[:200]}" if description else ""
        raise OAuth2Error(f"{host} said {_printable(code)[:60]}{detail}", code) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ConnectionLostError(f"cannot reach {host}: {reason}") from None


def _json(body: bytes, host: str, *, status: int = 200) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        answer = None
    if not isinstance(answer, dict):
        raise OAuth2Error(
            f"{host} answered HTTP {status} without a JSON object (is the URL an OAuth2 endpoint?)",
            "not_json",
        )
    return answer


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in text)
