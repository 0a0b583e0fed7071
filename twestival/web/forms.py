"""Form fields shared by the application form and the organiser's page editor."""
from __future__ import annotations

import functools
import zoneinfo

from babel import Locale
from babel.numbers import get_territory_currencies
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import DateTimeLocalField, SelectChoice, StringField, TextAreaField, URLField
from wtforms.validators import Length, Optional

from ..campaigns.pages import LIMITS, PageDetails


@functools.cache
def timezones() -> list[str]:
    return sorted(z for z in zoneinfo.available_timezones()
                  if "/" in z and not z.startswith(("Etc/", "posix/", "right/", "SystemV/")))


CHOOSE = ("", "—")


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms wants them: plain tuples are deprecated from 3.3."""
    return [SelectChoice(value, label) for value, label in pairs]


def _countries() -> list[str]:
    return [code for code in Locale("en").territories if len(code) == 2 and code.isalpha()]


@functools.cache
def currencies_in_use() -> tuple[str, ...]:
    """Legal tender somewhere today: no pesetas or francs in the menu."""
    return tuple(sorted({code for territory in _countries()
                         for code in get_territory_currencies(territory, tender=True)}))


def country_choices() -> list[tuple[str, str]]:
    names = Locale.parse(str(get_locale() or "en")).territories
    return [CHOOSE] + sorted(((code, names.get(code, code)) for code in _countries()),
                             key=lambda pair: pair[1])


def currency_choices() -> list[tuple[str, str]]:
    names = Locale.parse(str(get_locale() or "en")).currencies
    return [(code, f"{code} · {names.get(code, code)}") for code in currencies_in_use()]


class PageFields:
    """Mixed into a FlaskForm: the details on a city's public page."""
    venue = StringField(_l("Venue"), validators=[Optional(), Length(max=LIMITS["venue"])])
    starts_at_local = DateTimeLocalField(_l("Starts (local date and time)"),
                                         format="%Y-%m-%dT%H:%M", validators=[Optional()])
    ends_at_local = DateTimeLocalField(_l("Ends (local date and time; empty: five hours later)"),
                                       format="%Y-%m-%dT%H:%M", validators=[Optional()])
    description_md = TextAreaField(_l("Description (Markdown)"),
                                   validators=[Optional(), Length(max=LIMITS["description_md"])])
    ticket_url = URLField(_l("Ticket link"),
                          validators=[Optional(), Length(max=LIMITS["ticket_url"])])
    bank_reference = StringField(_l("Bank reference for deposits"),
                                 validators=[Optional(), Length(max=LIMITS["bank_reference"])])

    def page_details(self) -> PageDetails:
        return PageDetails(venue=self.venue.data, starts_at_local=self.starts_at_local.data,
                           ends_at_local=self.ends_at_local.data,
                           description_md=self.description_md.data,
                           ticket_url=self.ticket_url.data,
                           bank_reference=self.bank_reference.data)
