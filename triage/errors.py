"""One exception tree for the whole project.

Library and socket errors are converted to these at the adapter boundary, so the CLI can map
each kind to one clear line and an exit code instead of a traceback.
"""


def one_line(exc: BaseException) -> str:
    """An error as one short line, for a log line or a ledger row."""
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:500]


class TriageError(Exception):
    """Base of every error triage raises on purpose."""

    exit_code = 1


class ConfigError(TriageError):
    """The configuration file is missing, malformed or fails validation."""

    exit_code = 2


class CredentialError(TriageError):
    """No password could be found for an account, or the keyring refused to store one."""

    exit_code = 3


class MailboxError(TriageError):
    """A mailbox (IMAP or Maildir) could not be reached or did not behave as expected."""

    exit_code = 4


class AuthenticationError(MailboxError):
    """The server rejected the credentials. Never retried automatically."""


class TLSError(MailboxError):
    """The TLS handshake failed, usually because the certificate is not trusted."""


class ConnectionLostError(MailboxError):
    """The connection dropped; the daemon reconnects with backoff."""


class MessageParseError(TriageError):
    """A message's bytes could not be turned into a Message at all."""


class ModelError(TriageError):
    """A model file is missing, corrupt or was written by an incompatible version."""

    exit_code = 5


class DraftError(TriageError):
    """A feedback draft cannot be written for this message (no usable address, no offense,
    no ask to answer)."""


class StateError(TriageError):
    """The state database is unusable."""
