"""OFX (Open Financial Exchange) bank and credit-card statements, read with ``ofxparse``.

Investment accounts hold no donations; their lines are ignored and said so in the report.
A sign-on the bank refused, or a file ofxparse cannot read, refuses the import. A statement
without a currency (no CURDEF) takes the importer's ``--currency``; one that names another
currency than that is refused.

Some banks (Commonwealth Bank of Australia's OFX 1.0.2 export, ofxparse issue #81 and pull
request #143) write elements they have no value for as empty pairs: ``<CURDEF></CURDEF>``,
``<FITID></FITID>``, ``<NAME></NAME>``. OFX says an element must contain data (OFX 2.3
section 1.3.8), so before parsing an empty one is read as absent: ofxparse refuses an empty
value but takes a missing optional element in its stride. Then:
- a statement with no CURDEF whose transactions all name one currency in their own
  ``<CURRENCY><CURSYM>`` aggregate at a rate of exactly 1 to the statement's is in that
  currency (the amounts are the same in both); otherwise ``--currency`` is needed;
- a transaction without its FITID (its bank id) has none: ofxparse needs one, so it is given
  ``NOTPROVIDED``, which ``lines.items`` reads as "no bank reference" (the line's id is then
  the hash of its content, as for MT940 and CSV lines without one).
The report says when the file was read this way.

A balance given for a date but without its amount (``<BALAMT></BALAMT>`` beside a
``<DTASOF>`` that has one, as in ofxparse's ``fail_nice/empty_balance.ofx``) is not a value
left out but one lost on the way: such an export is incomplete, so it is refused rather than
trusted for its transactions.

A file must end as OFX requires: with ``</OFX>``, every aggregate (a transaction, the list of
them, the statement) closed. ofxparse reads a file cut inside a transaction, or cut in half,
as far as it goes; such a file is refused whole, so importing the whole one afterwards counts
nothing twice. OFX gives no opening balance, so its lines cannot be checked against its
balances (LEDGERBAL is as of a date, and may include lines not yet listed).
"""
from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from ofxparse import OfxParser
from ofxparse.ofxparse import OfxParserException

from ...errors import InvalidInput
from ...languages import N_
from ...money import MoneyError, check_currency, from_decimal
from ...phrases import Phrase
from ..files.rows import MalformedFile
from . import codes
from .lines import BankLine


