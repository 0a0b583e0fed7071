"""PayPal: captures, refunds and reversals (``events``), verified by ``signature``."""
