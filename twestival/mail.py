"""Outgoing mail: an outbox table, delivered over SMTP only after the writing transaction commits.

``send_mail`` only adds an ``outbox_message`` row, so mail is part of the caller's transaction: a
rollback leaves nothing to send. After the commit a listener hands the new rows to
``deliver`` on a background worker (so an announcement to hundreds of organisers does not hold
up the request that posted it), which sends them over SMTP when a server is configured
(``configure``). No database transaction is open while SMTP talks: under gevent on SQLite a
greenlet holding the write lock across network I/O would stall every other writer. Without
one the rows stay unsent in the outbox, which coordinators can read in the UI. A failed send
keeps its error and the time of its next attempt, and is retried by the scheduled
``retry_unsent`` job with exponential back-off (1, 2, 4 … minutes, at most an hour apart), so
an SMTP server that is down for an hour is not hammered and no mail is lost. Once a batch finds
the server unreachable, the rest of the batch is put back for later without a connection each:
150 announcements never wait 150 connection time-outs. Each send first *claims* its row with a
conditional UPDATE, so two processes never send the same row twice; only a process dying
between the server's "250 OK" and the row being marked sent leaves a message that is sent again
(after CLAIM_TIMEOUT), which SMTP itself cannot rule out.

No Flask here: the settings are given to ``configure`` per engine by the web layer.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from concurrent.futures import ThreadPoolExecutor
import smtplib
import ssl
import weakref
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import Engine, Integer, String, Text, insert, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .storage import aftercommit
from .storage.database import Base, UTCDateTime, utcnow
from .errors import InvalidInput

log = logging.getLogger(__name__)
PENDING_KEY = "twestival.mail.pending"
# A claim older than this belongs to a process that died mid-send; the row may be tried again.
CLAIM_TIMEOUT = dt.timedelta(minutes=10)
RETRY_AFTER = dt.timedelta(minutes=1)
BACKOFF_CAP = dt.timedelta(hours=1)
# With the back-off above, ten attempts span about four hours of an SMTP server being down.
MAX_ATTEMPTS = 10
# A message refused for itself (a bad recipient, a too-large body): the server is fine.
_MESSAGE_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                    smtplib.SMTPDataError, smtplib.SMTPNotSupportedError, ValueError)
NEVER_TRIED_LIMIT = dt.timedelta(days=1)
SMTP_TIMEOUT = 20


class OutboxMessage(Base):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_addr: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # After a failed attempt: when the retry job may try again (None: sent, or never tried).
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: doubling from RETRY_AFTER, capped."""
    return min(RETRY_AFTER * 2 ** min(max(attempts - 1, 0), 16), BACKOFF_CAP)


# Built once: building a statement costs more than running it.
# In no particular order: the ids only go to delivery, and SQLite can batch the rows only
# when their order need not be kept.
_QUEUE = insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id)


@dataclasses.dataclass(frozen=True)
class MailSettings:
    server: str | None = None
    port: int = 25
    username: str | None = None
    password: str | None = None
    sender: str = "twestival@localhost"

    @classmethod
    def from_config(cls, config) -> MailSettings:
        return cls(server=config.get("MAIL_SERVER") or None,
                   port=int(config.get("MAIL_PORT") or 25),
                   # from_prefixed_env turns a numeric-looking password into an int
                   username=_text(config.get("MAIL_USERNAME")),
                   password=_text(config.get("MAIL_PASSWORD")),
                   sender=_text(config.get("MAIL_FROM")) or "twestival@localhost")


def _text(value) -> str | None:
    return None if value in (None, "") else str(value)


_settings: weakref.WeakKeyDictionary[Engine, MailSettings] = weakref.WeakKeyDictionary()


def configure(engine: Engine, settings: MailSettings) -> None:
    """Mail written through sessions bound to ``engine`` is delivered with ``settings``."""
    _settings[engine] = settings
    aftercommit.subscribe(PENDING_KEY, _after_commit)


