"""Guessing staff passwords: wrong passwords for one account, or from one address, pause
log-ins for a while with a page that says so; the attempts are logged without who or where."""

import logging
from datetime import timedelta

from django.test import Client
from django.utils import timezone

PASSWORD = "pw-for-tests-only"


def _login(username, password, ip):
    return Client().post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_wrong_passwords_for_one_account_pause_its_log_ins_from_anywhere(staff, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for i in range(2):
        assert _login("comms", "guess", f"198.51.100.{i + 1}").status_code == 200
    # The third wrong password is the one that pauses the account.
    assert _login("comms", "guess", "198.51.100.3").status_code == 429
    paused = _login("comms", PASSWORD, "198.51.100.50")
    assert paused.status_code == 429
    assert b"Log-in paused" in paused.content and b"15 minutes" in paused.content
    # Another account from another network is not affected.
    assert _login("customer_service", PASSWORD, "198.51.100.60").status_code == 302


def test_wrong_passwords_from_one_address_pause_log_ins_from_it(staff, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for name in ("admin", "root"):
        assert _login(name, "guess", "203.0.113.80").status_code == 200
    assert _login("manager", "guess", "203.0.113.80").status_code == 429
    assert _login("customer_service", PASSWORD, "203.0.113.80").status_code == 429
    assert _login("customer_service", PASSWORD, "203.0.113.81").status_code == 302


def test_the_pause_ends_after_the_cool_off_and_a_success_resets_the_count(staff, settings):
    from axes.models import AccessAttempt

    settings.AXES_FAILURE_LIMIT = 2
    _login("comms", "guess", "198.51.100.1")
    assert _login("comms", "guess", "198.51.100.1").status_code == 429
    assert _login("comms", PASSWORD, "198.51.100.1").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert _login("comms", PASSWORD, "198.51.100.1").status_code == 302
    # The count started again: one more wrong password does not lock.
    assert _login("comms", "guess", "198.51.100.1").status_code == 200
    assert _login("comms", PASSWORD, "198.51.100.1").status_code == 302


def test_failed_log_ins_are_logged_without_the_username_or_address(staff, settings, caplog):
    settings.AXES_FAILURE_LIMIT = 2
    with caplog.at_level(logging.INFO):
        _login("comms", "guess", "198.51.100.9")
        _login("comms", "guess", "198.51.100.9")
        _login("comms", PASSWORD, "198.51.100.9")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("axes"))
    assert "New login failure" in logged and "Locking out" in logged
    assert "comms" not in logged and "198.51.100.9" not in logged


def test_the_client_address_behind_a_proxy_is_the_one_the_trusted_header_names(staff, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"

    def via_proxy(username, password, client):
        return Client().post(
            "/accounts/login/",
            {"username": username, "password": password},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=client,
        )

    via_proxy("nobody1", "guess", "198.51.100.20")
    via_proxy("nobody2", "guess", "198.51.100.20")
    assert via_proxy("customer_service", PASSWORD, "198.51.100.20").status_code == 429
    # Everyone else behind the same proxy can still log in.
    assert via_proxy("customer_service", PASSWORD, "198.51.100.21").status_code == 302


def _back_in_time(seconds):
    from axes.models import AccessAttempt

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(seconds=seconds))


def test_wrong_passwords_slow_log_ins_down_before_the_lockout(staff, settings, caplog):
    settings.AXES_FAILURE_LIMIT = 5
    settings.LOGIN_SLOWDOWN_AFTER = 2
    settings.LOGIN_SLOWDOWN_SECONDS = 10
    assert _login("comms", "guess", "198.51.100.1").status_code == 200
    assert _login("comms", "guess", "198.51.100.1").status_code == 200
    # Two wrong: even the right password must wait, and the page says how long.
    with caplog.at_level(logging.WARNING):
        waiting = _login("comms", PASSWORD, "198.51.100.1")
    assert waiting.status_code == 429 and waiting["Retry-After"] == "10"
    assert b"wait 10 seconds before the next try" in waiting.content
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "tideover.login")
    assert "slow-down" in logged and "comms" not in logged and "198.51.100.1" not in logged
    # After the wait the right password works (and resets the count).
    _back_in_time(11)
    assert _login("comms", PASSWORD, "198.51.100.1").status_code == 302