# Any empty element but the root: an empty <OFX></OFX> is a file with nothing in it.
EMPTY_ELEMENT_RE = re.compile(rb"<(?!OFX>)([A-Za-z][A-Za-z0-9.]*)>\s*</\1>", re.IGNORECASE)
STATEMENT_RE = re.compile(rb"(<(?:CC)?STMTRS>)(.*?)(</(?:CC)?STMTRS>)", re.IGNORECASE | re.DOTALL)
TRANSACTION_RE = re.compile(rb"(<STMTTRN>)(.*?)(</STMTTRN>)", re.IGNORECASE | re.DOTALL)
CURSYM_RE = re.compile(rb"<CURSYM>\s*([A-Za-z]{3})", re.IGNORECASE)
CURRATE_RE = re.compile(rb"<CURRATE>\s*([0-9.]+)", re.IGNORECASE)
BALANCE_RE = re.compile(rb"<(LEDGERBAL|AVAILBAL)>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
EMPTY_AMOUNT_RE = re.compile(rb"<BALAMT>\s*</BALAMT>", re.IGNORECASE)
DATED_RE = re.compile(rb"<DTASOF>\s*([0-9]{8})", re.IGNORECASE)
# Aggregates, which OFX closes even in its SGML form (only elements may be left open).
AGGREGATES = ("STMTTRN", "BANKTRANLIST", "STMTRS", "CCSTMTRS", "STMTTRNRS", "CCSTMTTRNRS",
              "INVSTMTRS", "LEDGERBAL", "BANKMSGSRSV1", "CREDITCARDMSGSRSV1")
END_RE = re.compile(rb"</OFX>[\s\x00\x1a]*\Z", re.IGNORECASE)


def _check_whole(body: bytes) -> None:
    """Refuse a file that does not end as OFX requires (see the module's docstring)."""
    if END_RE.search(body) is None:
        raise MalformedFile(N_("the file does not end with </OFX>: it is cut short; export it "
                               "again from the bank"))
    for tag in AGGREGATES:
        opened = len(re.findall(rb"<%s>" % tag.encode(), body, re.IGNORECASE))
        closed = len(re.findall(rb"</%s>" % tag.encode(), body, re.IGNORECASE))
        if opened != closed:
            raise MalformedFile(N_("the file opens %(opened)s <%(tag)s> but closes %(closed)s: it "
                                   "is damaged or cut short; export it again from the bank"),
                                opened=opened, tag=tag, closed=closed)


def _without_empty_elements(body: bytes, notes: list[Phrase]) -> bytes:
    """Empty elements read as absent (see the module's docstring)."""
    if EMPTY_ELEMENT_RE.search(body) is None:
        return body
    for balance in BALANCE_RE.finditer(body):
        dated = DATED_RE.search(balance.group(2))
        if dated and EMPTY_AMOUNT_RE.search(balance.group(2)):
            kind = balance.group(1).decode("ascii").upper()
            raise MalformedFile(N_("the statement gives its balance (%(kind)s) as of %(date)s "
                                   "without an amount: the export is incomplete; export it "
                                   "again from the bank"), kind=kind,
                                date=dated.group(1).decode("ascii"))
    emptied: list[str] = []
    while (found := EMPTY_ELEMENT_RE.findall(body)):  # an aggregate may be empty once emptied
        emptied += [tag.decode("ascii").upper() for tag in found]
        body = EMPTY_ELEMENT_RE.sub(b"", body)
    notes.append(Phrase(N_("empty elements read as absent: %(elements)s"),
                        {"elements": ", ".join(dict.fromkeys(emptied))}))
    body = STATEMENT_RE.sub(lambda m: m.group(1) + _currency_from_transactions(m.group(2), notes)
                            + m.group(2) + m.group(3), body)
    return TRANSACTION_RE.sub(lambda m: m.group(1) + (
        b"" if b"<FITID>" in m.group(2).upper() else b"<FITID>NOTPROVIDED</FITID>")
        + m.group(2) + m.group(3), body)


def _currency_from_transactions(statement: bytes, notes: list[Phrase]) -> bytes:
    """A CURDEF for a statement that has none, when every transaction names the same currency
    at a rate of 1; else nothing."""
    if b"<CURDEF>" in statement.upper():
        return b""
    transactions = [m.group(2) for m in TRANSACTION_RE.finditer(statement)]
    named = {(m.group(1).upper() if (m := CURSYM_RE.search(t)) else None) for t in transactions}
    rates = set()
    for transaction in transactions:
        rate = CURRATE_RE.search(transaction)
        try:
            rates.add(Decimal(rate.group(1).decode()) if rate else None)
        except InvalidOperation:
            rates.add(None)
    if len(named) != 1 or None in named or rates != {Decimal(1)}:
        return b""
    currency = named.pop()
    notes.append(Phrase(N_("no statement currency (CURDEF): %(currency)s, which each of its "
                           "transactions names at a rate of 1"), {"currency": currency.decode()}))
    return b"<CURDEF>" + currency + b"</CURDEF>"


def parse(body: bytes, notes: list[Phrase], currency: str | None = None) -> Iterator[BankLine]:
    if b"OFX" not in body[:4096].upper():
        raise MalformedFile(N_("not an OFX file (no OFX header)"))
    _check_whole(body)
    body = _without_empty_elements(body, notes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ofx = OfxParser.parse(io.BytesIO(body))
        except OfxParserException as exc:
            raise MalformedFile(N_("not a readable OFX statement: %(error)s"),
                                error=str(exc).strip()[:200]) from None
        except Exception as exc:  # ofxparse raises bare IndexError/AttributeError on junk
            raise MalformedFile(N_("not a readable OFX statement: %(error)s"),
                                error=_problems(body) or type(exc).__name__) from None
    signon = getattr(ofx, "signon", None)
    if signon is not None and str(getattr(signon, "code", "0") or "0") not in ("0", ""):
        raise MalformedFile(N_("the bank refused the sign-on (code %(code)s: %(reason)s)"),
                            code=str(signon.code),
                            reason=getattr(signon, "message", "") or Phrase(N_("no message")))
    if currency:
        named = {(getattr(account.statement, "currency", "") or "").upper()
                 for account in getattr(ofx, "accounts", []) or []
                 if getattr(account, "statement", None) is not None} - {""}
        if named - {currency}:
            raise InvalidInput(N_("the statement is in %(named)s, not %(currency)s: leave the "
                                  "currency out (it is only for files that name none)"),
                               named=", ".join(sorted(named)), currency=currency)
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


def _lines(ofx, notes: list[Phrase], default_currency: str) -> Iterator[BankLine]:
    index = 0
    for account in getattr(ofx, "accounts", []) or []:
        statement = getattr(account, "statement", None)
        if statement is None:
            continue
        account_id = (getattr(account, "account_id", None) or "unknown").strip()
        if type(statement).__name__ == "InvestmentStatement":
            notes.append(Phrase(N_("account %(account)s is an investment account; its "
                                    "%(count)s line(s) were ignored"),
                                 {"account": account_id, "count": len(statement.transactions)}))
            continue
        currency = (getattr(statement, "currency", "") or default_currency or "").upper()
        for tx in statement.transactions:
            index += 1
            raw = repr(sorted((k, str(v)) for k, v in vars(tx).items()))
            try:
                money = from_decimal(tx.amount, check_currency(currency))
            except MoneyError as exc:
                yield BankLine.error(index, Phrase(N_("transaction %(id)s: %(error)s"),
                                                     {"id": tx.id, "error": Phrase.of(exc)}), raw)
                continue
            text = " ".join(str(v) for v in (tx.payee, tx.memo, getattr(tx, "checknum", ""))
                            if v)
            yield BankLine(line=index, account=account_id, booked=tx.date.date(), amount=money,
                           text=text, raw=raw, counterparty=(tx.payee or None),
                           bank_ref=tx.id or None, status=tx.type,
                           interest=codes.interest(credit=money.minor > 0, ofx_type=tx.type,
                                                   payee=tx.payee))
