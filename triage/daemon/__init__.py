"""The daemon: catch up, label, draft, checkpoint, IDLE, reconnect; exactly once."""
