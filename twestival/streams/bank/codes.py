"""Bank transaction codes that say a credit is no gift: a return (money of ours coming back)
or interest and dividends the bank pays (``interest``, below).

A credit can be the bank giving back money of one of our own payments: a transfer we sent that
the payee's bank rejected (German "RETOURE", SEPA "Rücküberweisung"), a direct debit charged
to us and refunded, a card payment reversed. It looks like money in, but no one gave it; it is
reported with the debits and never counted. A debit can be the return of a direct debit we
collected (the donor's bank sent it back): it takes back a credit we counted, so it is a
reversal of that credit (``reversals``).

The codes are the banks' own, not words of the remittance text (which a donor writes):
- the German "Geschäftsvorfallcode" (GVC) of MT940 field 86 and of CAMT's proprietary code
  ``NTRF+159`` (issuer ZKA/DK), from the DK's list of business transaction codes;
- SWIFT's transaction type ``RTI`` (returned item) in MT940 field 61;
- the bank's posting text (MT940 86 ``?00``), which the bank writes, e.g. "RETOURE";
- ISO 20022 bank transaction sub-family codes of a CAMT entry.
"""
from __future__ import annotations

import re

# Credits that give back money of a payment of ours.
RETURN_CREDIT_GVC = {
    "159",  # SEPA credit transfer returned (Retoure / Rücküberweisung)
    "160",  # SEPA instant credit transfer returned
    "181",  # SEPA core direct debit charged to us, credited back (Wiedergutschrift)
    "182",  # SEPA card clearing credited back
    "184",  # SEPA B2B direct debit charged to us, credited back
    "193",  # SEPA direct debit reversal
    "199",  # SEPA card clearing reversal
    "899",  # reversal (Storno) of an earlier booking
}
# Debits that send back a direct debit we collected: they undo a credit we counted.
RETURN_DEBIT_GVC = {
    "108",  # SEPA B2B direct debit returned to its creditor (Rückbelastung)
    "109",  # SEPA core direct debit returned to its creditor (Rücklastschrift)
}
# MT940 field 86 ?00, the bank's posting text, for banks that give no GVC or a generic one.
RETURN_POSTING_RE = re.compile(r"RETOURE|R(?:UE|Ü)CK(?:UE|Ü)BERW|R(?:UE|Ü)CKGABE|STORNO",
                               re.IGNORECASE)
# ISO 20022 external bank transaction codes, sub-families that mean a return or reversal.
RETURN_SUBFAMILIES = {
    "RRTN",  # reversal due to payment return
    "RPCR",  # reversal due to payment cancellation request
    "PRDD",  # reversal due to payment reversal (direct debit)
    "UPDD",  # reversal due to return/unpaid direct debit
    "ARET",  # ACH return
    "AREV",  # ACH reversal
    "UPCQ",  # unpaid cheque
    "UPCT",  # unpaid card transaction
}
ZKA_CODE_RE = re.compile(r"^[A-Z]{4}\+(\d{3})(?:\+|$)")


def gvc_from_proprietary(code: str | None) -> str | None:
    """The GVC in a CAMT proprietary code such as ``NMSC+051`` or ``NTRF+159+0000``."""
    match = ZKA_CODE_RE.match((code or "").strip())
    return match.group(1) if match else None


def is_return(*, credit: bool, gvc: str | None = None, swift_type: str | None = None,
              posting_text: str | None = None, subfamily: str | None = None) -> bool:
    """Whether the bank's codes say this line is a return (see the module's docstring)."""
    gvc = (gvc or "").strip().zfill(3) if gvc else None
    if credit:
        return (gvc in RETURN_CREDIT_GVC
                or (swift_type or "").upper()[-3:] == "RTI"
                or bool(RETURN_POSTING_RE.search(posting_text or ""))
                or (subfamily or "").upper() in RETURN_SUBFAMILIES)
    return gvc in RETURN_DEBIT_GVC or (subfamily or "").upper() in RETURN_SUBFAMILIES


# Credits the bank pays us itself: interest on the balance, a dividend (a credit union's
# "dividend" is interest on a share account, a broker's on shares held). No one gave them: they
# are reported, never counted. Told by the bank's codes where the format has them:
INTEREST_CREDIT_GVC = {
    "805",  # Abschluss: the account's periodic closing (interest, net of charges)
    "814",  # Zinsen (interest)
}
# SWIFT field 61 transaction type INT (interest). Not DIV ("dividends-warrants"): Dutch banks
# (ASN Bank in our samples) write NDIV for "diversen", their own charges and sundries.
INTEREST_SWIFT_TYPES = {"INT"}
# ISO 20022 bank transaction sub-families: INTR (interest, e.g. ACMT/ACOP/INTR) and DVCA
# (cash dividend, a corporate action).
INTEREST_SUBFAMILIES = {"INTR", "DVCA"}
# OFX transaction types (TRNTYPE): INT interest earned or paid, DIV dividend.
INTEREST_OFX_TYPES = {"INT", "DIV"}
# The bank's posting text (MT940 86 ?00) for banks that give no such code: German, Polish,
# English, French.
INTEREST_POSTING_RE = re.compile(r"ZINS|ODSET(?:EK|KI)|INTEREST|DIVIDEND|INT[EÉ]R[EÊ]TS",
                                 re.IGNORECASE)
# OFX has no posting text apart from the payee NAME, which the bank writes for its own
# credits; some banks type interest as a plain CREDIT (ofxparse's checking.ofx: "DIVIDEND EARNED
# FOR PERIOD OF 03"). Only a name that starts with what the bank says is read, never the memo,
# which can carry a donor's words.
INTEREST_PAYEE_RE = re.compile(
    r"^\s*(?:DIVIDEND|INTEREST)(?:\s+(?:EARNED|PAID|PAYMENT|CREDIT(?:ED)?|INCOME)\b|\s*$)",
    re.IGNORECASE)


def interest(*, credit: bool, gvc: str | None = None, swift_type: str | None = None,
             posting_text: str | None = None, subfamily: str | None = None,
             ofx_type: str | None = None, payee: str | None = None) -> str | None:
    """Which code says this credit is interest or a dividend the bank pays (kept with the row,
    so a coordinator can see why it was not counted), or None."""
    if not credit:
        return None
    gvc = (gvc or "").strip().zfill(3) if gvc else None
    swift = (swift_type or "").strip().upper()[-3:]
    if gvc in INTEREST_CREDIT_GVC:
        return f"GVC {gvc}"
    if swift in INTEREST_SWIFT_TYPES:
        return f"SWIFT type {swift_type.strip().upper()}"
    if (subfamily or "").strip().upper() in INTEREST_SUBFAMILIES:
        return f"sub-family {subfamily.strip().upper()}"
    if (ofx_type or "").strip().upper() in INTEREST_OFX_TYPES:
        return f"TRNTYPE {ofx_type.strip().upper()}"
    if posting_text and INTEREST_POSTING_RE.search(posting_text):
        return "posting text"
    if payee and INTEREST_PAYEE_RE.search(payee):
        return "payee name"
    return None
