"""OAuth2 sign-in for IMAP accounts whose providers accept no passwords (Microsoft 365, Gmail).

- `settings`: the `oauth2_*` keys of an account and the providers' presets
- `endpoint`: the one HTTP call OAuth2 needs (a form POST answered with JSON), on urllib
- `flows`: what `triage login` runs: the device authorization grant (RFC 8628) and the
  authorization-code flow with PKCE and a loopback redirect (RFC 8252, RFC 7636)
- `tokens`: access tokens at run time, refreshed before they expire, from the refresh token in
  the OS keyring or from the account's `oauth2_command`
"""
