"""Imports every table module so the metadata is complete (for migrations and create_all)."""
from . import mail  # noqa: F401
from .accounts import models as accounts  # noqa: F401
from .announcements import models as announcements  # noqa: F401
from .campaigns import applications  # noqa: F401
from .campaigns import models as campaigns  # noqa: F401
from .audit import models as audit  # noqa: F401
from .ledger import models as ledger  # noqa: F401
from .live import models as live  # noqa: F401
from .planning import models as planning  # noqa: F401
from .programme import models as programme  # noqa: F401
from .streams import api  # noqa: F401
from .streams.files import history as import_history, mappings, rows  # noqa: F401
from .streams.inbox import archive, files, waiting  # noqa: F401
from .streams.paypal import events as paypal, orders as paypal_orders  # noqa: F401
from .streams.stripe import models as stripe  # noqa: F401
from .giving import giftaid, matching, receipts as gift_receipts, sandbox  # noqa: F401
