"""OFX (Open Financial Exchange) bank and credit-card statements, read with ``ofxparse``.

Investment accounts hold no donations; their lines are ignored and said so in the report.
A sign-on the bank refused, or a file ofxparse cannot read, refuses the import. A statement
without a currency (no CURDEF) takes the importer's ``--currency``; one that names another
currency than that is refused.
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Iterator

from ofxparse import OfxParser
from ofxparse.ofxparse import OfxParserException

from ...errors import InvalidInput
from ...money import MoneyError, check_currency, from_decimal
from ..importing import MalformedFile
from .lines import BankLine


def parse(body: bytes, notes: list[str], currency: str | None = None) -> Iterator[BankLine]:
    if b"OFX" not in body[:4096].upper():
        raise MalformedFile("not an OFX file (no OFX header)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ofx = OfxParser.parse(io.BytesIO(body))
        except OfxParserException as exc:
            raise MalformedFile(f"not a readable OFX statement: {str(exc).strip()[:200]}") from None
        except Exception as exc:  # ofxparse raises bare IndexError/AttributeError on junk
            raise MalformedFile("not a readable OFX statement: "
                                + (_problems(body) or type(exc).__name__)) from None
    signon = getattr(ofx, "signon", None)
    if signon is not None and str(getattr(signon, "code", "0") or "0") not in ("0", ""):
        raise MalformedFile(f"the bank refused the sign-on (code {signon.code}: "
                            f"{getattr(signon, 'message', '') or 'no message'})")
    if currency:
        named = {(getattr(account.statement, "currency", "") or "").upper()
                 for account in getattr(ofx, "accounts", []) or []
                 if getattr(account, "statement", None) is not None} - {""}
        if named - {currency}:
            raise InvalidInput(f"the statement is in {', '.join(sorted(named))}, not "
                               f"{currency}: leave the currency out (it is only for files "
                               "that name none)")
    return _lines(ofx, notes, currency or "")


def _problems(body: bytes) -> str | None:
    """What a lenient parse complains of (ofxparse's own words), to say why the strict one
    failed; each warning quotes the whole statement after " for ", which is cut off."""
    try:
        lenient = OfxParser.parse(io.BytesIO(body), fail_fast=False)
    except Exception:
        return None
    found: list[str] = []
    for account in getattr(lenient, "accounts", []) or []:
        statement = getattr(account, "statement", None)
        for text in getattr(statement, "warnings", []) or []:
            found.append(" ".join(str(text).split(" for ", 1)[0].split()))
        for discarded in getattr(statement, "discarded_entries", []) or []:
            found.append(str(discarded.get("error", "")).strip())
    return "; ".join(dict.fromkeys(f for f in found if f))[:300] or None


def _lines(ofx, notes: list[str], default_currency: str) -> Iterator[BankLine]:
    index = 0
    for account in getattr(ofx, "accounts", []) or []:
        statement = getattr(account, "statement", None)
        if statement is None:
            continue
        account_id = (getattr(account, "account_id", None) or "unknown").strip()
        if type(statement).__name__ == "InvestmentStatement":
            notes.append(f"account {account_id} is an investment account; its "
                         f"{len(statement.transactions)} line(s) were ignored")
            continue
        currency = (getattr(statement, "currency", "") or default_currency or "").upper()
        for tx in statement.transactions:
            index += 1
            raw = repr(sorted((k, str(v)) for k, v in vars(tx).items()))
            try:
                money = from_decimal(tx.amount, check_currency(currency))
            except MoneyError as exc:
                yield BankLine.error(index, f"transaction {tx.id}: {exc.message}", raw)
                continue
            text = " ".join(str(v) for v in (tx.payee, tx.memo, getattr(tx, "checknum", ""))
                            if v)
            yield BankLine(line=index, account=account_id, booked=tx.date.date(), amount=money,
                           text=text, raw=raw, counterparty=(tx.payee or None),
                           bank_ref=tx.id or None, status=tx.type)
