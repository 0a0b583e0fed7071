"""Giving: the donor's side of a gift (form amounts, covering the fees, the sandbox checkout,
receipts, QR codes). No Flask here; web/giving.py and web/donate.py are the views."""
