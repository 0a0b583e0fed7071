"""The mails people get from the hub, with their links. Queued in the request's transaction
(twestival.mail.send_mail), so a request that fails mails no one."""
from __future__ import annotations

from ..accounts.models import Membership, User
from ..campaigns.applications import CityApplication
from ..campaigns.models import Campaign, City
from ..extensions import db
from ..mail import send_mail
from .auth import password_link
from .links import external_url


def _account_line(user: User) -> str:
    if user.password_hash:
        return f"Sign in with your email address and password: {external_url('auth.login')}"
    return ("Choose your password with this link (valid for 7 days, once):\n"
            f"{password_link(user)}")


def invitation(user: User, membership: Membership, campaign: Campaign, city: City | None,
               inviter: User) -> None:
    where = f"{city.name} in {campaign.name}" if city else campaign.name
    if city:
        desk = external_url("organise.dashboard", campaign=campaign.slug, city=city.slug)
    else:
        desk = external_url("coordinate.dashboard", campaign=campaign.slug)
    send_mail(db.session, user.email, f"You are invited to {where}",
              f"Hello {user.name},\n\n{inviter.name} added you as {membership.role.value} for "
              f"{where}.\n\n{_account_line(user)}\n\nYour page: {desk}\n")


def application_received(application: CityApplication) -> None:
    city = application.city
    send_mail(db.session, application.applicant_email,
              f"Your application for {city.name} has arrived",
              f"Hello {application.applicant_name},\n\nthank you for offering to bring "
              f"{city.campaign.name} to {city.name}. A coordinator will look at it soon and "
              "you will hear from us by mail.\n")


def application_approved(application: CityApplication, organiser: User) -> None:
    city = application.city
    desk = external_url("organise.dashboard", campaign=city.campaign.slug, city=city.slug)
    page = external_url("public.city", campaign=city.campaign.slug, city=city.slug)
    send_mail(db.session, application.applicant_email, f"{city.name} is in: application approved",
              f"Hello {application.applicant_name},\n\n{city.name} is now part of "
              f"{city.campaign.name}, and you are its organiser.\n\n{_account_line(organiser)}"
              f"\n\nYour organiser page: {desk}\nThe public page: {page}\n")


def application_rejected(application: CityApplication) -> None:
    city = application.city
    send_mail(db.session, application.applicant_email,
              f"Your application for {city.name}",
              f"Hello {application.applicant_name},\n\nthank you for applying to bring "
              f"{city.campaign.name} to {city.name}. We cannot take it on this time:\n\n"
              f"{application.reason}\n")


def password_reset(user: User) -> None:
    send_mail(db.session, user.email, "Set a new twestival password",
              f"Hello {user.name},\n\nsomeone (we hope you) asked to reset your password.\n"
              f"Choose a new one with this link (valid for 7 days, once):\n{password_link(user)}"
              "\n\nIf it was not you, ignore this mail: your password stays as it is.\n")
