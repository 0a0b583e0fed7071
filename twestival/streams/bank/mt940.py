"""SWIFT MT940 (and MT942) statements, read with the ``mt-940`` package.

That parser is forgiving: a tag in the wrong place is folded into the previous one. So the
tag order is checked first: inside a statement's transactions (:61:/:86:) no account (:25:),
statement number (:28C:) or opening balance (:60x:) may appear before the closing balance;
a file where one does is damaged, and refused rather than half-read.

ASN Bank (ASNBNL21) puts the counterparty's IBAN, up to 34 characters, where SWIFT allows a
16-character customer reference, and the counterparty's name on the next line; the package
reads that layout with its own ``StatementASNB`` tag, which we switch on for ASN Bank's files.

A statement must be whole: each opens with its balance (:60F:, or :60M: on a later page) and
closes with one (:62F:, or :62M: where a page ends), and the opening balance plus its lines
must be the closing balance. A file cut short (inside a :61: line or a :86: block, or before
its closing balance) or one whose lines do not add up is refused, not half-read: a line cut
inside its amount reads as another amount, so importing the whole file afterwards would count
it a second time. An MT942 (interim report) has no balances; it must end with its sums of
debits and credits (:90D:, :90C:), and its lines must add up to them.

The currency comes from the balances (:60F: etc., or an MT942's :34F: floor limit); a
``--currency`` that contradicts the file refuses it.
"""
from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator
from decimal import Decimal

import mt940

from ...errors import InvalidInput
from ...languages import N_
from ...money import MoneyError, from_decimal
from ...phrases import Phrase
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
# A balance (:60F:, :62F:, ...): mark, date, currency, amount with a decimal comma (a dot from
# some exports). Some banks leave the currency out of a page's balance (raphaelm.sta's
# :62M:C020315105000,00).
BALANCE_RE = re.compile(r"([CD])([0-9]{6})([A-Z]{3})?([0-9]+(?:[,.][0-9]*)?)")
# An MT942's sum of debits or credits (:90D:, :90C:): number of lines, currency, amount.
SUM_RE = re.compile(r"([0-9]{1,5})([A-Z]{3})([0-9]+(?:[,.][0-9]*)?)")


@dataclasses.dataclass
class _Statement:
    """What is needed to tell a statement whole: its balances or, in an MT942, its sums."""
    line: int
    opening: tuple[int, Decimal] | None = None   # (line number, signed amount)
    closing: tuple[int, Decimal] | None = None
    sums: dict[str, tuple[int, int, Decimal]] = dataclasses.field(default_factory=dict)
    interim: bool = False                         # an MT942 (:34F:/:13D:)
    blocks: list[int] = dataclasses.field(default_factory=list)  # indexes of its :61: lines


def _decimal(text: str) -> Decimal:
    return Decimal(text.replace(",", "."))


def _balance(number: int, tag: str, value: str) -> tuple[int, Decimal]:
    match = BALANCE_RE.fullmatch(value.strip())
    if match is None:
        raise MalformedFile(N_("line %(line)s: the balance :%(tag)s: %(value)r cannot be read; "
                               "the file is damaged or cut short"), line=number, tag=tag,
                            value=value.strip()[:40])
    amount = _decimal(match.group(4))
    return number, -amount if match.group(1) == "D" else amount


def _decode(body: bytes) -> str:
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise MalformedFile(N_("the statement is not text"))  # pragma: no cover - latin-1 decodes all


def _scan(text: str) -> tuple[list[tuple[int, str, str]], set[str], list[_Statement]]:
    """(line number, account, raw block) of each :61: line, after checking the tag order; the
    currencies the balances name; and the statements with their balances."""
    found = []
    currencies: set[str] = set()
    statements: list[_Statement] = []
    account = ""
    in_transactions = False
    current: list[str] | None = None
    tags = 0

    def statement(number: int) -> _Statement:
        if not statements or statements[-1].closing is not None:
            statements.append(_Statement(line=number))
        return statements[-1]

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
            raise MalformedFile(N_("line %(line)s: :%(tag)s: inside the transactions of a "
                                   "statement; the file is damaged"), line=number, tag=tag)
        if tag in CLOSING_TAGS:
            in_transactions = False
        if tag in BALANCE_TAGS and (named := BALANCE_CURRENCY_RE.match(value.strip())):
            currencies.add(named.group(1))
        if tag == "25":
            account = value.strip()
        elif tag in ("60F", "60M"):
            statements.append(_Statement(line=number, opening=_balance(number, tag, value)))
        elif tag in ("62F", "62M"):
            statement(number).closing = _balance(number, tag, value)
        elif tag in ("34F", "13D"):
            if not statements or statements[-1].blocks or statements[-1].opening is not None \
                    or statements[-1].sums:
                statements.append(_Statement(line=number))
            statements[-1].interim = True
            if tag == "34F" and (limit := re.match(r"([A-Z]{3})", value.strip())):
                currencies.add(limit.group(1))
        elif tag in ("90D", "90C"):
            total = SUM_RE.fullmatch(value.strip())
            if total is None:
                raise MalformedFile(N_("line %(line)s: the sum :%(tag)s: %(value)r cannot be read; "
                                       "the file is damaged or cut short"), line=number,
                                    tag=tag, value=value.strip()[:40])
            statement(number).sums[tag] = (number, int(total.group(1)), _decimal(total.group(3)))
        elif tag == "61":
            in_transactions = True
            current = [line]
            statement(number).blocks.append(len(found))
            found.append((number, account, current))
        elif tag == "86" and found and in_transactions:
            current = found[-1][2]
            current.append(line)
    if tags == 0:
        raise MalformedFile(N_("not an MT940 statement: no :tag: lines found"))
    if not statements:
        raise MalformedFile(N_("the file holds no statement: no opening balance (:60F:), lines "
                               "(:61:) or closing balance (:62F:)"))
    return ([(number, account, "\n".join(block)) for number, account, block in found],
            currencies, statements)


