"""Decisions: offense scores and sender facts to a `Decision` (label, draft or
not), and the user's sender lists."""
