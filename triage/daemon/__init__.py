"""The daemon: catch up, label, draft, checkpoint, IDLE, reconnect; exactly once.

`supervisor.Daemon` runs a worker per account and folder (reconnects, backoff, heartbeats);
each worker keeps its folder up to date with a `folder.FolderProcessor`, which hands batches of
new mail to `batch.BatchPipeline`: classify, record, apply labels, write drafts, settle. The
rest are its parts: `clock`, `options`, `parts`, `classify`, `sent`, `drafts`, `dry_run`,
`heartbeat`, `progress`, `outcomes`; `corrections` notices the labels the user changed and
`retraining` makes personal models of them in the background.
"""
