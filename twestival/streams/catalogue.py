"""Every stream the inbox knows, registered in this one place (at app creation, and by any
Flask-free caller that processes payloads). Adding a provider or a file format is one entry
here plus its own package or module."""
from __future__ import annotations

from .inbox.registry import Stream, after_processing, register


def register_all() -> None:
    from . import api, cash
    from .files import run as files
    from .paypal import events as paypal, signature as paypal_signature
    from .stripe import batch as stripe_batch, events as stripe, signature as stripe_signature

    register(Stream(stripe.STREAM, stripe.process, verify=stripe_signature.verify_delivery,
                    campaign_hint=stripe.campaign_hint, batch=stripe_batch.new_paid_checkouts))
    register(Stream(paypal.STREAM, paypal.process, verify=paypal_signature.verify_delivery,
                    campaign_hint=paypal.campaign_hint))
    register(Stream(api.STREAM, api.process))
    register(Stream(cash.STREAM, cash.process))
    for name in files.STREAMS:   # an imported file is reprocessed whole
        register(Stream(name, files.process_file))
    # Match gifts and receipts follow a gift in its own transaction.
    from ..giving import aftercare
    after_processing(aftercare.settle)
