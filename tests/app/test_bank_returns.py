"""Credits that give back money of our own payments (returned transfers, refunded or reversed
debits) are reported with the debits and never counted as gifts; a returned direct debit we
collected undoes the credit it takes back."""
from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from twestival.ledger import EntryKind, LedgerEntry, UnassignedTotal
from twestival.ledger.statement import statement
from twestival.money import parse as parse_money
from twestival.streams.files.rows import ImportRow

from tests.imports_helpers import FIXTURES, balanced_mt940, ledger_count, run_import
from .test_imports_bank import camt, city_raised, refs  # noqa: F401 (refs is a fixture)

BANK = FIXTURES / "bank"


def mt940_with_gvc(path):
    """(mark, amount, GVC of its :86: line or None) of each :61: line, read with our own regex."""
    text = path.read_text(errors="replace")
    found = []
    for match in re.finditer(r"^:61:\d{6}(?:\d{4})?(R?[CD])[A-Z]?([\d,]+)[^\n]*\n(?::86:(\d{3}))?",
                             text, re.MULTILINE):
        found.append((match.group(1), Decimal(match.group(2).replace(",", ".")), match.group(3)))
    return found


def unassigned(session, currency="EUR"):
    return session.scalar(select(UnassignedTotal.amount_minor)
                          .where(UnassignedTotal.currency == currency)) or 0


def test_returned_transfers_in_an_mt940_statement_are_not_counted(app, session, seed, runner):
    """betterplace/sepa_mt9401.sta: 17 credits with GVC 159 "RETOURE" are transfers of ours
    that the payee's bank sent back ("Reject aus SEPA-Ueberweisungsauftrag"); only the 24 other
    credits (GVC 166 transfers in, 079 a collective credit) are money given."""
    path = BANK / "mt940/betterplace/sepa_mt9401.sta"
    lines = mt940_with_gvc(path)
    returned = [amount for mark, amount, gvc in lines if mark == "C" and gvc == "159"]
    given = [amount for mark, amount, gvc in lines if mark == "C" and gvc != "159"]
    assert (len(returned), len(given)) == (17, 24)
    # The 204.88 collective credit is reversed (RC) in the same file: it counts for nothing.
    counted = sum(given) - Decimal("204.88")
    result = runner.invoke(args=["import", "tw", str(path), "--format", "mt940"])
    assert result.exit_code == 0, result.output
    assert "returned payments of ours (money back, not gifts), not counted: 17" in result.output
    assert f"returned to us, not counted: €{sum(returned):,.2f}" in result.output
    assert f"new money: €{sum(given):,.2f}" in result.output
    session.expire_all()
    assert unassigned(session) == parse_money(str(counted), "EUR").minor
    rows = session.scalars(select(ImportRow).where(ImportRow.outcome == "returned")).all()
    assert len(rows) == 17 and all("RETOURE" in row.body for row in rows)
    assert session.scalar(select(LedgerEntry).where(
        LedgerEntry.external_id.in_([r.external_id for r in rows]))) is None
    from twestival.campaigns.service import get_campaign
    bank = [row for row in statement(session, get_campaign(session, "tw"))
            if row.stream == "bank"]
    assert sum(row.gross for row in bank) == parse_money(str(sum(given)), "EUR").minor
    assert sum(row.net for row in bank) == parse_money(str(counted), "EUR").minor
    # Importing it again counts and returns nothing twice.
    again = runner.invoke(args=["import", "tw", str(path), "--format", "mt940"])
    assert again.exit_code == 0 and "new money" not in again.output
    session.expire_all()
    assert unassigned(session) == parse_money(str(counted), "EUR").minor


