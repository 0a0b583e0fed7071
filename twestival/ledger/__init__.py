"""The one append-only ledger every stream records into. No Flask here: functions take a
SQLAlchemy ``Session``, flush, and leave the commit to the caller (one per request or job)."""
from . import chain  # noqa: F401  (seals each transaction's new entries before commit)
from .fees import learn_fee
from .models import (CityTotal, EntryConfirmation, EntryFee, EntryKind, FxRate, LedgerEntry,
                     UnassignedTotal)
from .record import NewEntry, Recorded, assign, confirm, record, reverse
from .reconcile import Drift, reconcile

__all__ = [
    "CityTotal", "Drift", "EntryConfirmation", "EntryFee", "EntryKind", "FxRate", "LedgerEntry",
    "NewEntry", "Recorded", "UnassignedTotal", "assign", "confirm", "learn_fee", "reconcile",
    "record", "reverse",
]
