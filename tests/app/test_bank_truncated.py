"""A bank statement cut short (a download or copy stopped part-way) is refused whole, with a
one-line reason, and nothing of it is recorded: a line cut inside its amount, reference or
text reads as another line, so importing the whole statement afterwards would count it a
second time. Where the format carries balances, the lines must take the opening balance to the
closing one. The files are the real samples in tests/fixtures/bank, cut here."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from twestival.ledger import LedgerEntry, UnassignedTotal
from twestival.streams.inbox.archive import InboundPayload
from twestival.streams.files.rows import ImportRow

from tests.imports_helpers import FIXTURES

BANK = FIXTURES / "bank"
# mBank's statement: opening balance PLN 0.40, three credits of PLN 0.01 (bank references
# MB170119012058, ...2085, ...2121, each with a :86: block of several lines), closing 0.43.
MBANK = BANK / "mt940/mBank/mt940.sta"


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def credits(session) -> list[tuple[int, str]]:
    return [(e.amount_minor, e.currency) for e in session.scalars(
        select(LedgerEntry).where(LedgerEntry.stream == "bank").order_by(LedgerEntry.id))]


def unassigned(session, currency: str) -> int:
    return session.scalar(select(UnassignedTotal.amount_minor)
                          .where(UnassignedTotal.currency == currency)) or 0


def reason(result) -> str:
    """The one error line of a refused CLI import (progress lines go to stderr too)."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def nth(text: str, what: str, n: int) -> int:
    """Where the ``n``th (1-based) ``what`` starts."""
    return [m.start() for m in re.finditer(re.escape(what), text)][n - 1]


def mbank_cut(where: str) -> bytes:
    text = MBANK.read_text()
    third_61, third_86 = nth(text, ":61:", 3), nth(text, ":86:", 3)
    cut = {
        # in the third line's bank reference: "...//MB1701" reads as another booking
        "inside a :61: line": text.index("//MB", third_61) + len("//MB1701"),
        # in the middle of the third line's :86: block (after its second line)
        "inside a :86: block": text.index("\n", text.index("\n", third_86) + 1) + 1,
        "before the closing balance": text.index(":62F:"),
        # the closing balance cut inside its amount: "C170119PLN0,4"
        "inside the closing balance": text.index(":62F:") + len(":62F:C170119PLN0,4"),
    }[where]
    return text[:cut].encode()


REASONS = {
    "inside a :61: line": "ends without its closing balance (:62F:)",
    "inside a :86: block": "ends without its closing balance (:62F:)",
    "before the closing balance": "ends without its closing balance (:62F:)",
    "inside the closing balance": "does not add up",
}


@pytest.mark.parametrize("where", sorted(REASONS))
def test_mt940_cut_short_is_refused_then_the_whole_counts_once(app, session, seed, runner,
                                                               tmp_path, where):
    cut = tmp_path / "cut.sta"
    cut.write_bytes(mbank_cut(where))
    refused = runner.invoke(args=["import", "tw", str(cut), "--format", "mt940"])
    assert refused.exit_code == 2, refused.output
    assert REASONS[where] in reason(refused)
    session.expire_all()
    assert count(session, LedgerEntry) == 0 and count(session, ImportRow) == 0
    payload = session.scalars(select(InboundPayload)).one()   # kept verbatim, marked refused
    assert payload.status == "rejected" and REASONS[where] in payload.error
    whole = runner.invoke(args=["import", "tw", str(MBANK), "--format", "mt940"])
    assert whole.exit_code == 0, whole.output
    session.expire_all()
    assert credits(session) == [(1, "PLN")] * 3             # three credits, not four
    assert unassigned(session, "PLN") == 3


def test_mt940_lines_that_do_not_add_up_are_refused(app, session, seed, runner, tmp_path):
    """One line's amount changed (0.01 to 0.10): the closing balance no longer follows."""
    text = MBANK.read_text()
    at = nth(text, ":61:1701190119CN0,01", 2)
    changed = text[:at] + text[at:].replace("CN0,01", "CN0,10", 1)
    path = tmp_path / "changed.sta"
    path.write_text(changed)
    refused = runner.invoke(args=["import", "tw", str(path), "--format", "mt940"])
    assert refused.exit_code == 2
    assert ("does not add up: opening balance 0.40 plus its 3 line(s) is 0.52, but its closing "
            "balance (line 24) is 0.43") in refused.stderr
    assert count(session, LedgerEntry) == 0 and count(session, ImportRow) == 0


def test_mt942_cut_before_its_sums_is_refused(app, session, seed, runner, tmp_path):
    """An interim report (MT942) has no balances; it ends with its sums of debits and
    credits (:90D:, :90C:)."""
    text = (BANK / "mt940/mBank/mt942.sta").read_text()
    path = tmp_path / "cut.sta"
    path.write_text(text[:text.index(":90C:")])
    refused = runner.invoke(args=["import", "tw", str(path), "--format", "mt940"])
    assert refused.exit_code == 2
    assert "ends without its sum of credits (:90C:)" in refused.stderr
    assert count(session, LedgerEntry) == 0 and count(session, ImportRow) == 0
    whole = runner.invoke(args=["import", "tw", str(BANK / "mt940/mBank/mt942.sta"),
                                "--format", "mt940"])
    assert whole.exit_code == 0, whole.output
    session.expire_all()
    assert credits(session) == [(1, "PLN")] * 3