def test_the_wait_doubles_with_each_wrong_password_then_the_lockout_takes_over(staff, settings):
    from axes.models import AccessAttempt

    settings.AXES_FAILURE_LIMIT = 4
    settings.LOGIN_SLOWDOWN_AFTER = 2
    settings.LOGIN_SLOWDOWN_SECONDS = 10
    for _ in range(2):
        _login("comms", "guess", "198.51.100.1")
    assert _login("comms", "guess", "198.51.100.1")["Retry-After"] == "10"
    # Tries refused during the wait were not counted.
    assert sum(a.failures_since_start for a in AccessAttempt.objects.all()) == 2
    _back_in_time(11)
    assert _login("comms", "guess", "198.51.100.1").status_code == 200  # third wrong one
    assert _login("comms", PASSWORD, "198.51.100.1")["Retry-After"] == "20"
    _back_in_time(21)
    assert _login("comms", "guess", "198.51.100.1").status_code == 429  # fourth: locked out
    locked = _login("comms", PASSWORD, "198.51.100.1")
    assert locked.status_code == 429 and b"Log-in paused" in locked.content


def test_the_slow_down_counts_per_account_and_per_address(staff, settings):
    settings.AXES_FAILURE_LIMIT = 10
    settings.LOGIN_SLOWDOWN_AFTER = 2
    for i in range(2):
        _login("comms", "guess", f"198.51.100.{i + 1}")
    # The account waits wherever the try comes from ...
    assert _login("comms", PASSWORD, "198.51.100.99").status_code == 429
    # ... and an address that guessed two accounts waits for any account.
    for name in ("nobody1", "nobody2"):
        _login(name, "guess", "203.0.113.7")
    assert _login("customer_service", PASSWORD, "203.0.113.7").status_code == 429
    assert _login("customer_service", PASSWORD, "203.0.113.8").status_code == 302


def test_the_admin_log_in_slows_down_too(staff, settings):
    settings.AXES_FAILURE_LIMIT = 10
    settings.LOGIN_SLOWDOWN_AFTER = 2
    for _ in range(2):
        Client().post(
            "/admin/login/", {"username": "admin", "password": "guess"}, REMOTE_ADDR="192.0.2.5"
        )
    again = Client().post(
        "/admin/login/", {"username": "admin", "password": PASSWORD}, REMOTE_ADDR="192.0.2.5"
    )
    assert again.status_code == 429 and again["Retry-After"]


def test_logging_in_to_ones_own_account_does_not_forget_guesses_at_another(staff, settings):
    """Someone with any log-in guesses the administrator's password from one address and logs
    in as themselves between guesses: the guesses still add up to the lockout."""
    settings.LOGIN_SLOWDOWN_AFTER = 0  # the lockout alone
    ip = "203.0.113.77"
    answers = []
    for round_ in range(3):
        for guess in range(2):
            answers.append(_login("administrator", f"guess-{round_}-{guess}", ip).status_code)
        assert _login("store_associate", PASSWORD, ip).status_code in (302, 429)
    assert 429 in answers
    assert _login("administrator", PASSWORD, "198.51.100.99").status_code == 429


def test_a_username_with_a_trailing_space_is_slowed_down_like_the_account(staff, settings):
    for n in range(3):
        _login("administrator", "guess", f"198.51.100.{70 + n}")
    assert _login("administrator", "guess", "198.51.100.80").status_code == 429
    assert _login("administrator ", "guess", "198.51.100.81").status_code == 429
