"""Mail intake: sources (IMAP, Maildir) -> intake -> validator -> store -> replies -> transports."""