# checking.ofx: a dividend (USD 0.01, reported, not counted) and two debits; bank_medium.ofx:
# three debits. Reported lines are recorded as import rows, so a half-read file leaves some.
OFX_CUTS = {
    "inside the last transaction": lambda body: body[:body.rindex(b"<TRNAMT>") + 9],
    "in half": lambda body: body[:len(body) // 2],
    "before </OFX>": lambda body: body[:body.upper().rindex(b"</OFX>")],
}


@pytest.mark.parametrize("name", ["checking.ofx", "bank_medium.ofx"])
@pytest.mark.parametrize("where", sorted(OFX_CUTS))
def test_ofx_cut_short_is_refused(app, session, seed, runner, tmp_path, name, where):
    path = BANK / "ofx/ofxparse" / name
    cut = tmp_path / name
    cut.write_bytes(OFX_CUTS[where](path.read_bytes()))
    refused = runner.invoke(args=["import", "tw", str(cut), "--format", "ofx"])
    assert refused.exit_code == 2, refused.output
    assert ("does not end with </OFX>: it is cut short" in reason(refused)
            or "damaged or cut short" in reason(refused))
    session.expire_all()
    assert count(session, LedgerEntry) == 0 and count(session, ImportRow) == 0
    whole = runner.invoke(args=["import", "tw", str(path), "--format", "ofx"])
    assert whole.exit_code == 0, whole.output
    assert "Nothing" not in whole.output


def test_ofx_transaction_left_open_is_refused(app, session, seed, runner, tmp_path):
    """The file ends as it should, but a transaction in it is not closed (a piece of it
    lost): refused, naming the aggregate."""
    body = (BANK / "ofx/ofxparse/bank_medium.ofx").read_bytes()
    path = tmp_path / "open.ofx"
    path.write_bytes(body.replace(b"</STMTTRN>", b"", 1))
    refused = runner.invoke(args=["import", "tw", str(path), "--format", "ofx"])
    assert refused.exit_code == 2
    assert "opens 3 <STMTTRN> but closes 2" in refused.stderr
    assert count(session, ImportRow) == 0


def test_camt_cut_short_is_refused(app, session, seed, runner, tmp_path):
    body = (BANK / "derived/city_credits.camt053.xml").read_bytes()
    path = tmp_path / "cut.xml"
    path.write_bytes(body[:body.rindex(b"</Ntry>")])
    refused = runner.invoke(args=["import", "tw", str(path), "--format", "camt053"])
    assert refused.exit_code == 2 and "not well-formed XML" in refused.stderr
    assert count(session, LedgerEntry) == 0 and count(session, ImportRow) == 0


def test_camt_entries_that_do_not_add_up_are_refused(app, session, seed, runner, tmp_path):
    """camt_parser's valid_example.xml: previous closing balance (PRCD) EUR 33.06, four
    booked entries (-2, -3, +1, -6), closing (CLBD) 23.06. One entry's amount changed: refused."""
    body = (BANK / "camt053/camt_parser/valid_example.xml").read_bytes()
    assert b"<Cd>PRCD</Cd>" in body and b"<Cd>CLBD</Cd>" in body
    path = tmp_path / "changed.xml"
    path.write_bytes(body.replace(b'<Amt Ccy="EUR">6.00</Amt>', b'<Amt Ccy="EUR">60.00</Amt>'))
    refused = runner.invoke(args=["import", "tw", str(path), "--format", "camt053"])
    assert refused.exit_code == 2
    assert "statement 1 does not add up" in reason(refused)
    assert count(session, LedgerEntry) == 0 and count(session, ImportRow) == 0
    whole = runner.invoke(args=["import", "tw", str(BANK / "camt053/camt_parser/valid_example.xml"),
                                "--format", "camt053"])
    assert whole.exit_code == 0, whole.output


def test_the_import_form_says_why_a_cut_statement_is_refused(app, client, session, seed,
                                                             tmp_path):
    from .test_money_desk_web import CAMPAIGN_URL, csrf_token, sign_in_coordinator, upload
    sign_in_coordinator(client, session)
    token = csrf_token(client, CAMPAIGN_URL)
    cut = tmp_path / "cut.sta"
    cut.write_bytes(mbank_cut("inside a :86: block"))
    page = upload(client, CAMPAIGN_URL, cut, "mt940", token, city="", currency="")
    assert page.status_code == 422
    assert re.search(r'role="alert">Nothing was imported: the statement from line '
                     r'\d+ ends without its closing balance \(:62F:\): the file is cut short; '
                     r'export it again from the bank</p>', page.text)
    session.expire_all()
    assert count(session, LedgerEntry) == 0 and count(session, ImportRow) == 0
