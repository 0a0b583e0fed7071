"""Imports every table module so the metadata is complete (for migrations and create_all)."""
from .accounts import models as accounts  # noqa: F401
from .campaigns import models as campaigns  # noqa: F401
from .ledger import models as ledger  # noqa: F401
from .live import models as live  # noqa: F401
from .streams import api, archive  # noqa: F401
from .streams import importing  # noqa: F401
