"""Stripe: Checkout donations, refunds, disputes and fees (``events``), verified by ``signature``."""
