"""What triage keeps on disk: the state database (checkpoints, ledger), the
user's corrections and the personal model versions."""
