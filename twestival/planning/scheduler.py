"""Scheduled jobs (APScheduler 3): reminders in each city's morning, mail retries and, with
Stripe on, fetching Stripe's fees.

``start(app)`` is called by ``twestival run`` / ``twestival demo`` and, in production, by the
server's post-fork hook (see docs/planning.md). With ``TWESTIVAL_SCHEDULER=off`` it does nothing:
that process never runs jobs. Running it in more than one process is safe (reminders and mail
are claimed in the database) but wasteful; run it in one.
"""
from __future__ import annotations

import atexit
import datetime as dt
import logging

from ..storage.database import utcnow
from ..extensions import db
from ..mail import retry_unsent
from .reminders import run_reminders

log = logging.getLogger(__name__)
EXTENSION = "twestival.scheduler"
REMINDER_EVERY_MINUTES = 15   # so a city's 08:00 reminder leaves by 08:15 local
MAIL_RETRY_EVERY_MINUTES = 1   # the back-off starts at one minute
STRIPE_FEES_EVERY_MINUTES = 15


def checklist_link(app, city) -> str:
    base = app.config.get("BASE_URL", "").rstrip("/")
    return f"{base}/organise/{city.campaign.slug}/{city.slug}/checklist"


def reminders_job(app, now: dt.datetime | None = None) -> int:
    """One run of the reminder job in its own transaction; returns the reminders it sent."""
    with app.app_context():
        try:
            count = run_reminders(db.session, now or utcnow(),
                                  link_for=lambda city: checklist_link(app, city))
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    if count:
        log.info("sent %d reminders", count)
    return count


def mail_retry_job(app) -> int:
    with app.app_context():
        return retry_unsent(db.engine)


def stripe_fees_job(app) -> int:
    """Fetch the Stripe fees we lack (network first, then one short write); returns how many
    were learnt."""
    from ..streams.stripe import fees as stripe_fees
    key = app.config.get("STRIPE_SECRET_KEY")
    if not key:
        return 0
    client = stripe_fees.client(key, app.config.get("STRIPE_API_BASE"))
    with app.app_context():
        try:
            payloads = stripe_fees.fetch(db.session, client)
            db.session.commit()  # archived before processing, as every inbound body is
            count = stripe_fees.process_fetched(db.session, payloads)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    if count:
        log.info("learnt %d Stripe fees", count)
    return count


def _scheduler_class():
    from .. import socketio_async_mode
    if socketio_async_mode() == "gevent":
        from apscheduler.schedulers.gevent import GeventScheduler
        return GeventScheduler
    from apscheduler.schedulers.background import BackgroundScheduler
    return BackgroundScheduler


def start(app):
    """Start this process's scheduler (once per app); returns it, or None when switched off."""
    if str(app.config.get("SCHEDULER", "on")).lower() != "on":
        log.info("TWESTIVAL_SCHEDULER is off: this process runs no scheduled jobs")
        return None
    if EXTENSION in app.extensions:
        return app.extensions[EXTENSION]
    scheduler = _scheduler_class()(
        timezone=dt.timezone.utc,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600})
    scheduler.add_job(reminders_job, "interval", args=[app], id="reminders",
                      minutes=REMINDER_EVERY_MINUTES, next_run_time=utcnow())
    scheduler.add_job(mail_retry_job, "interval", args=[app], id="mail-retry",
                      minutes=MAIL_RETRY_EVERY_MINUTES)
    if app.config.get("STRIPE_SECRET_KEY"):
        scheduler.add_job(stripe_fees_job, "interval", args=[app], id="stripe-fees",
                          minutes=STRIPE_FEES_EVERY_MINUTES)
    scheduler.start()
    app.extensions[EXTENSION] = scheduler
    atexit.register(stop, app)
    return scheduler


def stop(app) -> None:
    scheduler = app.extensions.pop(EXTENSION, None)
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=False)
