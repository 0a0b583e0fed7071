"""CAMT.053 (bank-to-customer statement) and CAMT.054 (debit/credit notification), any
version (.001.02 to .001.13): the entry structure we read is the same in all of them.

Parsed with defusedxml: a DOCTYPE, entity declaration or external reference refuses the file,
so nothing is expanded and nothing is fetched.

A CAMT.053 statement that gives its opening booked balance (``OPBD``, or the previous closing
one, ``PRCD``) and its closing booked balance (``CLBD``) must add up: the opening balance plus
the booked entries is the closing balance, else the file is refused as damaged. (A file cut
short is not well-formed XML, and refused as that.) CAMT.054 notifications carry no balances.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ...languages import N_
from ...money import MoneyError, from_decimal
from ...phrases import Phrase
from ..files.rows import MalformedFile, RowError
from . import codes
from .lines import BankLine

NAMESPACE_RE = re.compile(r"\{urn:iso:std:iso:20022:tech:xsd:camt\.05([34])\.001\.(\d\d)\}Document")
MAX_BYTES = 200 * 1024 * 1024


def _text(node: Element | None, path: str) -> str | None:
    if node is None:
        return None
    found = node.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _texts(node: Element, path: str) -> list[str]:
    return [el.text.strip() for el in node.iterfind(path) if el.text and el.text.strip()]


def _date(node: Element, tag: str) -> dt.date | None:
    value = _text(node, f"{{*}}{tag}/{{*}}Dt") or _text(node, f"{{*}}{tag}/{{*}}DtTm")
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise RowError(N_("%(tag)s %(value)r is not a date"), tag=tag, value=value) from None


def _amount(node: Element | None, what: Phrase):
    if node is None or not (node.text or "").strip():
        raise RowError(N_("%(what)s has no amount"), what=what)
    currency = node.get("Ccy")
    try:
        from decimal import Decimal, InvalidOperation
        value = Decimal(node.text.strip())
    except InvalidOperation:
        raise RowError(N_("%(what)s amount %(amount)r is not a number"), what=what,
                       amount=node.text.strip()[:30]) from None
    if value <= 0:
        raise RowError(N_("%(what)s amount must be positive (the sign is in CdtDbtInd)"),
                       what=what)
    try:
        return from_decimal(value, currency or "")
    except MoneyError as exc:
        raise RowError(N_("%(what)s: %(error)s"), what=what, error=Phrase.of(exc)) from None


def _party_name(tx: Element, role: str) -> str | None:
    # v2-v7 spell it RltdPties/Dbtr/Nm; v8+ wrap it as RltdPties/Dbtr/Pty/Nm.
    return (_text(tx, f"{{*}}RltdPties/{{*}}{role}/{{*}}Nm")
            or _text(tx, f"{{*}}RltdPties/{{*}}{role}/{{*}}Pty/{{*}}Nm"))


def _remittance(node: Element) -> list[str]:
    return (_texts(node, ".//{*}RmtInf/{*}Ustrd")
            + _texts(node, ".//{*}RmtInf/{*}Strd/{*}CdtrRefInf/{*}Ref")
            + _texts(node, ".//{*}RmtInf/{*}Strd/{*}AddtlRmtInf")
            + _texts(node, ".//{*}Refs/{*}EndToEndId")
            + _texts(node, ".//{*}AddtlTxInf"))


def parse(body: bytes) -> Iterator[BankLine]:
    if len(body) > MAX_BYTES:
        raise MalformedFile(N_("the statement is too large"))
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise MalformedFile(N_("the XML declares a DTD or entities, which a bank statement "
                               "never needs; refused for safety")) from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise MalformedFile(N_("not well-formed XML (line %(line)s, column %(column)s)"),
                            line=line, column=column) from None
    match = NAMESPACE_RE.fullmatch(root.tag)
    if match is None:
        raise MalformedFile(N_("not a CAMT.053/054 document (its root is %(root)r in another "
                               "namespace)"), root=root.tag.split("}")[-1])
    kind = "Stmt" if match.group(1) == "3" else "Ntfctn"
    statements = root.findall(f"./{{*}}*/{{*}}{kind}")
    if not statements:
        raise MalformedFile(N_("the document holds no statement (no %(kind)s element)"),
                            kind=kind)
    for number, statement in enumerate(statements, 1):
        _check_balances(statement, number)
    return _lines(statements)


OPENING_BALANCES = ("OPBD", "PRCD")   # opening booked; previous closing booked
CLOSING_BALANCE = "CLBD"              # closing booked


def _signed(node: Element, what: Phrase) -> Decimal:
    try:
        value = Decimal((_text(node, "{*}Amt") or "").replace(" ", ""))
    except InvalidOperation:
        raise MalformedFile(N_("%(what)s has no readable amount; the file is damaged"),
                            what=what) from None
    return -value if _text(node, "{*}CdtDbtInd") == "DBIT" else value


def _check_balances(statement: Element, number: int) -> None:
    """Refuse a statement whose booked entries do not take its opening balance to its closing
    one (see the module's docstring)."""
    balances: dict[str, Decimal] = {}
    for balance in statement.iterfind("{*}Bal"):
        kind = (_text(balance, "{*}Tp/{*}CdOrPrtry/{*}Cd") or "").upper()
        if kind in (*OPENING_BALANCES, CLOSING_BALANCE) and kind not in balances:
            balances[kind] = _signed(balance, Phrase(
                N_("statement %(number)s: the %(kind)s balance"), {"number": number, "kind": kind}))
    opening = next((balances[kind] for kind in OPENING_BALANCES if kind in balances), None)
    closing = balances.get(CLOSING_BALANCE)
    if opening is None or closing is None:
        return
    an_entry = Phrase(N_("statement %(number)s: an entry"), {"number": number})
    booked = sum((_signed(entry, an_entry)
                  for entry in statement.iterfind("{*}Ntry")
                  if (_text(entry, "{*}Sts") or _text(entry, "{*}Sts/{*}Cd") or "BOOK")
                  .upper() == "BOOK"), Decimal(0))
    if opening + booked != closing:
        raise MalformedFile(N_("statement %(number)s does not add up: opening balance "
                               "%(opening)s plus its booked entries is %(sum)s, but its closing "
                               "balance (CLBD) is %(closing)s; the file is damaged"),
                            number=number, opening=str(opening), sum=str(opening + booked),
                            closing=str(closing))


def _lines(statements: list[Element]) -> Iterator[BankLine]:
    index = 0
    for statement in statements:
        account = (_text(statement, "{*}Acct/{*}Id/{*}IBAN")
                   or _text(statement, "{*}Acct/{*}Id/{*}Othr/{*}Id") or "unknown")
        for entry in statement.iterfind("{*}Ntry"):
            index += 1
            yield from _entry(account, entry, index)


def _entry(account: str, entry: Element, index: int) -> Iterator[BankLine]:
    from xml.etree.ElementTree import tostring
    raw = tostring(entry, encoding="unicode")
    try:
        amount = _amount(entry.find("{*}Amt"), Phrase(N_("entry %(n)s"), {"n": index}))
        sign = _text(entry, "{*}CdtDbtInd")
        if sign not in ("CRDT", "DBIT"):
            raise RowError(N_("entry %(n)s: CdtDbtInd must be CRDT or DBIT, not %(sign)r"),
                           n=index, sign=sign)
        booked = _date(entry, "BookgDt") or _date(entry, "ValDt")
        if booked is None:
            raise RowError(N_("entry %(n)s: no booking or value date"), n=index)
    except RowError as exc:
        yield BankLine.error(index, exc.phrase, raw)
        return
    status = _text(entry, "{*}Sts") or _text(entry, "{*}Sts/{*}Cd")
    gvc = codes.gvc_from_proprietary(_text(entry, ".//{*}BkTxCd/{*}Prtry/{*}Cd"))
    subfamily = _text(entry, ".//{*}BkTxCd/{*}Domn/{*}Fmly/{*}SubFmlyCd")
    # A reversal, or a payment returned (RtrInf, or a return by its bank transaction code): a
    # debit takes back a credit, a credit gives back money of a debit.
    reversal = ((_text(entry, "{*}RvslInd") or "").lower() == "true"
                or entry.find(".//{*}RtrInf") is not None
                or codes.is_return(credit=sign == "CRDT", gvc=gvc, subfamily=subfamily))
    # Interest or a dividend the bank pays, by the same codes.
    interest = None if reversal else codes.interest(credit=sign == "CRDT", gvc=gvc,
                                                    subfamily=subfamily)
    own_ref = _text(entry, "{*}AcctSvcrRef") or _text(entry, "{*}NtryRef")
    signed = amount if sign == "CRDT" else -amount
    details = entry.findall("{*}NtryDtls/{*}TxDtls")
    extra = _texts(entry, "{*}AddtlNtryInf")
    # A batch booking (several transfers in one entry, each with its own amount) is split so
    # each donor's transfer can be matched to its own city.
    split = len(details) > 1 and all(_tx_amount(tx) is not None for tx in details)
    if split and sum(_tx_amount(tx).minor for tx in details) == amount.minor:
        for n, tx in enumerate(details, 1):
            part = _tx_amount(tx)
            yield BankLine(
                line=index, account=account, booked=booked,
                amount=part if sign == "CRDT" else -part,
                text=" ".join(_remittance(tx)), counterparty=_party_name(
                    tx, "Dbtr" if sign == "CRDT" else "Cdtr"),
                bank_ref=f"{own_ref}:{_text(tx, '{*}Refs/{*}AcctSvcrRef') or n}"
                if own_ref else None,
                raw=tostring(tx, encoding="unicode"), status=status, reversal=reversal,
                interest=interest)
        return
    text = " ".join(extra + _remittance(entry))
    counterparty = next((name for tx in details
                         if (name := _party_name(tx, "Dbtr" if sign == "CRDT" else "Cdtr"))),
                        None)
    yield BankLine(line=index, account=account, booked=booked, amount=signed, text=text,
                   counterparty=counterparty, bank_ref=own_ref, raw=raw, status=status,
                   reversal=reversal, interest=interest)


def _tx_amount(tx: Element):
    node = tx.find("{*}Amt")
    if node is None:
        node = tx.find("{*}AmtDtls/{*}TxAmt/{*}Amt")
    if node is None:
        return None
    try:
        return _amount(node, Phrase(N_("transaction")))
    except RowError:
        return None
