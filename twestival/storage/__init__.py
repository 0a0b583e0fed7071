"""The write path's plumbing, beneath the ledger and the streams: the engine and its SQLite
settings (``database``), SQLite's one write lock shared fairly (``writelock``), WAL checkpoints off
the request path (``checkpoints``), group commit (``groupcommit``), dialect-specific statements
(``sql``) and what runs after a commit (``aftercommit``). No Flask here."""
