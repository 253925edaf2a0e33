"""The feedback drafts: what a letter may say, its words, the RFC 5322 message."""
