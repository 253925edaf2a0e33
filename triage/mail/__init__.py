"""Reading mail: the Mailbox protocol, IMAP and Maildir, the header keys, credentials."""
