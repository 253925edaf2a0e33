"""What `triage login` runs for an OAuth2 account: one of two ways to get a refresh token.

- the device authorization grant (RFC 8628) when the account has a device endpoint
  (Microsoft): a short code to type in at the provider's page, on any device
- otherwise the installed-app authorization-code flow (RFC 8252) with PKCE (RFC 7636): the
  browser signs in at the provider and is sent back to a one-shot HTTP server on 127.0.0.1.
  Without a browser on this machine, the address the browser ends up at (which carries the
  code) can be pasted into the terminal instead; whichever comes first is used.

The terminal is passed in (`say`, `read_line`), and so is the browser (`open_browser`), so tests
drive both.
"""

from __future__ import annotations

import base64
import hashlib
import queue
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer

from triage.config import Account
from triage.errors import CredentialError
from triage.oauth2.endpoint import OAuth2Error, post_form
from triage.oauth2.tokens import Grant, explain, request_tokens, settings

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
BROWSER_TIMEOUT = 600.0  # seconds to sign in in the browser
# Google sends a refresh token only when asked for offline access, and again only on consent.
_AUTHORIZE_EXTRA = {"google": {"access_type": "offline", "prompt": "consent"}}
_DONE_PAGE = (
    b"<!doctype html><title>triage</title><p>Signed in. You can close this tab and "
    b"go back to the terminal."
)


def sign_in(
    account: Account,
    *,
    say: Callable[[str], None],
    read_line: Callable[[], str],
    open_browser: Callable[[str], bool],
) -> Grant:
    """Run the account's flow; the tokens it ends with (not yet stored anywhere)."""
    if settings(account).device_url:
        return device_flow(account, say=say)
    return browser_flow(account, say=say, read_line=read_line, open_browser=open_browser)


def device_flow(
    account: Account, *, say: Callable[[str], None], sleep: Callable[[float], None] = time.sleep
) -> Grant:
    """RFC 8628: show a code, then poll the token endpoint until the user has entered it."""
    config = settings(account)
    try:
        answer = post_form(
            config.device_url, {"client_id": config.client_id, "scope": " ".join(config.scopes)}
        )
    except OAuth2Error as exc:
        raise explain(account, exc) from None
    device_code = answer.get("device_code")
    user_code = answer.get("user_code")
    page = answer.get("verification_uri") or answer.get("verification_url")  # Google's name
    if not all(isinstance(v, str) and v for v in (device_code, user_code, page)):
        raise CredentialError(
            f"account {account.name!r}: the device endpoint's answer lacks "
            "device_code, user_code or verification_uri"
        )
    interval = _seconds(answer.get("interval"), 5.0)
    deadline = time.monotonic() + _seconds(answer.get("expires_in"), 900.0)
    say(f"To sign in {account.username}, open {page} and enter the code {user_code}")
    while time.monotonic() < deadline:
        sleep(interval)
        try:
            return request_tokens(
                account, {"grant_type": DEVICE_GRANT, "device_code": str(device_code)}
            )
        except OAuth2Error as exc:
            if exc.code == "authorization_pending":
                continue
            if exc.code == "slow_down":  # RFC 8628 3.5: five seconds more, from now on
                interval += 5
                continue
            if exc.code in ("access_denied", "authorization_declined"):
                raise CredentialError(
                    f"account {account.name!r}: the sign-in was declined; nothing stored"
                ) from None
            if exc.code not in ("expired_token", "code_expired"):
                raise explain(account, exc) from None
            break
    raise CredentialError(
        f"account {account.name!r}: the code expired before it was "
        f"entered; run `triage login {account.name}` again"
    )


def browser_flow(
    account: Account,
    *,
    say: Callable[[str], None],
    read_line: Callable[[], str],
    open_browser: Callable[[str], bool],
    timeout: float = BROWSER_TIMEOUT,
) -> Grant:
    """Authorization code with PKCE, redirected to 127.0.0.1 or pasted by the user."""
    config = settings(account)
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(16)
    answers: queue.Queue[str] = queue.Queue()
    server = HTTPServer(("127.0.0.1", 0), _redirect_handler(answers))
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
    query = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(config.scopes),
        "state": state,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
        **_AUTHORIZE_EXTRA.get(config.provider, {}),
    }
    url = config.authorize_url + "?" + urllib.parse.urlencode(query)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        if open_browser(url):
            say(f"Your browser shows the sign-in page now. If it does not, open:\n{url}")
        else:
            say(
                f"Open this address in a browser, on any machine, and sign in:\n{url}\n"
                f"The browser then goes to an address beginning with {redirect_uri} (it may "
                "say it cannot connect). Copy that whole address and paste it here:"
            )
        # the user may paste while the redirect may still arrive: the first answer wins
        threading.Thread(target=lambda: answers.put(read_line()), daemon=True).start()
        code = _wait_for_code(account, answers, state, timeout)
    finally:
        server.shutdown()
        server.server_close()
    try:
        return request_tokens(
            account,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
        )
    except OAuth2Error as exc:
        raise explain(account, exc) from None


def _wait_for_code(account: Account, answers: queue.Queue[str], state: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = answers.get(timeout=max(0.0, deadline - time.monotonic())).strip()
        except queue.Empty:
            raise CredentialError(
                f"account {account.name!r}: no sign-in within {timeout:g} s; nothing stored"
            ) from None
        if not answer:  # nothing pasted (no terminal): keep waiting for the browser
            continue
        found = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer).query or answer))
        if "error" in found:
            detail = found.get("error_description", "")
            raise CredentialError(
                f"account {account.name!r}: the provider refused the "
                f"sign-in: {found['error']}" + (f": {detail}" if detail else "")
            )
        if found.get("state") != state or not found.get("code"):
            raise CredentialError(
                f"account {account.name!r}: that is not the address this "
                "sign-in ended at (no code, or another attempt's); run "
                f"`triage login {account.name}` again"
            )
        return found["code"]


def _redirect_handler(answers: queue.Queue[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            if "code=" not in self.path and "error=" not in self.path:
                self.send_error(404)  # a favicon, a probe: not the redirect
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(_DONE_PAGE)))
            self.end_headers()
            self.wfile.write(_DONE_PAGE)
            answers.put(self.path)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # the request line holds the code: never printed

    return Handler


def _seconds(value: object, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return default
