"""Interest and dividends the bank pays us are no one's gift: told by the bank's own codes
(OFX TRNTYPE INT/DIV, SWIFT type INT and the German GVC 805 in MT940, ISO sub-families INTR
and DVCA and the GVC in CAMT), else by the bank's posting text or, in OFX, the payee name the
bank writes; reported with the import and never counted, even when the text names a city."""
from __future__ import annotations

import io

from sqlalchemy import func, select

from twestival.campaigns.service import get_campaign
from twestival.ledger import LedgerEntry, NewEntry, UnassignedTotal, record
from twestival.money import Money
from twestival.ledger.statement import statement
from twestival.streams.files.rows import ImportRow

from tests.imports_helpers import FIXTURES, ledger_count
from .test_imports_bank import camt, city_raised, refs  # noqa: F401 (refs is a fixture)
from .test_money_desk_web import csrf_token, sign_in_coordinator

BANK = FIXTURES / "bank"
SUMMARY = "interest and dividends paid by the bank (not gifts), not counted: "


def interest_rows(session):
    return session.scalars(select(ImportRow).where(ImportRow.outcome == "interest")
                           .order_by(ImportRow.line)).all()


def entries_for(session, rows):
    return session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.external_id.in_([row.external_id for row in rows])))


def unassigned(session, currency):
    return session.scalar(select(UnassignedTotal.amount_minor)
                          .where(UnassignedTotal.currency == currency)) or 0


def test_interest_credit_in_an_mt940_statement_is_not_counted(app, session, seed, runner):
    """cmxl/mt940.sta's last statement (Bank BPH, PLN): a PLN 40.00 credit the bank marks
    "Interest credit", posting text (86 ?00) "Uznanie kwotą odsetek" (credit of interest), is
    reported, not counted; the PLN 20,000.00 credit before it still is."""
    path = BANK / "mt940/cmxl/mt940.sta"
    result = runner.invoke(args=["import", "tw", str(path), "--format", "mt940"])
    assert result.exit_code == 0, result.output
    assert SUMMARY + "1" in result.output
    assert "interest and dividends, not counted: PLN40.00" in result.output
    session.expire_all()
    rows = interest_rows(session)
    assert len(rows) == 1 and "Interest credit" in rows[0].body
    assert rows[0].meta["interest"] == "posting text"
    assert entries_for(session, rows) == 0
    assert unassigned(session, "PLN") == 20_000_00
    bank = [row for row in statement(session, get_campaign(session, "tw"))
            if row.stream == "bank" and row.currency == "PLN"]
    assert sum(row.gross for row in bank) == 20_000_00
    again = runner.invoke(args=["import", "tw", str(path), "--format", "mt940"])
    assert again.exit_code == 0 and "new money" not in again.output
    session.expire_all()
    assert unassigned(session, "PLN") == 20_000_00


def test_dividend_in_an_ofx_statement_is_not_counted(app, session, seed, runner):
    """ofxparse's checking.ofx: its one credit, USD 0.01 "DIVIDEND EARNED FOR PERIOD OF 03"
    (a credit union's dividend on a share account), is typed CREDIT; the payee name the bank
    writes says what it is."""
    path = BANK / "ofx/ofxparse/checking.ofx"
    before = ledger_count(session)
    result = runner.invoke(args=["import", "tw", str(path), "--format", "ofx"])
    assert result.exit_code == 0, result.output
    assert SUMMARY + "1" in result.output
    assert "interest and dividends, not counted: $0.01" in result.output
    assert "new money" not in result.output
    session.expire_all()
    rows = interest_rows(session)
    assert len(rows) == 1 and rows[0].meta["interest"] == "payee name"
    assert ledger_count(session) == before
    assert unassigned(session, "USD") == 0


def test_interest_counted_by_an_earlier_import_is_pointed_out(app, session, seed, runner):
    """An import from before interest was told apart counted checking.ofx's dividend as a gift
    (recorded here through the ledger as that import did): importing the statement again counts
    nothing more and says which entry still counts."""
    path = BANK / "ofx/ofxparse/checking.ofx"
    assert runner.invoke(args=["import", "tw", str(path), "--format", "ofx"]).exit_code == 0
    session.expire_all()
    row, = interest_rows(session)
    earlier = record(session, NewEntry(
        campaign_id=get_campaign(session, "tw").id, city_id=None, stream="bank",
        external_id=row.external_id, amount=Money(1, "USD"), anonymous=True)).entry.id
    session.commit()
    result = runner.invoke(args=["import", "tw", str(path), "--format", "ofx"])
    assert result.exit_code == 0, result.output
    assert (f"note: line 1: interest paid by the bank, but an earlier import counted it as a "
            f"gift (entry {earlier}), which still counts") in result.output
    assert "new money" not in result.output
    session.expire_all()
    assert unassigned(session, "USD") == 1


