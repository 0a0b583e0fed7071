"""Shared set-up for the import tests: bank references, counting the ledger."""
from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

FIXTURES = Path(__file__).parent / "fixtures"


def set_bank_references(app, campaign="tw", **refs):
    from twestival.campaigns.service import get_campaign, get_city
    from twestival.extensions import db
    import contextlib

    from flask import has_app_context
    with contextlib.nullcontext() if has_app_context() else app.app_context():
        camp = get_campaign(db.session, campaign)
        for slug, ref in refs.items():
            get_city(db.session, camp, slug).bank_reference = ref
        db.session.commit()


def ledger_count(session) -> int:
    from twestival.ledger import LedgerEntry
    return session.scalar(select(func.count()).select_from(LedgerEntry))


def run_import(app, path, fmt, *, city=None, mapping=None, body=None, currency=None):
    """Import through the domain function the CLI and the web both call (in the test's own
    app context when it has one, so its session sees the result)."""
    import contextlib

    from flask import has_app_context

    from twestival.campaigns.service import get_campaign, get_city
    from twestival.extensions import db
    from twestival.streams.files.run import import_file
    with contextlib.nullcontext() if has_app_context() else app.app_context():
        camp = get_campaign(db.session, "tw")
        place = get_city(db.session, camp, city) if city else None
        data = body if body is not None else Path(path).read_bytes()
        return import_file(db.session, camp, data, fmt, city=place, mapping_name=mapping,
                           filename=Path(path).name if path else "upload", currency=currency)


# An MT940 balance or :61: line, read with a regex of our own (not the importer's).
_MT940_MONEY_RE = re.compile(
    r"^(?P<tag>:6[02][FM]:)(?P<mark>[CD])(?P<head>\d{6}(?:[A-Z]{3})?)(?P<amount>[\d,]+)"
    r"|^:61:\d{6}(?:\d{4}|\s{4})?(?P<line_mark>R?[CD])[A-Z]?\n?(?P<line_amount>[\d,]+)",
    re.MULTILINE)


def balanced_mt940(path) -> bytes:
    """The statement with each closing balance (:62F:/:62M:) made its opening balance plus its
    lines. Several public samples had amounts or lines edited or removed by the parser projects
    that published them (to anonymise or shorten them), so they no longer add up and are
    refused as damaged; this is how the rest of such a sample is still read."""
    from decimal import Decimal

    text = path.read_text(errors="replace").replace("\r\n", "\n")
    total = Decimal(0)

    def amount(text: str) -> Decimal:
        return Decimal(text.replace(",", "."))

    def fix(match: re.Match) -> str:
        nonlocal total
        if match.group("line_mark"):
            sign = -1 if match.group("line_mark") in ("D", "RC") else 1
            total += sign * amount(match.group("line_amount"))
            return match.group(0)
        value = amount(match.group("amount")) * (-1 if match.group("mark") == "D" else 1)
        if match.group("tag").startswith(":60"):
            total = value
            return match.group(0)
        mark = "C" if total >= 0 else "D"
        return (f"{match.group('tag')}{mark}{match.group('head')}"
                f"{format(abs(total), 'f').replace('.', ',')}")

    return _MT940_MONEY_RE.sub(fix, text).encode("latin-1", errors="replace")


def balanced_camt(path) -> bytes:
    """The CAMT.053 document with each statement's closing booked balance (CLBD) made its
    opening one (OPBD, or PRCD) plus its booked entries: the published samples' balances are
    made up and do not add up (see balanced_mt940), and such statements are refused."""
    from decimal import Decimal
    from xml.etree import ElementTree

    root = ElementTree.fromstring(path.read_bytes())
    ElementTree.register_namespace("", root.tag[1:].split("}")[0])

    def signed(node) -> Decimal:
        value = Decimal(node.find("{*}Amt").text.strip())
        return -value if node.find("{*}CdtDbtInd").text.strip() == "DBIT" else value

    for statement in root.iterfind("./{*}*/{*}Stmt"):
        balances = {b.find("{*}Tp/{*}CdOrPrtry/{*}Cd").text.strip(): b
                    for b in reversed(statement.findall("{*}Bal"))
                    if b.find("{*}Tp/{*}CdOrPrtry/{*}Cd") is not None}
        opening = balances.get("OPBD", balances.get("PRCD"))
        closing = balances.get("CLBD")
        if opening is None or closing is None:
            continue
        total = signed(opening) + sum(
            (signed(entry) for entry in statement.iterfind("{*}Ntry")
             if "".join(entry.find("{*}Sts").itertext()).strip() in ("BOOK", "")),
            Decimal(0))
        closing.find("{*}Amt").text = format(abs(total), "f")
        closing.find("{*}CdtDbtInd").text = "DBIT" if total < 0 else "CRDT"
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
