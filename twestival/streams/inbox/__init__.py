"""The inbox: every payload from outside is archived, committed, then processed (``receive``)."""