def mt940(*lines: str) -> bytes:
    """A German MT940 statement in EUR; each line a (:61:, :86:) pair."""
    return ("\r\n".join([":20:STARTUMS", ":25:10020030/1234567", ":28C:1/1",
                         ":60F:C260213EUR1000,00", *lines, ":62F:C260214EUR1166,33", "-"])
            + "\r\n").encode()


def test_mt940_interest_told_by_swift_type_gvc_and_posting_text(app, session, refs, runner,
                                                                tmp_path):
    """SWIFT type NINT, GVC 805 (Abschluss) and the posting text ZINSGUTSCHRIFT say interest,
    even when the text names Berlin (TW-0007); a donor writing "Habenzinsen" in the purpose
    (?20), NDIV (Dutch banks' "diversen") and a plain transfer are gifts; interest charged is a
    debit."""
    path = tmp_path / "interest.sta"
    path.write_bytes(mt940(
        ":61:2602140214C40,00NINTNONREF", ":86:Interest January TW-0007",
        ":61:2602140214C12,34NMSCNONREF", ":86:805?00ABSCHLUSS?20TW-0007",
        ":61:2602140214C9,99NTRFNONREF", ":86:166?00ZINSGUTSCHRIFT?20Festgeld TW-0007",
        ":61:2602140214C7,50NTRFNONREF", ":86:166?00GUTSCHRIFT?20Habenzinsen TW-0007",
        ":61:2602140214C25,00NDIVNONREF", ":86:TW-0007 gift",
        ":61:2602140214C100,00NTRFNONREF", ":86:166?00SEPA-GUTSCHRIFT?20Spende TW-0007",
        ":61:2602140214D28,50NINTNONREF", ":86:Sollzinsen"))
    result = runner.invoke(args=["import", "tw", str(path), "--format", "mt940"])
    assert result.exit_code == 0, result.output
    assert SUMMARY + "3" in result.output
    assert "interest and dividends, not counted: €62.33" in result.output
    assert "imported: 3" in result.output and "new money: €132.50" in result.output
    assert "debits reported, not counted: 1" in result.output
    session.expire_all()
    assert city_raised(session, "berlin") == 132_50
    assert [row.meta["interest"] for row in interest_rows(session)] == [
        "SWIFT type NINT", "GVC 805", "posting text"]
    assert entries_for(session, interest_rows(session)) == 0


def ofx(*transactions: tuple[str, str, str, str, str]) -> bytes:
    """An OFX 1.0.2 bank statement in GBP: (TRNTYPE, amount, FITID, NAME, MEMO) each."""
    lines = "".join(f"<STMTTRN><TRNTYPE>{kind}<DTPOSTED>20260214120000<TRNAMT>{amount}"
                    f"<FITID>{fitid}<NAME>{name}<MEMO>{memo}</STMTTRN>"
                    for kind, amount, fitid, name, memo in transactions)
    return ("OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\n"
            "CHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
            "<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>"
            "<DTSERVER>20260215070000<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1>"
            "<STMTTRNRS><TRNUID>0<STATUS><CODE>0<SEVERITY>INFO</STATUS><STMTRS><CURDEF>GBP"
            "<BANKACCTFROM><BANKID>400000<ACCTID>55779911<ACCTTYPE>CHECKING</BANKACCTFROM>"
            f"<BANKTRANLIST><DTSTART>20260201<DTEND>20260215{lines}</BANKTRANLIST>"
            "<LEDGERBAL><BALAMT>1000.00<DTASOF>20260215</LEDGERBAL></STMTRS></STMTTRNRS>"
            "</BANKMSGSRSV1></OFX>\n").encode()


def upload(client, session, body: bytes, fmt: str, name: str):
    sign_in_coordinator(client, session)
    url = "/coordinate/tw/imports"
    page = client.post(url, data={"csrf_token": csrf_token(client, url), "format": fmt,
                                  "mapping": "", "city": "", "currency": "",
                                  "file": (io.BytesIO(body), name)},
                       content_type="multipart/form-data")
    assert page.status_code == 200, page.text
    return page


