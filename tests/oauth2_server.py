"""A small OAuth2 authorization server on loopback, standing in for Google's and Microsoft's.

The providers cannot be reached from tests, so this plays both of their parts, and Dovecot's:

- `/authorize`: the browser page of the authorization-code flow; it "signs in" the one user
  at once and redirects to the client's loopback `redirect_uri` with a code (RFC 6749 4.1),
  remembering the PKCE challenge (RFC 7636)
- `/device`: the device authorization endpoint (RFC 8628); `approve_all()` is the user
  typing the code in on another device
- `/token`: the authorization_code, device_code and refresh_token grants, with the errors of
  RFC 6749 5.2 and RFC 8628 3.5 (`invalid_client`, `invalid_grant`, `authorization_pending`)
- `/introspect`: token introspection (RFC 7662) for Dovecot's `oauth2` passdb, which is how the
  IMAP server learns whether an access token is good and whose it is

Every token it hands out is remembered in `issued`, so a test can look for them in logs and
files. `expire_access_tokens()` and `revoke()` are what time and a user's "sign out
everywhere" do to tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str = ""
    challenge: str = ""
    approved: bool = False


class AuthServer:
    """The provider: one user, one registered client, tokens in memory.

    One per test session (Dovecot is configured with its URL); `reset()` starts a test afresh.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset("nobody@example.test")
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def reset(self, username: str) -> None:
        with self._lock:
            self.username = username
            self.client_id = "test-client"
            self.client_secret = ""  # required by /token when set (like Google's)
            self.access_lifetime = 3600
            self.rotate_refresh_tokens = False  # Microsoft sends a new one with each refresh
            self.device_interval = 0.05
            self.issued: list[str] = []  # every token handed out
            self.grants: list[str] = []  # grant_type of each /token request, good or bad
            self.rejected = 0  # introspections that found a token not (or no longer) good
            self._access: dict[str, float] = {}  # token -> expiry (time.time())
            self._refresh: set[str] = set()
            self._codes: dict[str, _Grant] = {}
            self._devices: dict[str, _Grant] = {}  # device_code -> grant
            self._user_codes: dict[str, str] = {}  # user_code -> device_code

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ what tests do

    def approve_all(self) -> list[str]:
        """The user enters every code shown and not yet entered; those codes."""
        with self._lock:
            entered = [
                user_code
                for user_code, device_code in self._user_codes.items()
                if device_code in self._devices and not self._devices[device_code].approved
            ]
            for user_code in entered:
                self._devices[self._user_codes[user_code]].approved = True
            return entered

    def expire_access_tokens(self) -> None:
        with self._lock:
            for token in self._access:
                self._access[token] = 0.0

    def revoke(self) -> None:
        """Every token void: the user signed out everywhere or changed the password."""
        with self._lock:
            self._access.clear()
            self._refresh.clear()

    def sign_in(self) -> str:
        """A refresh token, as a finished `triage login` leaves in the keyring."""
        with self._lock:
            token = "rt-" + secrets.token_urlsafe(24)
            self._refresh.add(token)
            self.issued.append(token)
            return token

    def add_access_token(self) -> str:
        """A valid access token issued outside any flow (what a token helper would print)."""
        with self._lock:
            return self._new_access()

    # ------------------------------------------------------------------ the endpoints

    def _new_access(self) -> str:
        token = "at-" + secrets.token_urlsafe(24)
        self._access[token] = time.time() + self.access_lifetime
        self.issued.append(token)
        return token

    def _tokens(self, *, refresh: bool = True) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {
            "access_token": self._new_access(),
            "token_type": "Bearer",
            "expires_in": self.access_lifetime,
        }
        if refresh:
            token = "rt-" + secrets.token_urlsafe(24)
            self._refresh.add(token)
            self.issued.append(token)
            body["refresh_token"] = token
        return 200, body

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        """(302, Location) to the client's redirect URI, or (400, {}) for an unknown client."""
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {}
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, {}
        code = "code-" + secrets.token_urlsafe(12)
        with self._lock:
            self._codes[code] = _Grant(
                query["client_id"], query.get("redirect_uri", ""), query["code_challenge"]
            )
        back = {"code": code, "state": query.get("state", "")}
        return 302, {"Location": query["redirect_uri"] + "?" + urllib.parse.urlencode(back)}

    def device(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("client_id") != self.client_id:
            return 400, {
                "error": "invalid_client",
                "error_description": "AADSTS700016: Application not found",
            }
        device_code = "dc-" + secrets.token_urlsafe(12)
        user_code = secrets.token_hex(4).upper()
        with self._lock:
            self._devices[device_code] = _Grant(form["client_id"])
            self._user_codes[user_code] = device_code
        return 200, {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": self.url + "/devicelogin",
            "expires_in": 900,
            "interval": self.device_interval,
        }

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("client_id") != self.client_id or (
            self.client_secret and form.get("client_secret") != self.client_secret
        ):
            return 401, {"error": "invalid_client"}
        grant_type = form.get("grant_type", "")
        with self._lock:
            self.grants.append(grant_type)
            if grant_type == "urn:ietf:params:oauth:grant-type:device_code":
                grant = self._devices.get(form.get("device_code", ""))
                if grant is None:
                    return 400, {"error": "expired_token"}
                if not grant.approved:
                    return 400, {"error": "authorization_pending"}
                del self._devices[form["device_code"]]
                return self._tokens()
            if grant_type == "authorization_code":
                grant = self._codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "").encode()
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest())
                if (
                    grant is None
                    or grant.redirect_uri != form.get("redirect_uri")
                    or grant.challenge != challenge.rstrip(b"=").decode()
                ):
                    return 400, {"error": "invalid_grant"}
                return self._tokens()
            if grant_type == "refresh_token":
                token = form.get("refresh_token", "")
                if token not in self._refresh:
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    }
                if self.rotate_refresh_tokens:
                    self._refresh.discard(token)
                return self._tokens(refresh=self.rotate_refresh_tokens)
        return 400, {"error": "unsupported_grant_type"}

    def introspect(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            expiry = self._access.get(form.get("token", ""), 0.0)
        if expiry <= time.time():
            self.rejected += 1
            return 200, {"active": "false"}
        return 200, {"active": "true", "username": self.username}


def _handler(auth: AuthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            url = urllib.parse.urlsplit(self.path)
            if url.path != "/authorize":
                self._reply(404, {})
                return
            status, headers = auth.authorize(dict(urllib.parse.parse_qsl(url.query)))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            endpoint = {
                "/device": auth.device,
                "/token": auth.token,
                "/introspect": auth.introspect,
            }.get(self.path)
            if endpoint is None:
                self._reply(404, {})
                return
            self._reply(*endpoint(form))

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