def _check_whole(statements: list[_Statement], amounts: list[Decimal]) -> None:
    """Refuse a file cut short or whose lines do not add up (see the module's docstring)."""
    for statement in statements:
        lines = [amounts[index] for index in statement.blocks]
        if statement.interim:
            _check_sums(statement, lines)
            continue
        if statement.closing is None:
            raise MalformedFile(N_("the statement from line %(line)s ends without its closing "
                                   "balance (:62F:): the file is cut short; export it again "
                                   "from the bank"), line=statement.line)
        if statement.opening is None:
            raise MalformedFile(N_("the statement that closes on line %(line)s has no opening "
                                   "balance (:60F:): the file is incomplete; export it again "
                                   "from the bank"), line=statement.closing[0])
        opening, closing = statement.opening[1], statement.closing[1]
        if opening + sum(lines, Decimal(0)) != closing:
            raise MalformedFile(
                N_("the statement from line %(line)s does not add up: opening balance "
                   "%(opening)s plus its %(count)s line(s) is %(sum)s, but its closing balance "
                   "(line %(closing_line)s) is %(closing)s; the file is damaged"),
                line=statement.line, opening=str(opening), count=len(lines),
                sum=str(opening + sum(lines, Decimal(0))), closing_line=statement.closing[0],
                closing=str(closing))


def _check_sums(statement: _Statement, lines: list[Decimal]) -> None:
    for tag, side, name in (("90D", [a for a in lines if a < 0], Phrase(N_("debits"))),
                            ("90C", [a for a in lines if a > 0], Phrase(N_("credits")))):
        if tag not in statement.sums:
            raise MalformedFile(N_("the interim report (MT942) from line %(line)s ends without "
                                   "its sum of %(name)s (:%(tag)s:): the file is cut short; "
                                   "export it again from the bank"), line=statement.line,
                                name=name, tag=tag)
        number, count, total = statement.sums[tag]
        if (count, total) != (len(side), abs(sum(side, Decimal(0)))):
            raise MalformedFile(
                N_("line %(line)s: the interim report (MT942) gives %(count)s %(name)s of "
                   "%(total)s (:%(tag)s:), but holds %(held)s of %(held_total)s; the file is "
                   "damaged or cut short"), line=number, count=count, name=name,
                total=str(total), tag=tag, held=len(side),
                held_total=str(abs(sum(side, Decimal(0)))))


def parse(body: bytes, currency: str | None = None) -> Iterator[BankLine]:
    """The statement's lines; ``currency`` is used only where the file names none."""
    text = _decode(body)
    blocks, named, statements = _scan(text)
    quiet = logging.getLogger("mt940")
    level, quiet.level = quiet.level, logging.CRITICAL  # it logs every line it cannot match
    try:
        statement = mt940.parse(text, tags=ASNB_TAGS if ASNB_RE.search(text) else None,
                                options=OPTIONS)
    except Exception as exc:  # the package raises plain ValueError/RuntimeError/KeyError
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise MalformedFile(N_("not a readable MT940 statement (%(error)s)"),
                            error=f"{type(exc).__name__}: {first}") from None
    finally:
        quiet.setLevel(level)
    transactions = statement.transactions
    if len(transactions) != len(blocks):
        raise MalformedFile(N_("the file has %(lines)s :61: lines but only %(read)s could be "
                               "read"), lines=len(blocks), read=len(transactions))
    _check_whole(statements, [t.data["amount"].amount if t.data.get("amount") is not None
                              else Decimal(0) for t in transactions])
    named |= {t.data["amount"].currency for t in transactions
              if t.data.get("amount") is not None and t.data["amount"].currency}
    if currency and named - {currency}:
        raise InvalidInput(N_("the statement is in %(named)s, not %(currency)s: leave the "
                              "currency out (it is only for files that name none)"),
                           named=", ".join(sorted(named)), currency=currency)
    return _lines(transactions, blocks, currency)


def _lines(transactions, blocks, fallback: str | None) -> Iterator[BankLine]:
    for transaction, (number, account, raw) in zip(transactions, blocks):
        data = transaction.data
        amount = data.get("amount")
        booked = data.get("entry_date") or data.get("date")
        if amount is None or booked is None:
            yield BankLine.error(number, Phrase(N_("the :61: line has no amount or date")), raw)
            continue
        currency = amount.currency or fallback
        if not currency:
            yield BankLine.error(number, Phrase(N_(
                "no currency: the statement has no opening balance (:60F:) to take it from; "
                "give one (--currency)")), raw)
            continue
        try:
            money = from_decimal(amount.amount, currency)
        except MoneyError as exc:
            yield BankLine.error(number, Phrase.of(exc), raw)
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
