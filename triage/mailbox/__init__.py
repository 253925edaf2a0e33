"""Mailbox adapters: where messages come from and where labels and drafts go.

`triage.mailbox.imap` talks to IMAP servers through imapclient; no imapclient type or exception
leaves that module, so the rest of triage only sees its own values and the `TriageError` tree.
"""
