"""Per-account sign-in throttling (OWASP ASVS 2.2.1): many addresses guessing one account's
password get a few tries, then a capped back-off; the owner is never locked out for good."""
from __future__ import annotations

import datetime as dt

import time_machine

from twestival.accounts import throttle
from twestival.accounts.models import Role
from twestival.extensions import db

from tests.hub_support import PASSWORD, csrf_token, link_in, login, outbox, person

EMAIL = "ada@example.org"
START = dt.datetime(2027, 2, 12, 20, 0, tzinfo=dt.timezone.utc)


def browser_at(app, address):
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def attempt(app, password, address, email=EMAIL):
    browser = browser_at(app, address)
    return browser.post("/login", data={"email": email, "password": password,
                                        "csrf_token": csrf_token(browser)})


def test_96_wrong_passwords_from_12_addresses_are_not_all_checked(app, seed):
    person(app, EMAIL, Role.organiser, city="london")
    with time_machine.travel(START, tick=False):
        statuses = [attempt(app, f"guess number {n}", f"198.51.100.{n % 12 + 1}").status_code
                    for n in range(96)]
        assert statuses.count(400) == throttle.FREE_ATTEMPTS
        assert statuses.count(429) == 96 - throttle.FREE_ATTEMPTS
        right = attempt(app, PASSWORD, "198.51.100.99")
        assert right.status_code == 429   # not even the right password, while it is closed
        page = right.get_data(as_text=True)
        assert "Too many wrong passwords for this account" in page
        assert "/forgot-password" in page


def test_the_back_off_doubles_and_is_capped_so_the_owner_gets_back_in(app, seed):
    person(app, EMAIL, Role.organiser, city="london")
    now = START
    for n in range(throttle.FREE_ATTEMPTS):
        with time_machine.travel(now, tick=False):
            assert attempt(app, "wrong password", "198.51.100.1").status_code == 400
    waits = []
    for _ in range(12):
        with time_machine.travel(now, tick=False):
            assert attempt(app, "wrong password", "198.51.100.2").status_code == 429
        with app.app_context():
            wait = throttle.wait_before_attempt(db.session, EMAIL, now=now)
        waits.append(wait)
        now += wait
        with time_machine.travel(now, tick=False):
            assert attempt(app, "wrong password", "198.51.100.3").status_code == 400
    assert waits[:4] == [throttle.BASE_DELAY * 2 ** k for k in range(4)]
    assert max(waits) == throttle.MAX_DELAY == waits[-1]
    with time_machine.travel(now + throttle.MAX_DELAY, tick=False):
        assert attempt(app, PASSWORD, "198.51.100.4").status_code == 302


def test_a_right_password_or_a_quiet_day_starts_the_count_afresh(app, seed):
    person(app, EMAIL, Role.organiser, city="london")
    with time_machine.travel(START, tick=False):
        for _ in range(throttle.FREE_ATTEMPTS - 1):
            assert attempt(app, "wrong password", "198.51.100.1").status_code == 400
        assert attempt(app, PASSWORD, "198.51.100.1").status_code == 302
        for _ in range(throttle.FREE_ATTEMPTS - 1):
            assert attempt(app, "wrong password", "198.51.100.2").status_code == 400
    with time_machine.travel(START + throttle.QUIET_PERIOD + dt.timedelta(seconds=1), tick=False):
        for _ in range(throttle.FREE_ATTEMPTS):
            assert attempt(app, "wrong password", "198.51.100.3").status_code == 400
        assert attempt(app, "wrong password", "198.51.100.3").status_code == 429


def test_setting_a_new_password_by_mail_lifts_the_throttle(app, seed):
    person(app, EMAIL, Role.organiser, city="london")
    with time_machine.travel(START, tick=False):
        for n in range(throttle.FREE_ATTEMPTS + 3):
            attempt(app, "wrong password", f"198.51.100.{n + 1}")
        assert attempt(app, PASSWORD, "198.51.100.50").status_code == 429
        owner = browser_at(app, "203.0.113.7")
        owner.post("/forgot-password", data={"email": EMAIL,
                                             "csrf_token": csrf_token(owner, "/forgot-password")})
        link = link_in(outbox(app, EMAIL)[-1].body, "/set-password/")
        new = "a brand new password"
        assert owner.post(link, data={"password": new, "confirm": new,
                                      "csrf_token": csrf_token(owner, link)}).status_code == 302
        login(browser_at(app, "203.0.113.8"), EMAIL, new)


def test_unknown_accounts_are_throttled_alike_so_nobody_learns_who_has_one(app, seed):
    person(app, EMAIL, Role.organiser, city="london")
    with time_machine.travel(START, tick=False):
        for n, email in enumerate((EMAIL, "nobody@example.org")):
            answers = [attempt(app, "wrong password", f"198.51.100.{n}", email=email)
                       for _ in range(throttle.FREE_ATTEMPTS + 1)]
            assert [a.status_code for a in answers] == [400] * throttle.FREE_ATTEMPTS + [429]
            assert "Too many wrong passwords" in answers[-1].get_data(as_text=True)


def test_the_throttle_speaks_german(app, seed):
    person(app, EMAIL, Role.organiser, city="london")
    with time_machine.travel(START, tick=False):
        for _ in range(throttle.FREE_ATTEMPTS):
            attempt(app, "wrong password", "198.51.100.1")
        browser = browser_at(app, "198.51.100.2")
        browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
        page = browser.post("/login", data={"email": EMAIL, "password": PASSWORD,
                                            "csrf_token": csrf_token(browser)})
    assert page.status_code == 429
    assert "Zu viele falsche Passwörter" in page.get_data(as_text=True)
    assert "15 Sekunden" in page.get_data(as_text=True)



def test_wrong_passwords_counted_at_the_same_moment_are_all_counted(app, seed):
    """Eight processes' worth of first failures for one account: one row, eight counted."""
    import threading

    from twestival.accounts.models import LoginThrottle

    ready = threading.Barrier(8)
    errors = []

    def fail_once():
        try:
            with app.app_context():
                ready.wait()
                throttle.record_failure(db.session, EMAIL, now=START)
                db.session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fail_once) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        row = db.session.get(LoginThrottle, throttle.account_key(EMAIL))
        assert row.failures == 8
        assert row.locked_until == START + throttle.delay_after(8)
