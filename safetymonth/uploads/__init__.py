"""Upload links: files too big for mail, sent by each unit through its own link (tus)."""