def test_returned_transfers_in_the_snippet_are_not_counted(app, session, seed):
    """betterplace/sepa_snippet.sta: three of its credits are returns (GVC 159). (Its
    publisher shortened it, so its closing balances are made to add up first.)"""
    path = BANK / "mt940/betterplace/sepa_snippet.sta"
    lines = mt940_with_gvc(path)
    returned = [a for mark, a, gvc in lines if mark == "C" and gvc == "159"]
    given = [a for mark, a, gvc in lines if mark == "C" and gvc != "159"]
    assert len(returned) == 3 and len(given) == 5
    report = run_import(app, path, "mt940", body=balanced_mt940(path))
    assert report.returns == 3
    assert report.returned_by_currency == {"EUR": parse_money(str(sum(returned)), "EUR").minor}
    assert report.imported_by_currency == {"EUR": parse_money(str(sum(given)), "EUR").minor}
    assert report.debits == len([1 for mark, _, _ in lines if mark == "D"])
    session.expire_all()
    assert unassigned(session) == parse_money(str(sum(given)), "EUR").minor


def coded(amount, sign, ref, text, *, subfamily=None, proprietary=None, day="2026-02-14"):
    """A CAMT entry whose only sign of a return is its bank transaction code."""
    domain = (f"<Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>{subfamily}</SubFmlyCd>"
              "</Fmly></Domn>" if subfamily else "")
    prtry = f"<Prtry><Cd>{proprietary}</Cd><Issr>ZKA</Issr></Prtry>" if proprietary else ""
    code = f"<BkTxCd>{domain}{prtry}</BkTxCd>" if domain or prtry else ""
    return (f'<Ntry><Amt Ccy="GBP">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd>'
            f'<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>{day}</Dt></BookgDt>'
            f'<AcctSvcrRef>{ref}</AcctSvcrRef>{code}<NtryDtls><TxDtls><RmtInf><Ustrd>{text}'
            f'</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>')


def test_camt_returns_told_by_their_bank_transaction_codes(app, client, session, refs):
    """ISO sub-family RRTN (reversal due to a payment return) and the German code NTRF+159 on
    credits: money back, not counted, even when the text names a city. NTRF+109 on a debit: a
    direct debit we collected, returned: it undoes the credit it takes back."""
    import io

    from .test_money_desk_web import csrf_token, sign_in_coordinator
    body = camt(
        coded("50.00", "CRDT", "B-1", "Gift TW42", proprietary="NTRF+166"),
        coded("40.00", "CRDT", "B-2", "Direct debit collected TW42", subfamily="DMCT"),
        coded("300.00", "CRDT", "B-3", "Venue deposit TW42 returned", subfamily="RRTN"),
        coded("75.00", "CRDT", "B-4", "Printer TW42", proprietary="NTRF+159+0000"),
        coded("40.00", "DBIT", "B-5", "Direct debit collected TW42 returned MD06",
              proprietary="NTRF+109", day="2026-02-15"),
        coded("20.00", "DBIT", "B-6", "Stationery", proprietary="NTRF+116"))
    sign_in_coordinator(client, session)
    url = "/coordinate/tw/imports"
    token = csrf_token(client, url)
    page = client.post(url, data={"csrf_token": token, "format": "camt053", "mapping": "",
                                  "city": "", "currency": "",
                                  "file": (io.BytesIO(body), "returns.camt053.xml")},
                       content_type="multipart/form-data")
    assert page.status_code == 200, page.text
    assert "imported: 2" in page.text
    assert "returned payments of ours (money back, not gifts), not counted: 2" in page.text
    assert "returned to us, not counted: £375.00" in page.text
    assert "reversals of counted credits (linked to them): 1" in page.text
    assert "debits reported, not counted: 1" in page.text
    session.expire_all()
    assert city_raised(session, "london") == 50_00  # 50 + 40 - 40
    undo = session.scalar(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.reversal))
    credit = session.get(LedgerEntry, undo.reverses_id)
    assert (credit.amount_minor, undo.amount_minor) == (40_00, -40_00)
    assert "B-2" in credit.external_id
    assert ledger_count(session) == 3
    csv = client.get("/coordinate/tw/statement?format=csv")
    assert csv.status_code == 200
    london_bank = [line for line in csv.text.splitlines() if line.startswith("London,bank,")]
    assert london_bank == [
        "London,bank,GBP,90.00,0.00,0.00,-40.00,0.00,50.00,50.00,50.00,GBP,3,,,daily,0.00,0"]
