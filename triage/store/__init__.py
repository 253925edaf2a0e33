"""What triage keeps on disk: the state database (checkpoints, ledger), the
users' corrections and the personal model versions."""