def _one_line(subject: str) -> str:
    # Line breaks and runs of spaces go; the no-break spaces French puts before ":" stay.
    return " ".join(_BREAKS.split(subject)).strip()


_BREAKS = re.compile(r"[^\S\u00a0\u202f]+")


def _checked(to: str) -> str:
    to = (to or "").strip()
    if "@" not in to or len(to) > 254 or any(c in to for c in "\r\n,;<>"):
        raise InvalidInput(f"{to!r} is not an email address")
    return to


def send_mail(session: Session, to: str, subject: str, body: str) -> None:
    """Queue one message in the caller's transaction; it is delivered once that commits."""
    queue_mail(session, [(to, subject, body)])


def queue_mail(session: Session, mails: Sequence[tuple[str, str, str]]) -> None:
    """Queue (to, subject, body) messages in the caller's transaction; each is checked first,
    so a bad address queues none of them."""
    queue_many(session, [(_checked(to), subject, body) for to, subject, body in mails])


def queue_many(session: Session, messages: Sequence[tuple[str, str, str]]) -> list[int]:
    """Queue (to, subject, body) messages in one statement (a night's receipts come a webhook
    group at a time, an announcement to every city at once). Addresses must be ``checked``."""
    if not messages:
        return []
    now = utcnow()
    ids = list(session.execute(_QUEUE, [
        {"to_addr": to, "subject": _one_line(subject)[:300], "body": body,
         "created_at": now, "attempts": 0} for to, subject, body in messages]).scalars())
    session.info.setdefault(PENDING_KEY, []).extend(ids)
    return ids


def checked(to: str) -> str | None:
    """The address as the outbox takes it, or None when it cannot be mailed."""
    try:
        return _checked(to)
    except InvalidInput:
        return None


def _after_commit(session: Session, ids: list[int]) -> None:
    engine = session.get_bind()
    settings = _settings.get(engine)
    if settings is None or not settings.server:
        return  # kept in the outbox
    _worker().submit(_deliver_quietly, engine, settings, ids)


def _deliver_quietly(engine: Engine, settings: MailSettings, ids: list[int]) -> None:
    try:
        deliver(engine, settings, ids)
    except Exception:  # the caller's work is committed; the retry job takes over
        log.exception("mail delivery after commit failed; the retry job will try again")


_executor: ThreadPoolExecutor | None = None


def settle(timeout: float = 60) -> None:
    """Wait until every mail handed to the background sender so far has been tried."""
    if _executor is not None:
        _executor.submit(lambda: None).result(timeout)  # one worker: runs after the rest


def _worker() -> ThreadPoolExecutor:
    """One sender per process, started on first use (under gevent its thread is a greenlet).
    Python waits for it at exit, so a command line that wrote mail sends it before it ends."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="twestival-mail")
    return _executor


def _claim(session: Session, settings: MailSettings, message_id: int,
           now: dt.datetime) -> tuple[EmailMessage, int] | None:
    """Claim a row and read it in one short transaction; the mail to send and its attempt
    number, or None when it is sent or another sender holds it."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None),
               (OutboxMessage.claimed_at.is_(None))
               | (OutboxMessage.claimed_at < now - CLAIM_TIMEOUT))
        .values(claimed_at=now, attempts=OutboxMessage.attempts + 1))
    claimed = None
    if result.rowcount == 1:
        message = session.get(OutboxMessage, message_id)
        session.refresh(message)
        claimed = _email(settings, message), message.attempts
    session.commit()
    return claimed


def _email(settings: MailSettings, message: OutboxMessage) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = message.to_addr
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(message.created_at.timestamp(), usegmt=True)
    mail["Message-ID"] = make_msgid(idstring=f"outbox{message.id}")
    mail.set_content(message.body)
    return mail


