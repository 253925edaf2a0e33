"""`triage filter` and `triage serve`: a mail filter answered by a served model."""