def test_ofx_interest_and_dividends_told_by_trntype(app, client, session, refs):
    """TRNTYPE INT and DIV are the bank paying us, whatever the memo says; a donor's memo that
    says "interest" does not make a gift interest (only the bank's payee name is read)."""
    page = upload(client, session, ofx(
        ("INT", "3.21", "F-1", "CREDIT INTEREST", "TW42"),
        ("DIV", "1.50", "F-2", "ACME PLC", "Final dividend TW42"),
        ("CREDIT", "20.00", "F-3", "J SMITH", "TW42 interest from my savings"),
        ("CREDIT", "45.00", "F-4", "INTEREST GROUP FOR THE ARTS", "TW42 gift"),
        ("CREDIT", "0.42", "F-5", "INTEREST PAID", "Monthly interest"),
        ("DEBIT", "-5.00", "F-6", "BANK CHARGES", "Fee")), "ofx", "interest.ofx")
    assert "imported: 2" in page.text
    assert SUMMARY + "3" in page.text
    assert "interest and dividends, not counted: £5.13" in page.text
    assert "new money: £65.00" in page.text
    session.expire_all()
    assert city_raised(session, "london") == 65_00
    assert [row.meta["interest"] for row in interest_rows(session)] == [
        "TRNTYPE INT", "TRNTYPE DIV", "payee name"]
    assert entries_for(session, interest_rows(session)) == 0


def coded(amount, sign, ref, text, *, domain=None, family=None, subfamily=None,
          proprietary=None):
    """A CAMT entry whose bank transaction code is the only sign of what it is."""
    code = (f"<Domn><Cd>{domain}</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{subfamily}"
            "</SubFmlyCd></Fmly></Domn>" if subfamily else "")
    code += f"<Prtry><Cd>{proprietary}</Cd><Issr>ZKA</Issr></Prtry>" if proprietary else ""
    return (f'<Ntry><Amt Ccy="GBP">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd>'
            f'<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-02-14</Dt></BookgDt>'
            f'<AcctSvcrRef>{ref}</AcctSvcrRef><BkTxCd>{code}</BkTxCd><NtryDtls><TxDtls>'
            f'<RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>')


def test_camt_interest_told_by_bank_transaction_codes(app, client, session, refs):
    """Sub-family INTR (interest) and DVCA (cash dividend) and the German codes NMSC+805
    (Abschluss) and NMSC+814 (Zinsen) on credits: the bank paying us, not counted, even when the text names London (TW42). A
    transfer in (RCDT/ESCT) is a gift; interest charged (INTR on a debit) is a debit."""
    page = upload(client, session, camt(
        coded("2.75", "CRDT", "C-1", "Credit interest TW42", domain="ACMT", family="MCOP",
              subfamily="INTR"),
        coded("8.10", "CRDT", "C-2", "Dividend TW42", domain="SECU", family="CORP",
              subfamily="DVCA"),
        coded("1.05", "CRDT", "C-3", "Abschluss TW42", proprietary="NMSC+805+0000"),
        coded("0.66", "CRDT", "C-6", "TW42", proprietary="NMSC+814"),
        coded("60.00", "CRDT", "C-4", "Gift TW42 interest free", domain="PMNT", family="RCDT",
              subfamily="ESCT"),
        coded("4.00", "DBIT", "C-5", "Debit interest", domain="ACMT", family="MDOP",
              subfamily="INTR")), "camt053", "interest.camt053.xml")
    assert "imported: 1" in page.text
    assert SUMMARY + "4" in page.text
    assert "interest and dividends, not counted: £12.56" in page.text
    assert "debits reported, not counted: 1" in page.text
    session.expire_all()
    assert city_raised(session, "london") == 60_00
    assert [row.meta["interest"] for row in interest_rows(session)] == [
        "sub-family INTR", "sub-family DVCA", "GVC 805", "GVC 814"]
    assert entries_for(session, interest_rows(session)) == 0
    csv = client.get("/coordinate/tw/statement?format=csv")
    london_bank = [line for line in csv.text.splitlines() if line.startswith("London,bank,")]
    assert london_bank == [
        "London,bank,GBP,60.00,0.00,0.00,0.00,0.00,60.00,60.00,60.00,GBP,1,,,daily,0.00,0"]