class _Connection:
    """One SMTP connection for a batch, opened on first use and reopened after a failure."""

    def __init__(self, settings: MailSettings):
        self.settings, self.smtp = settings, None

    def send(self, mail: EmailMessage) -> None:
        if self.smtp is None:
            self.smtp = self._open()
        try:
            self.smtp.send_message(mail)
        except (OSError, smtplib.SMTPServerDisconnected):
            self.close()
            raise

    def _open(self) -> smtplib.SMTP:
        settings = self.settings
        if settings.port == 465:
            smtp = smtplib.SMTP_SSL(settings.server, settings.port, timeout=SMTP_TIMEOUT,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.server, settings.port, timeout=SMTP_TIMEOUT)
        try:
            if settings.port == 587:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                self.smtp.close()
            self.smtp = None


def deliver(engine: Engine, settings: MailSettings, ids: list[int]) -> int:
    """Send the given outbox rows (those still unsent and unclaimed); returns how many went."""
    sent = 0
    down: str | None = None   # the server's failure, once it has failed in this batch
    connection = _Connection(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            for message_id in ids:
                claimed = _claim(session, settings, message_id, utcnow())
                if claimed is None:
                    continue
                mail, attempts = claimed
                error = down
                if error is None:
                    try:
                        connection.send(mail)  # no transaction is open here
                    except (OSError, smtplib.SMTPException, ValueError) as exc:
                        error = f"{type(exc).__name__}: {exc}"[:2000]
                        if not isinstance(exc, _MESSAGE_REFUSED):
                            down = error
                        log.warning("mail %s to %s failed: %s", message_id, mail["To"], error)
                if error is None:
                    values = {"sent_at": utcnow(), "error": None, "next_attempt_at": None}
                    sent += 1
                else:
                    values = {"error": error, "next_attempt_at": utcnow() + backoff(attempts)}
                session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id)
                                .values(claimed_at=None, **values))
                session.commit()
    finally:
        connection.close()
    return sent


def retry_unsent(engine: Engine, now: dt.datetime | None = None) -> int:
    """The scheduled job: try again every unsent row whose back-off has passed and that has
    not run out of attempts. Rows never tried are left a minute to their own commit's
    delivery; those kept while no server was configured are sent only if recent, so turning
    SMTP on does not mail out old history."""
    settings = _settings.get(engine)
    if settings is None or not settings.server:
        return 0
    now = now or utcnow()
    never_tried = ((OutboxMessage.attempts == 0)
                   & (OutboxMessage.created_at < now - RETRY_AFTER)
                   & (OutboxMessage.created_at > now - NEVER_TRIED_LIMIT))
    # A claim left by a process that died mid-send has no next attempt time: its claim's age
    # decides (``_claim``).
    tried = ((OutboxMessage.attempts > 0)
             & ((OutboxMessage.next_attempt_at <= now)
                | (OutboxMessage.next_attempt_at.is_(None)
                   & (OutboxMessage.created_at < now - RETRY_AFTER))))
    with Session(engine) as session:
        ids = list(session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS,
                   never_tried | tried)
            .order_by(OutboxMessage.id)))
    return deliver(engine, settings, ids) if ids else 0


def outbox_for(session: Session, campaign_id: int, limit: int = 200) -> list[OutboxMessage]:
    """The newest mail a campaign's coordinators may read: to the campaign's people, to
    those who applied to bring one of its cities in and to its donors (their receipts) —
    never to anyone else."""
    from .accounts.models import Membership, User
    from .campaigns.applications import CityApplication
    from .campaigns.models import City
    from .giving.receipts import GiftReceipt
    people = select(User.email).join(Membership).where(Membership.campaign_id == campaign_id)
    applicants = (select(CityApplication.applicant_email).join(City)
                  .where(City.campaign_id == campaign_id))
    donors = select(GiftReceipt.email).where(GiftReceipt.campaign_id == campaign_id)
    return list(session.scalars(
        select(OutboxMessage).where(or_(OutboxMessage.to_addr.in_(people),
                                        OutboxMessage.to_addr.in_(applicants),
                                        OutboxMessage.to_addr.in_(donors)))
        .order_by(OutboxMessage.id.desc()).limit(limit)))
