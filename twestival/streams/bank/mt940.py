"""SWIFT MT940 (and MT942) statements, read with the ``mt-940`` package.

That parser is forgiving: a tag in the wrong place is folded into the previous one. So the
tag order is checked first: inside a statement's transactions (:61:/:86:) no account (:25:),
statement number (:28C:) or opening balance (:60x:) may appear before the closing balance;
a file where one does is damaged, and refused rather than half-read.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import mt940

from ...money import MoneyError, from_decimal
from ..importing import MalformedFile
from .lines import BankLine

TAG_RE = re.compile(r"^:(\d{2}[A-Z]?):(.*)$")
HEADER_TAGS = {"25", "28", "28C", "60F", "60M"}
CLOSING_TAGS = {"62F", "62M", "20"}


def _decode(body: bytes) -> str:
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise MalformedFile("the statement is not text")  # pragma: no cover - latin-1 decodes all


def _scan(text: str) -> list[tuple[int, str, str]]:
    """(line number, account, raw block) of each :61: line, after checking the tag order."""
    found = []
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
    return [(number, account, "\n".join(block)) for number, account, block in found]


def parse(body: bytes) -> Iterator[BankLine]:
    text = _decode(body)
    blocks = _scan(text)
    quiet = logging.getLogger("mt940")
    level, quiet.level = quiet.level, logging.CRITICAL  # it logs every line it cannot match
    try:
        statement = mt940.parse(text)
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
    return _lines(transactions, blocks)


def _lines(transactions, blocks) -> Iterator[BankLine]:
    for transaction, (number, account, raw) in zip(transactions, blocks):
        data = transaction.data
        amount = data.get("amount")
        booked = data.get("entry_date") or data.get("date")
        if amount is None or booked is None:
            yield BankLine.error(number, "the :61: line has no amount or date", raw)
            continue
        if not amount.currency:
            yield BankLine.error(number, "no currency: the statement has no opening balance "
                                 "(:60F:) to take it from", raw)
            continue
        try:
            money = from_decimal(amount.amount, amount.currency)
        except MoneyError as exc:
            yield BankLine.error(number, exc.message, raw)
            continue
        text = " ".join(str(v) for v in (
            data.get("transaction_details"), data.get("extra_details"),
            data.get("customer_reference"), data.get("purpose"),
            data.get("end_to_end_reference"), data.get("posting_text")) if v)
        reference = data.get("bank_reference")
        yield BankLine(
            line=number, account=account or "unknown", booked=booked, amount=money, text=text,
            raw=raw, counterparty=data.get("applicant_name"),
            bank_ref=reference, status=data.get("status"),
            reversal=str(data.get("status") or "").startswith("R"))
