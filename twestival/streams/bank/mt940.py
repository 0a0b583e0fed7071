"""SWIFT MT940 (and MT942) statements, read with the ``mt-940`` package.

That parser is forgiving: a tag in the wrong place is folded into the previous one. So the
tag order is checked first: inside a statement's transactions (:61:/:86:) no account (:25:),
statement number (:28C:) or opening balance (:60x:) may appear before the closing balance;
a file where one does is damaged, and refused rather than half-read.

ASN Bank (ASNBNL21) puts the counterparty's IBAN, up to 34 characters, where SWIFT allows a
16-character customer reference, and the counterparty's name on the next line; the package
reads that layout with its own ``StatementASNB`` tag, which we switch on for ASN Bank's files.

The currency comes from the balances (:60F: etc.); a fragment without one takes the
importer's ``--currency``, and a ``--currency`` that contradicts the file refuses it.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import mt940

from ...errors import InvalidInput
from ...money import MoneyError, from_decimal
from ..files.rows import MalformedFile
from . import codes
from .lines import BankLine

TAG_RE = re.compile(r"^:(\d{2}[A-Z]?):(.*)$")
BALANCE_TAGS = {"60F", "60M", "62F", "62M", "64", "65"}
BALANCE_CURRENCY_RE = re.compile(r"^[CD]\d{6}([A-Z]{3})")
# ASN Bank's BIC in the SWIFT header, or its bank code in the account's IBAN.
ASNB_RE = re.compile(r"^\{1:F01ASNBNL2|^:25:NL\d\dASNB", re.MULTILINE)
ASNB_TAGS = {61: mt940.tags.StatementASNB()}
# Sign a reversal of a credit (RC) negative and read lowercase marks like uppercase ones: the
# package's 5.0-compatible default reads both as money in.
OPTIONS = mt940.Options(reversal_sign=True, case_insensitive_marks=True)
HEADER_TAGS = {"25", "28", "28C", "60F", "60M"}
CLOSING_TAGS = {"62F", "62M", "20"}


def _decode(body: bytes) -> str:
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise MalformedFile("the statement is not text")  # pragma: no cover - latin-1 decodes all


def _scan(text: str) -> tuple[list[tuple[int, str, str]], set[str]]:
    """(line number, account, raw block) of each :61: line, after checking the tag order, and
    the currencies the balances name."""
    found = []
    currencies: set[str] = set()
    account = ""
    in_transactions = False
    current: list[str] | None = None
    tags = 0
    for number, line in enumerate(text.splitlines(), 1):
        match = TAG_RE.match(line.strip("\ufeff"))
        if match is None:
            if current is not None and line.strip() and line.strip() != "-":
                current.append(line)
            continue
        tags += 1
        tag, value = match.groups()
        current = None
        if tag in HEADER_TAGS and in_transactions:
            raise MalformedFile(f"line {number}: :{tag}: inside the transactions of a "
                                "statement; the file is damaged")
        if tag in CLOSING_TAGS:
            in_transactions = False
        if tag in BALANCE_TAGS and (named := BALANCE_CURRENCY_RE.match(value.strip())):
            currencies.add(named.group(1))
        if tag == "25":
            account = value.strip()
        elif tag == "61":
            in_transactions = True
            current = [line]
            found.append((number, account, current))
        elif tag == "86" and found and in_transactions:
            current = found[-1][2]
            current.append(line)
    if tags == 0:
        raise MalformedFile("not an MT940 statement: no :tag: lines found")
    return [(number, account, "\n".join(block)) for number, account, block in found], currencies


def parse(body: bytes, currency: str | None = None) -> Iterator[BankLine]:
    """The statement's lines; ``currency`` is used only where the file names none."""
    text = _decode(body)
    blocks, named = _scan(text)
    quiet = logging.getLogger("mt940")
    level, quiet.level = quiet.level, logging.CRITICAL  # it logs every line it cannot match
    try:
        statement = mt940.parse(text, tags=ASNB_TAGS if ASNB_RE.search(text) else None,
                                options=OPTIONS)
    except Exception as exc:  # the package raises plain ValueError/RuntimeError/KeyError
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise MalformedFile(f"not a readable MT940 statement ({type(exc).__name__}: "
                            f"{first})") from None
    finally:
        quiet.setLevel(level)
    transactions = statement.transactions
    if len(transactions) != len(blocks):
        raise MalformedFile(f"the file has {len(blocks)} :61: lines but only "
                            f"{len(transactions)} could be read")
    named |= {t.data["amount"].currency for t in transactions
              if t.data.get("amount") is not None and t.data["amount"].currency}
    if currency and named - {currency}:
        raise InvalidInput(f"the statement is in {', '.join(sorted(named))}, not {currency}: "
                           "leave the currency out (it is only for files that name none)")
    return _lines(transactions, blocks, currency)


def _lines(transactions, blocks, fallback: str | None) -> Iterator[BankLine]:
    for transaction, (number, account, raw) in zip(transactions, blocks):
        data = transaction.data
        amount = data.get("amount")
        booked = data.get("entry_date") or data.get("date")
        if amount is None or booked is None:
            yield BankLine.error(number, "the :61: line has no amount or date", raw)
            continue
        currency = amount.currency or fallback
        if not currency:
            yield BankLine.error(number, "no currency: the statement has no opening balance "
                                 "(:60F:) to take it from; give one (--currency)", raw)
            continue
        try:
            money = from_decimal(amount.amount, currency)
        except MoneyError as exc:
            yield BankLine.error(number, exc.message, raw)
            continue
        text = " ".join(str(v) for v in (
            data.get("transaction_details"), data.get("extra_details"),
            data.get("customer_reference"), data.get("purpose"),
            data.get("end_to_end_reference"), data.get("posting_text")) if v)
        reference = data.get("bank_reference")
        status = str(data.get("status") or "").upper()
        # RC: a reversal of a credit (money out); RD: a reversal of a debit (money back); or a
        # return by the bank's codes (a returned transfer of ours, a returned direct debit).
        reversal = status in ("RC", "RD") or codes.is_return(
            credit=money.minor > 0, gvc=data.get("transaction_code"),
            swift_type=data.get("id"), posting_text=data.get("posting_text"))
        interest = None if reversal else codes.interest(
            credit=money.minor > 0, gvc=data.get("transaction_code"), swift_type=data.get("id"),
            posting_text=data.get("posting_text"))
        yield BankLine(
            line=number, account=account or "unknown", booked=booked, amount=money, text=text,
            raw=raw, counterparty=data.get("applicant_name"),
            bank_ref=reference, status=data.get("status"), reversal=reversal, interest=interest)
