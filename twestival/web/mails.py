"""The mails people get from the hub, with their links, in the recipient's language (their
account's, else the one they wrote in; never the sender's). Queued in the request's transaction
(twestival.mail.send_mail), so a request that fails mails no one."""
from __future__ import annotations

from flask_babel import get_locale
from sqlalchemy import func, select

from ..accounts.models import Membership, User
from ..campaigns.applications import CityApplication
from ..campaigns.models import Campaign, City
from ..extensions import db
from ..languages import language_of, translator
from ..mail import send_mail
from .auth import password_link
from .links import external_url


def _account_line(user: User, _) -> str:
    if user.password_hash:
        return _("Sign in with your email address and password: %(link)s") % {
            "link": external_url("auth.login")}
    return _("Choose your password with this link (valid for 7 days, once):\n%(link)s") % {
        "link": password_link(user)}


def _applicant_language(application: CityApplication) -> str:
    # An application stores no language: the applicant's account, once they have one, knows it.
    stored = db.session.scalar(select(User.locale).where(
        func.lower(User.email) == application.applicant_email.lower()))
    return language_of(stored)


def invitation(user: User, membership: Membership, campaign: Campaign, city: City | None,
               inviter: User) -> None:
    _ = translator(user.locale).gettext
    where = (_("%(city)s in %(campaign)s") % {"city": city.name, "campaign": campaign.name}
             if city else campaign.name)
    if city:
        desk = external_url("organise.dashboard", campaign=campaign.slug, city=city.slug)
    else:
        desk = external_url("coordinate.dashboard", campaign=campaign.slug)
    send_mail(db.session, user.email, _("You are invited to %(where)s") % {"where": where},
              _("Hello %(name)s,\n\n%(inviter)s added you as %(role)s for %(where)s.")
              % {"name": user.name, "inviter": inviter.name, "role": _(membership.role.value),
                 "where": where}
              + f"\n\n{_account_line(user, _)}\n\n"
              + _("Your page: %(link)s") % {"link": desk} + "\n")


def application_received(application: CityApplication) -> None:
    # The applicant is the one asking: the page's language is theirs.
    _ = translator(str(get_locale())).gettext
    city = application.city
    send_mail(db.session, application.applicant_email,
              _("Your application for %(city)s has arrived") % {"city": city.name},
              _("Hello %(name)s,\n\nthank you for offering to bring %(campaign)s to %(city)s. A "
                "coordinator will look at it soon and you will hear from us by mail.")
              % {"name": application.applicant_name, "campaign": city.campaign.name,
                 "city": city.name} + "\n")


def application_approved(application: CityApplication, organiser: User) -> None:
    _ = translator(organiser.locale or _applicant_language(application)).gettext
    city = application.city
    desk = external_url("organise.dashboard", campaign=city.campaign.slug, city=city.slug)
    page = external_url("public.city", campaign=city.campaign.slug, city=city.slug)
    send_mail(db.session, application.applicant_email,
              _("%(city)s is in: application approved") % {"city": city.name},
              _("Hello %(name)s,\n\n%(city)s is now part of %(campaign)s, and you are its "
                "organiser.") % {"name": application.applicant_name, "city": city.name,
                                 "campaign": city.campaign.name}
              + f"\n\n{_account_line(organiser, _)}\n\n"
              + _("Your organiser page: %(desk)s\nThe public page: %(page)s")
              % {"desk": desk, "page": page} + "\n")


def application_rejected(application: CityApplication) -> None:
    _ = translator(_applicant_language(application)).gettext
    city = application.city
    send_mail(db.session, application.applicant_email,
              _("Your application for %(city)s") % {"city": city.name},
              _("Hello %(name)s,\n\nthank you for applying to bring %(campaign)s to %(city)s. We "
                "cannot take it on this time:") % {"name": application.applicant_name,
                                                   "campaign": city.campaign.name,
                                                   "city": city.name}
              + f"\n\n{application.reason}\n")


def password_reset(user: User) -> None:
    # Asked for by the person themselves: their account's language, else the page's.
    _ = translator(user.locale or str(get_locale())).gettext
    send_mail(db.session, user.email, _("Set a new twestival password"),
              _("Hello %(name)s,\n\nsomeone (we hope you) asked to reset your password.\nChoose a "
                "new one with this link (valid for 7 days, once):\n%(link)s\n\nIf it was not "
                "you, ignore this mail: your password stays as it is.")
              % {"name": user.name, "link": password_link(user)} + "\n")
