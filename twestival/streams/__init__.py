"""One module per way money arrives. Each stores what it received verbatim (``archive``)
before turning it into ledger commands, so nothing is lost and everything can be replayed."""
