"""Who changed money or standing, when, what and why: an append-only log.

Domain operations call ``record(session, actor_id, action, ...)`` next to the change they
make, in the same transaction, so the log and the change commit or roll back together."""
from .service import ACTIONS, entries, record

__all__ = ["ACTIONS", "entries", "record"]
